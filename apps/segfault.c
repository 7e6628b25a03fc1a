/* Writes to address 0: the program must die of SIGSEGV (status 139 under a shell). */
#include <stdio.h>

int main(void)
{
	/*
	 * Both the pointer and the pointee are volatile: with a pointer gcc can see is null it
	 * proves the store undefined and drops it or emits ud2 (SIGILL, not SIGSEGV).
	 */
	volatile int *volatile null = 0;

	puts("writing to address 0");
	fflush(stdout);
	*null = 42;
	puts("still alive: the write did not fault");
	return 1;
}
