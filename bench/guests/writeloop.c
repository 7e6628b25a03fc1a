/*
 * A write-heavy program for bench/syscall.ts: N write(2) calls of a 64-byte chunk to a file
 * (argv[2], default /dev/null; rewound every 4096 calls), timed with CLOCK_MONOTONIC. Prints the calls, the total time
 * and the time per call. N is argv[1] (default 200000).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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
	long n = argc > 1 ? atol(argv[1]) : 200000;
	const char *path = argc > 2 ? argv[2] : "/dev/null";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (n <= 0 || fd < 0) {
		fprintf(stderr, "usage: %s [iterations > 0] [file]\n", argv[0]);
		return 2;
	}
	char chunk[64];
	for (unsigned i = 0; i < sizeof chunk; i++)
		chunk[i] = (char)('a' + i % 26);

	double start = now_ns();
	for (long i = 0; i < n; i++) {
		if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
			perror("write");
			return 1;
		}
		if (i % 4096 == 4095)
			lseek(fd, 0, SEEK_SET); /* a file stays at 256 KiB: RAM is the guest's disk */
	}
	double elapsed = now_ns() - start;
	close(fd);
	printf("write: %ld calls of %zu bytes to %s, %.1f ms, %.1f ns per call\n", n, sizeof chunk, path, elapsed / 1e6, elapsed / n);
	return 0;
}
