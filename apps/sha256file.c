/*
 * Prints the SHA-256 of each file named on the command line, in sha256sum's format
 * ("<hex>  <path>"). With no arguments, hashes stdin as "-". Files are read with read() in
 * chunks (no mmap) to exercise the plain file path of the kernel. A file that cannot be read
 * gets a perror-style message and the exit status becomes 1, like sha256sum.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* SHA-256 as specified in FIPS 180-4. */

struct sha256 {
	uint32_t h[8];
	uint8_t block[64];
	size_t used;       /* bytes waiting in block */
	uint64_t length;   /* total bytes hashed */
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	memcpy(s->h, h0, sizeof h0);
	s->used = 0;
	s->length = 0;
}

static void sha256_compress(uint32_t h[8], const uint8_t block[64])
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = load_be32(block + 4 * i);
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}

	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha256_update(struct sha256 *s, const uint8_t *data, size_t len)
{
	s->length += len;
	while (len > 0) {
		size_t n = sizeof s->block - s->used;
		if (n > len)
			n = len;
		memcpy(s->block + s->used, data, n);
		s->used += n;
		data += n;
		len -= n;
		if (s->used == sizeof s->block) {
			sha256_compress(s->h, s->block);
			s->used = 0;
		}
	}
}

static void sha256_final(struct sha256 *s, uint8_t digest[32])
{
	uint64_t bits = s->length * 8;
	uint8_t pad[72] = {0x80};
	/* Pad with 0x80 and zeros to 56 bytes mod 64, then the length in bits, big-endian. */
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);

	for (int i = 0; i < 8; i++) {
		digest[4 * i] = (uint8_t)(s->h[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		digest[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* Hashes everything readable from fd. Returns 0, or -1 with errno set. */
static int hash_fd(int fd, uint8_t digest[32])
{
	static uint8_t buf[64 * 1024];
	struct sha256 s;
	sha256_init(&s);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		sha256_update(&s, buf, (size_t)n);
	}
	sha256_final(&s, digest);
	return 0;
}

/*
 * Prints "<hex>  <name>". Like sha256sum, a name with a backslash or a newline is escaped
 * and the line starts with a backslash.
 */
static void print_line(const uint8_t digest[32], const char *name)
{
	int escape = strpbrk(name, "\\\n") != NULL;
	if (escape)
		putchar('\\');
	for (int i = 0; i < 32; i++)
		printf("%02x", digest[i]);
	fputs("  ", stdout);
	for (const char *p = name; *p; p++) {
		if (escape && *p == '\\')
			fputs("\\\\", stdout);
		else if (escape && *p == '\n')
			fputs("\\n", stdout);
		else
			putchar(*p);
	}
	putchar('\n');
}

/* Hashes one file (or stdin for "-") and prints its line. Returns 0 or 1 (failure). */
static int hash_path(const char *prog, const char *path)
{
	int is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? 0 : open(path, O_RDONLY);
	uint8_t digest[32];

	if (fd < 0 || hash_fd(fd, digest) < 0) {
		int err = errno;
		fflush(stdout); /* keep the order of stdout and stderr lines */
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(err));
		if (fd > 0)
			close(fd);
		return 1;
	}
	if (!is_stdin)
		close(fd);
	print_line(digest, path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prog = argc > 0 ? argv[0] : "sha256file";
	const char *slash = strrchr(prog, '/');
	if (slash)
		prog = slash + 1;

	if (argc < 2)
		return hash_path(prog, "-");

	int status = 0;
	for (int i = 1; i < argc; i++)
		status |= hash_path(prog, argv[i]);
	return status;
}
