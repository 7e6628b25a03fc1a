/*
 * What every attack program prints: "ATTACK SUCCEEDED: ..." and status 0 when the attack worked,
 * "attack refused: ...: <errno text>" and status 1 when a system call refused it. An attack that
 * a fault stops never prints its success line: the kernel ends it (SIGSEGV, status 139).
 */
#ifndef ATTACK_H
#define ATTACK_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void attack_trying(const char *what)
{
	printf("trying: %s\n", what);
	fflush(stdout);
}

static inline int attack_succeeded(const char *what)
{
	printf("ATTACK SUCCEEDED: %s\n", what);
	fflush(stdout);
	return 0;
}

static inline int attack_refused(const char *what, int err)
{
	printf("attack refused: %s: %s (errno %d)\n", what, strerror(err), err);
	fflush(stdout);
	return 1;
}
#endif
