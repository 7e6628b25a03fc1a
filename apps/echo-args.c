/*
 * Echoes what the program was started with: argc, each argv entry and each environment entry,
 * one per line. Exits with the status in $EXIT_STATUS if it is set, so tests can check that
 * the exit status reaches the host.
 */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		printf("env=%s\n", *e);

	const char *status = getenv("EXIT_STATUS");
	return status ? atoi(status) : 0;
}
