/* Memory calls: mmap, munmap, mprotect, mremap, madvise, brk. */
#include "check.h"

#include <sys/mman.h>

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (PROT_READ | PROT_WRITE)

static unsigned char *map_anon(size_t len)
{
	return (unsigned char *)OK("mmap", sys(SYS_mmap, NULL, len, RW, ANON, -1, 0));
}

/* Returns 1 if all len bytes at p are c. */
static int all_bytes(const unsigned char *p, size_t len, unsigned char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void test_mmap_anon(void)
{
	unsigned char *p = map_anon(3 * PAGE);
	if (p == MAP_FAILED)
		return;
	EQ("mmap", (uintptr_t)p % PAGE, 0);
	EXPECT("mmap", all_bytes(p, 3 * PAGE, 0));
	memset(p, 0xab, 3 * PAGE);

	/* MAP_FIXED replaces the middle page with a fresh zeroed one and keeps the others. */
	EQ("mmap", sys(SYS_mmap, p + PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0), (long)(p + PAGE));
	EXPECT("mmap", all_bytes(p + PAGE, PAGE, 0));
	EXPECT("mmap", all_bytes(p, PAGE, 0xab) && all_bytes(p + 2 * PAGE, PAGE, 0xab));

	ERR("mmap", sys(SYS_mmap, NULL, 0, RW, ANON, -1, 0), EINVAL);
	ERR("mmap", sys(SYS_mmap, NULL, PAGE, RW, MAP_ANONYMOUS, -1, 0), EINVAL);
	ERR("mmap", sys(SYS_mmap, p + 1, PAGE, RW, ANON | MAP_FIXED, -1, 0), EINVAL);
	ERR("mmap", sys(SYS_mmap, NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);

	EQ("munmap", sys(SYS_munmap, p, 3 * PAGE), 0);
	EQ("munmap", sys(SYS_munmap, p, 3 * PAGE), 0); /* nothing mapped there: still fine */
	ERR("munmap", sys(SYS_munmap, p + 1, PAGE), EINVAL);
	ERR("munmap", sys(SYS_munmap, p, 0), EINVAL);
}

static unsigned char file_byte(size_t i)
{
	return (unsigned char)(i * 7 + 3);
}

static void test_mmap_file(void)
{
	/* Two and a half pages: the rest of the last mapped page must read as zeros. */
	static unsigned char data[2 * PAGE + PAGE / 2];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = file_byte(i);
	const char *path = work_path("mapped");
	if (make_file(path, data, sizeof data) < 0)
		return;
	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));

	unsigned char *m = (unsigned char *)OK("mmap", sys(SYS_mmap, NULL, 3 * PAGE, RW,
								  MAP_PRIVATE, fd, 0));
	unsigned char *m1 = (unsigned char *)OK("mmap", sys(SYS_mmap, NULL, PAGE, PROT_READ,
								   MAP_PRIVATE, fd, PAGE));
	ERR("mmap", sys(SYS_mmap, NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100), EINVAL);
	/* The mappings stay valid after the descriptor is closed. */
	sys(SYS_close, fd);

	if (m != MAP_FAILED) {
		EXPECT("mmap", memcmp(m, data, sizeof data) == 0);
		EXPECT("mmap", all_bytes(m + sizeof data, 3 * PAGE - sizeof data, 0));
		/* Writes to a private mapping are not seen in the file. */
		m[0] ^= 0xff;
		unsigned char first = 0;
		fd = (int)sys(SYS_open, path, O_RDONLY);
		EQ("mmap", sys(SYS_pread64, fd, &first, 1, 0), 1);
		EQ("mmap", first, file_byte(0));
		sys(SYS_close, fd);
		sys(SYS_munmap, m, 3 * PAGE);
	}
	if (m1 != MAP_FAILED) {
		EXPECT("mmap", memcmp(m1, data + PAGE, PAGE) == 0);
		sys(SYS_munmap, m1, PAGE);
	}
	unlink(path);
}

static void test_mprotect(void)
{
	unsigned char *p = map_anon(2 * PAGE);
	if (p == MAP_FAILED)
		return;
	p[0] = 1;
	EQ("mprotect", sys(SYS_mprotect, p, PAGE, PROT_READ), 0);
	EQ("mprotect", p[0], 1);
	EQ("mprotect", sys(SYS_mprotect, p, 2 * PAGE, RW), 0);
	p[0] = 2;
	p[PAGE] = 3;
	EQ("mprotect", p[0] + p[PAGE], 5);
	ERR("mprotect", sys(SYS_mprotect, p + 1, PAGE, PROT_READ), EINVAL);
	ERR("mprotect", sys(SYS_mprotect, p, PAGE, 0x100), EINVAL); /* not a PROT_ bit */
	sys(SYS_munmap, p, 2 * PAGE);
	ERR("mprotect", sys(SYS_mprotect, p, PAGE, PROT_READ), ENOMEM); /* not mapped */
}

static void test_mremap(void)
{
	unsigned char *p = map_anon(PAGE);
	if (p == MAP_FAILED)
		return;
	memset(p, 0x5a, PAGE);

	unsigned char *q = (unsigned char *)OK("mremap", sys(SYS_mremap, p, PAGE, 4 * PAGE,
								  MREMAP_MAYMOVE));
	if (q == MAP_FAILED) {
		sys(SYS_munmap, p, PAGE);
		return;
	}
	EXPECT("mremap", all_bytes(q, PAGE, 0x5a));
	EXPECT("mremap", all_bytes(q + PAGE, 3 * PAGE, 0));
	q[4 * PAGE - 1] = 1;
	EQ("mremap", sys(SYS_mremap, q, 4 * PAGE, 2 * PAGE, 0), (long)q); /* shrink in place */
	EXPECT("mremap", all_bytes(q, PAGE, 0x5a));

	ERR("mremap", sys(SYS_mremap, q + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE), EINVAL);
	ERR("mremap", sys(SYS_mremap, q, 2 * PAGE, 0, MREMAP_MAYMOVE), EINVAL);
	ERR("mremap", sys(SYS_mremap, q, 2 * PAGE, 4 * PAGE, 0x100), EINVAL);
	sys(SYS_munmap, q, 2 * PAGE);
}

static void test_madvise(void)
{
	unsigned char *p = map_anon(2 * PAGE);
	if (p == MAP_FAILED)
		return;
	memset(p, 0xaa, 2 * PAGE);
	/* On private anonymous memory, MADV_DONTNEED drops the contents: it reads back as zeros. */
	EQ("madvise", sys(SYS_madvise, p, 2 * PAGE, MADV_DONTNEED), 0);
	EXPECT("madvise", all_bytes(p, 2 * PAGE, 0));
	p[0] = 1; /* still mapped and writable */
	EQ("madvise", sys(SYS_madvise, p, PAGE, MADV_NORMAL), 0);
	EQ("madvise", sys(SYS_madvise, p, PAGE, MADV_WILLNEED), 0);
	ERR("madvise", sys(SYS_madvise, p + 1, PAGE, MADV_NORMAL), EINVAL);
	ERR("madvise", sys(SYS_madvise, p, PAGE, 999), EINVAL);
	sys(SYS_munmap, p, 2 * PAGE);
}

/*
 * The raw brk returns the new break, or the unchanged one on failure. musl's malloc also
 * moves the break, so the check puts it back exactly where it found it.
 */
static void test_brk(void)
{
	long start = sys(SYS_brk, 0);
	EXPECT("brk", start > 0);
	if (start <= 0)
		return;
	long want = start + 16 * PAGE;
	if (EQ("brk", sys(SYS_brk, want), want) != want)
		return;
	/*
	 * Only whole pages past the break are new: the page the break was in may hold data
	 * (Linux keeps it when the break shrinks).
	 */
	unsigned char *fresh = (unsigned char *)((start + PAGE - 1) & -(long)PAGE);
	size_t fresh_len = (unsigned char *)want - fresh;
	EXPECT("brk", all_bytes(fresh, fresh_len, 0));
	memset((void *)start, 0x77, want - start);

	EQ("brk", sys(SYS_brk, start), start);
	/* Memory given back and taken again comes back zeroed. */
	EQ("brk", sys(SYS_brk, want), want);
	EXPECT("brk", all_bytes(fresh, fresh_len, 0));
	EQ("brk", sys(SYS_brk, start), start);

	/* Impossible requests leave the break where it is. */
	EQ("brk", sys(SYS_brk, 1), start);
	EQ("brk", sys(SYS_brk, 1L << 47), start);
	EQ("brk", sys(SYS_brk, 0), start);
}

void test_memory(void)
{
	test_mmap_anon();
	test_mmap_file();
	test_mprotect();
	test_mremap();
	test_madvise();
	test_brk();
}
