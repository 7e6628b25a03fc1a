/*
 * Measures the cost of a trivial system call: N raw getppid() calls (argv[1], default
 * 1000000), timed with CLOCK_MONOTONIC, printed as nanoseconds per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n <= 0) {
		fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
		return 2;
	}

	double start = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid); /* raw: libc must not cache or skip the call */
	double elapsed = now_ns() - start;

	printf("getppid: %ld calls, %.1f ns per call\n", n, elapsed / n);
	return 0;
}
