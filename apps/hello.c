/* The smallest test: one line on stdout, exit status 0. */
#include <stdio.h>

int main(void)
{
	fputs("Hello from unikit!\n", stdout);
	return 0;
}
