/*
 * CPU-bound work with results that can be checked against Linux:
 *  - the number of primes below N (argv[1], default 1000000), with a sieve in one large
 *    malloc block (served by mmap in musl);
 *  - a checksum of a double-precision matrix product (SSE arithmetic and printf of doubles);
 *  - a malloc/free churn of many blocks of varied sizes (musl's brk and mmap paths), each
 *    filled and checked.
 * The output is deterministic: same binary, same numbers, on Linux and in the unikernel.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATRIX_N 96
#define CHURN_ROUNDS 20000
#define CHURN_SLOTS 64

static void *xmalloc(size_t size)
{
	void *p = malloc(size);
	if (!p) {
		fprintf(stderr, "compute: out of memory (%zu bytes)\n", size);
		exit(1);
	}
	return p;
}

/* A small deterministic generator (xorshift64), so both runs use the same "random" sizes. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static long count_primes_below(long n)
{
	if (n < 3)
		return 0;
	char *composite = xmalloc((size_t)n);
	memset(composite, 0, (size_t)n);
	long count = 0;
	for (long i = 2; i < n; i++) {
		if (composite[i])
			continue;
		count++;
		for (long j = i * i; j < n; j += i)
			composite[j] = 1;
	}
	free(composite);
	return count;
}

/* Rows are separate allocations on purpose: many medium-sized mallocs. */
static double **matrix_new(int n)
{
	double **m = xmalloc(n * sizeof *m);
	for (int i = 0; i < n; i++)
		m[i] = xmalloc(n * sizeof **m);
	return m;
}

static void matrix_free(double **m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i]);
	free(m);
}

static double matrix_checksum(int n)
{
	double **a = matrix_new(n), **b = matrix_new(n), **c = matrix_new(n);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++) {
			a[i][j] = (double)(i + 1) / (j + 2);
			b[i][j] = (double)(i - j) * 0.25 + 1.0 / (i + j + 1);
		}
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++) {
			double sum = 0;
			for (int k = 0; k < n; k++)
				sum += a[i][k] * b[k][j];
			c[i][j] = sum;
		}
	}
	double checksum = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			checksum += c[i][j] * ((i * n + j) % 7 + 1);
	matrix_free(a, n);
	matrix_free(b, n);
	matrix_free(c, n);
	return checksum;
}

/*
 * Keeps CHURN_SLOTS live blocks; each round frees one slot and allocates a new block of a
 * random size from 1 byte to 256 KiB (musl serves the large ones with mmap). Every block is
 * filled with a pattern that is verified before it is freed. Returns a checksum of the sizes
 * and patterns, or -1 if a block was corrupted.
 */
static long long malloc_churn(void)
{
	unsigned char *slot[CHURN_SLOTS] = {0};
	size_t size[CHURN_SLOTS] = {0};
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	long long checksum = 0;

	for (int round = 0; round < CHURN_ROUNDS + CHURN_SLOTS; round++) {
		int i = round % CHURN_SLOTS;
		if (slot[i]) {
			unsigned char pattern = (unsigned char)(size[i] * 31 + i);
			for (size_t k = 0; k < size[i]; k += 97)
				if (slot[i][k] != pattern)
					return -1;
			checksum += (long long)size[i] * pattern;
			free(slot[i]);
			slot[i] = NULL;
		}
		if (round >= CHURN_ROUNDS)
			continue; /* the last pass only frees */
		uint64_t r = next_random(&rng);
		/* mostly small blocks, one in 16 large */
		size[i] = (r & 15) == 0 ? 1 + (r >> 8) % (256 * 1024) : 1 + (r >> 8) % 2048;
		slot[i] = xmalloc(size[i]);
		memset(slot[i], (unsigned char)(size[i] * 31 + i), size[i]);
	}
	return checksum;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n < 0) {
		fprintf(stderr, "usage: %s [N >= 0]\n", argv[0]);
		return 2;
	}

	printf("primes below %ld: %ld\n", n, count_primes_below(n));
	printf("matrix %dx%d checksum: %.10e\n", MATRIX_N, MATRIX_N, matrix_checksum(MATRIX_N));

	long long churn = malloc_churn();
	if (churn < 0) {
		printf("malloc churn: a block was corrupted\n");
		return 1;
	}
	printf("malloc churn: %d blocks, checksum %lld\n", CHURN_ROUNDS, churn);
	return 0;
}
