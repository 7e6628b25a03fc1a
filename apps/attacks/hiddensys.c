/*
 * Makes a system call whose number it reads from its input (argv[1], default "41": socket), so
 * that static analysis cannot know it: the analyzed set of this program has no socket. The call
 * goes through the program's own `syscall` instruction with the number in a register loaded from
 * the parsed input. In a per-program kernel with the strict flag (high and strict) a number
 * outside the set stops the VM (SIGSYS, status 159) and the kernel log says why; elsewhere the
 * call runs: socket(AF_INET, SOCK_STREAM, 0) returns a descriptor.
 */
#include <stdint.h>
#include "attack.h"

static long raw_syscall3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	long nr = strtol(argc > 1 ? argv[1] : "41", NULL, 0);
	char what[96];
	snprintf(what, sizeof what, "syscall %ld (its number read from the input)", nr);
	attack_trying(what);
	long r = raw_syscall3(nr, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
	if (r < 0 && r > -4096)
		return attack_refused(what, (int)-r);
	snprintf(what, sizeof what, "syscall %ld (its number read from the input) returned %ld", nr, r);
	return attack_succeeded(what);
}
