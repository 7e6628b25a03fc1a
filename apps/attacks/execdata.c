/*
 * Runs code written to data memory: `mov $42, %eax; ret` copied to the stack (argv[1] "stack")
 * or the heap ("heap", from malloc), then called. With NX (medium and up) the instruction fetch
 * faults: SIGSEGV, 139. At the low level (the execdata flag: data pages executable, as on a CPU
 * without NX) the code runs and returns 42.
 */
#include <stdint.h>
#include "attack.h"

static const unsigned char code[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 }; /* mov $42,%eax; ret */

static int call(void *p)
{
	int (*f)(void);
	memcpy(&f, &p, sizeof f);
	return f();
}

int main(int argc, char **argv)
{
	const char *where = argc > 1 ? argv[1] : "stack";
	unsigned char stack_buf[64] __attribute__((aligned(16)));
	void *buf;
	if (strcmp(where, "stack") == 0) {
		buf = stack_buf;
	} else if (strcmp(where, "heap") == 0) {
		buf = malloc(64);
		if (!buf)
			return attack_refused("malloc", errno);
	} else {
		fprintf(stderr, "usage: execdata stack|heap\n");
		return 2;
	}
	memcpy(buf, code, sizeof code);
	char what[96];
	snprintf(what, sizeof what, "run code written to the %s at %p", where, buf);
	attack_trying(what);
	__asm__ volatile("" ::: "memory");
	int r = call(buf);
	snprintf(what, sizeof what, "ran code written to the %s: it returned %d", where, r);
	return r == 42 ? attack_succeeded(what) : attack_refused(what, EINVAL);
}
