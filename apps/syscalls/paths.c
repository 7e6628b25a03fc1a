/*
 * Calls on paths and directories: stat, lstat, fstat, newfstatat, statx, getdents64, access,
 * faccessat, readlink, readlinkat, getcwd, chdir, mkdir, unlink, rename.
 */
#include "check.h"

#include <dirent.h>
#include <stdio.h>

#define FILE_SIZE 1234

/* statx is newer than musl 1.2.3's headers: the kernel's struct, from linux/stat.h. */
struct statx_timestamp {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};
struct statx_buf {
	uint32_t stx_mask, stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink, stx_uid, stx_gid;
	uint16_t stx_mode, pad1;
	uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
	struct statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
	uint64_t spare[14];
};
#define STATX_TYPE 0x1u
#define STATX_SIZE 0x200u
#define STATX_BASIC_STATS 0x7ffu

/* What getdents64 returns: the kernel's struct linux_dirent64. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

static void test_stat(void)
{
	const char *path = work_path("stat");
	char data[FILE_SIZE] = {0};
	if (make_file(path, data, sizeof data) < 0)
		return;
	struct stat st, fst;

	EQ("stat", sys(SYS_stat, path, &st), 0);
	EXPECT("stat", S_ISREG(st.st_mode));
	EQ("stat", st.st_size, FILE_SIZE);
	EXPECT("stat", (st.st_mode & 0600) == 0600); /* created 0644: the owner can read and write */
	EQ("stat", sys(SYS_stat, work_dir, &st), 0);
	EXPECT("stat", S_ISDIR(st.st_mode));
	ERR("stat", sys(SYS_stat, work_path("missing"), &st), ENOENT);
	ERR("stat", sys(SYS_stat, work_path("stat/x"), &st), ENOTDIR);
	ERR("stat", sys(SYS_stat, "", &st), ENOENT);
	ERR("stat", sys(SYS_stat, BAD_PTR, &st), EFAULT);
	ERR("stat", sys(SYS_stat, path, BAD_PTR), EFAULT);

	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	EQ("fstat", sys(SYS_fstat, fd, &fst), 0);
	EQ("fstat", fst.st_size, FILE_SIZE);
	sys(SYS_stat, path, &st);
	EXPECT("fstat", fst.st_ino == st.st_ino && fst.st_dev == st.st_dev);
	ERR("fstat", sys(SYS_fstat, -1, &fst), EBADF);
	ERR("fstat", sys(SYS_fstat, fd, BAD_PTR), EFAULT);

	/* /proc/self/exe is a symbolic link to the program: lstat sees the link, stat the file. */
	EQ("lstat", sys(SYS_lstat, path, &st), 0);
	EXPECT("lstat", S_ISREG(st.st_mode));
	EQ("lstat", sys(SYS_lstat, "/proc/self/exe", &st), 0);
	EXPECT("lstat", S_ISLNK(st.st_mode));
	EQ("stat", sys(SYS_stat, "/proc/self/exe", &st), 0);
	EXPECT("stat", S_ISREG(st.st_mode));
	ERR("lstat", sys(SYS_lstat, work_path("missing"), &st), ENOENT);

	int dir = (int)OK("open", sys(SYS_open, work_dir, O_RDONLY | O_DIRECTORY));
	EQ("newfstatat", sys(SYS_newfstatat, AT_FDCWD, path, &st, 0), 0);
	EQ("newfstatat", st.st_size, FILE_SIZE);
	st.st_size = 0;
	EQ("newfstatat", sys(SYS_newfstatat, dir, "stat", &st, 0), 0);
	EQ("newfstatat", st.st_size, FILE_SIZE);
	st.st_size = 0;
	EQ("newfstatat", sys(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH), 0);
	EQ("newfstatat", st.st_size, FILE_SIZE);
	EQ("newfstatat", sys(SYS_newfstatat, AT_FDCWD, "/proc/self/exe", &st,
				 AT_SYMLINK_NOFOLLOW), 0);
	EXPECT("newfstatat", S_ISLNK(st.st_mode));
	ERR("newfstatat", sys(SYS_newfstatat, dir, "missing", &st, 0), ENOENT);
	ERR("newfstatat", sys(SYS_newfstatat, 999, "stat", &st, 0), EBADF);
	ERR("newfstatat", sys(SYS_newfstatat, dir, "stat", &st, 0x1), EINVAL);

	struct statx_buf stx;
	memset(&stx, 0, sizeof stx);
	EQ("statx", sys(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx), 0);
	EXPECT("statx", (stx.stx_mask & (STATX_TYPE | STATX_SIZE)) == (STATX_TYPE | STATX_SIZE));
	EXPECT("statx", S_ISREG(stx.stx_mode));
	EQ("statx", stx.stx_size, FILE_SIZE);
	memset(&stx, 0, sizeof stx);
	EQ("statx", sys(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), 0);
	EQ("statx", stx.stx_size, FILE_SIZE);
	EQ("statx", sys(SYS_statx, dir, ".", 0, STATX_BASIC_STATS, &stx), 0);
	EXPECT("statx", S_ISDIR(stx.stx_mode));
	ERR("statx", sys(SYS_statx, AT_FDCWD, work_path("missing"), 0, STATX_BASIC_STATS, &stx),
	    ENOENT);
	ERR("statx", sys(SYS_statx, AT_FDCWD, path, 0x1, STATX_BASIC_STATS, &stx), EINVAL);
	ERR("statx", sys(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS, BAD_PTR), EFAULT);

	sys(SYS_close, fd);
	sys(SYS_close, dir);
	unlink(path);
}

/* The entries a directory listing must contain. */
struct expected_entry {
	const char *name;
	uint8_t type;
	int seen;
};

/*
 * Lists dir with getdents64 calls of bufsize bytes and checks it holds exactly the
 * entries in want (each once, with the right d_type).
 */
static void check_listing(int dir, size_t bufsize, struct expected_entry *want, int nwant)
{
	_Alignas(8) char buf[1024];
	int total = 0;
	for (int i = 0; i < nwant; i++)
		want[i].seen = 0;

	sys(SYS_lseek, dir, 0, SEEK_SET);
	for (;;) {
		long n = sys(SYS_getdents64, dir, buf, bufsize);
		if (n <= 0) {
			if (n < 0)
				fail("getdents64", "buffer of %zu: errno %d", bufsize, errno);
			break;
		}
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			if (d->d_reclen == 0) {
				fail("getdents64", "record of length 0");
				return;
			}
			total++;
			int known = 0;
			for (int i = 0; i < nwant; i++) {
				if (strcmp(d->d_name, want[i].name) != 0)
					continue;
				known = 1;
				want[i].seen++;
				if (d->d_type != want[i].type)
					fail("getdents64", "%s: d_type %d, want %d", d->d_name, d->d_type,
					     want[i].type);
			}
			if (!known)
				fail("getdents64", "unexpected entry \"%s\"", d->d_name);
			off += d->d_reclen;
		}
	}
	for (int i = 0; i < nwant; i++)
		if (want[i].seen != 1)
			fail("getdents64", "buffer of %zu: \"%s\" listed %d times, want once", bufsize,
			     want[i].name, want[i].seen);
	if (total != nwant)
		fail("getdents64", "buffer of %zu: %d entries, want %d", bufsize, total, nwant);
}

static void test_getdents(void)
{
	const char *path = work_path("list");
	char name[160];
	if (make_dir(path) < 0)
		return;
	snprintf(name, sizeof name, "%s/a", path);
	make_file(name, "a", 1);
	snprintf(name, sizeof name, "%s/bb", path);
	make_file(name, "b", 1);
	snprintf(name, sizeof name, "%s/sub", path);
	make_dir(name);

	struct expected_entry want[] = {
		{".", DT_DIR, 0}, {"..", DT_DIR, 0}, {"a", DT_REG, 0}, {"bb", DT_REG, 0},
		{"sub", DT_DIR, 0},
	};
	int n = sizeof want / sizeof want[0];
	int dir = (int)OK("open", sys(SYS_open, path, O_RDONLY | O_DIRECTORY));
	check_listing(dir, 1024, want, n);
	/* A small buffer (two entries at most) makes the listing continue across calls. */
	check_listing(dir, 64, want, n);
	EQ("getdents64", sys(SYS_getdents64, dir, name, sizeof name), 0); /* at the end */

	sys(SYS_lseek, dir, 0, SEEK_SET);
	ERR("getdents64", sys(SYS_getdents64, dir, name, 1), EINVAL); /* too small for one */
	ERR("getdents64", sys(SYS_getdents64, dir, BAD_PTR, 1024), EFAULT);
	ERR("getdents64", sys(SYS_getdents64, -1, name, sizeof name), EBADF);
	snprintf(name, sizeof name, "%s/a", path);
	int file = (int)OK("open", sys(SYS_open, name, O_RDONLY));
	ERR("getdents64", sys(SYS_getdents64, file, name, sizeof name), ENOTDIR);
	sys(SYS_close, file);
	sys(SYS_close, dir);
	unlink(name);
	snprintf(name, sizeof name, "%s/bb", path);
	unlink(name);
}

static void test_access(void)
{
	const char *path = work_path("access");
	if (make_file(path, "x", 1) < 0)
		return;

	EQ("access", sys(SYS_access, path, F_OK), 0);
	EQ("access", sys(SYS_access, path, R_OK | W_OK), 0);
	EQ("access", sys(SYS_access, work_dir, R_OK | W_OK | X_OK), 0);
	ERR("access", sys(SYS_access, work_path("missing"), F_OK), ENOENT);
	ERR("access", sys(SYS_access, work_path("access/x"), F_OK), ENOTDIR);
	ERR("access", sys(SYS_access, path, 0x100), EINVAL);
	ERR("access", sys(SYS_access, BAD_PTR, F_OK), EFAULT);

	int dir = (int)OK("open", sys(SYS_open, work_dir, O_RDONLY | O_DIRECTORY));
	EQ("faccessat", sys(SYS_faccessat, AT_FDCWD, path, R_OK), 0);
	EQ("faccessat", sys(SYS_faccessat, dir, "access", F_OK), 0);
	ERR("faccessat", sys(SYS_faccessat, dir, "missing", F_OK), ENOENT);
	ERR("faccessat", sys(SYS_faccessat, 999, "access", F_OK), EBADF);
	sys(SYS_close, dir);
	unlink(path);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void test_readlink(const char *argv0)
{
	char buf[512];
	long n = OK("readlink", sys(SYS_readlink, "/proc/self/exe", buf, sizeof buf - 1));
	if (n > 0) {
		buf[n] = '\0';
		if (buf[0] != '/' || strcmp(base_name(buf), base_name(argv0)) != 0)
			fail("readlink", "/proc/self/exe is \"%s\", want an absolute path to %s", buf,
			     base_name(argv0));
	}
	/* A short buffer gets the start of the target, without a terminating NUL. */
	EQ("readlink", sys(SYS_readlink, "/proc/self/exe", buf, 3), 3);

	const char *path = work_path("readlink");
	if (make_file(path, "x", 1) < 0)
		return;
	ERR("readlink", sys(SYS_readlink, path, buf, sizeof buf), EINVAL); /* not a link */
	ERR("readlink", sys(SYS_readlink, work_path("missing"), buf, sizeof buf), ENOENT);
	ERR("readlink", sys(SYS_readlink, "/proc/self/exe", buf, 0), EINVAL);
	ERR("readlink", sys(SYS_readlink, BAD_PTR, buf, sizeof buf), EFAULT);
	ERR("readlink", sys(SYS_readlink, "/proc/self/exe", BAD_PTR, sizeof buf), EFAULT);

	char buf2[512];
	long n2 = OK("readlinkat", sys(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf2,
					   sizeof buf2 - 1));
	EXPECT("readlinkat", n2 == n && memcmp(buf, buf2, n) == 0);
	int dir = (int)OK("open", sys(SYS_open, work_dir, O_RDONLY | O_DIRECTORY));
	ERR("readlinkat", sys(SYS_readlinkat, dir, "readlink", buf, sizeof buf), EINVAL);
	ERR("readlinkat", sys(SYS_readlinkat, dir, "missing", buf, sizeof buf), ENOENT);
	ERR("readlinkat", sys(SYS_readlinkat, 999, "readlink", buf, sizeof buf), EBADF);
	sys(SYS_close, dir);
	unlink(path);
}

/* The raw getcwd returns the length including the terminating NUL. */
static void expect_cwd(const char *want)
{
	char buf[256];
	long n = OK("getcwd", sys(SYS_getcwd, buf, sizeof buf));
	if (n > 0 && (strcmp(buf, want) != 0 || n != (long)strlen(want) + 1))
		fail("getcwd", "\"%s\" (returned %ld), want \"%s\"", buf, n, want);
}

static void test_cwd(void)
{
	char initial[256], buf[256];
	long n = OK("getcwd", sys(SYS_getcwd, initial, sizeof initial));
	if (n <= 0)
		return;
	EXPECT("getcwd", initial[0] == '/' && n == (long)strlen(initial) + 1);
	ERR("getcwd", sys(SYS_getcwd, buf, 1), ERANGE);
	ERR("getcwd", sys(SYS_getcwd, BAD_PTR, sizeof buf), EFAULT);

	const char *path = work_path("cwd");
	const char *sub = work_path("cwd/sub");
	if (make_dir(path) < 0 || make_dir(sub) < 0)
		return;
	EQ("chdir", sys(SYS_chdir, path), 0);
	expect_cwd(path);
	/* Relative paths now start in the new directory. */
	int fd = (int)OK("chdir", sys(SYS_open, "file", O_CREAT | O_WRONLY, 0644));
	sys(SYS_close, fd);
	EQ("chdir", sys(SYS_access, work_path("cwd/file"), F_OK), 0);
	EQ("chdir", sys(SYS_chdir, "sub"), 0);
	expect_cwd(sub);
	EQ("chdir", sys(SYS_chdir, ".."), 0);
	expect_cwd(path);
	ERR("chdir", sys(SYS_chdir, "file"), ENOTDIR);
	ERR("chdir", sys(SYS_chdir, "missing"), ENOENT);
	ERR("chdir", sys(SYS_chdir, BAD_PTR), EFAULT);
	unlink("file");

	EQ("chdir", sys(SYS_chdir, initial), 0);
	expect_cwd(initial);
}

static void test_mkdir(void)
{
	const char *path = work_path("mkdir");
	struct stat st;
	if (make_file(work_path("mkdir-file"), "x", 1) < 0)
		return;

	if (EQ("mkdir", sys(SYS_mkdir, path, 0755), 0) == 0)
		remember_dir(path);
	ERR("mkdir", sys(SYS_mkdir, path, 0755), EEXIST);
	EQ("mkdir", sys(SYS_stat, path, &st), 0);
	EXPECT("mkdir", S_ISDIR(st.st_mode));
	ERR("mkdir", sys(SYS_mkdir, work_path("missing/x"), 0755), ENOENT);
	ERR("mkdir", sys(SYS_mkdir, work_path("mkdir-file/x"), 0755), ENOTDIR);
	ERR("mkdir", sys(SYS_mkdir, work_path("mkdir-file"), 0755), EEXIST);
	ERR("mkdir", sys(SYS_mkdir, BAD_PTR, 0755), EFAULT);
	unlink(work_path("mkdir-file"));
}

static void test_unlink(void)
{
	const char *path = work_path("unlink");
	struct stat st;
	char buf[8];
	if (make_file(path, "still here", 10) < 0)
		return;

	/* An open file outlives its name. */
	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	EQ("unlink", sys(SYS_unlink, path), 0);
	ERR("unlink", sys(SYS_stat, path, &st), ENOENT);
	ERR("unlink", sys(SYS_unlink, path), ENOENT);
	EQ("unlink", sys(SYS_read, fd, buf, 5), 5);
	EXPECT("unlink", memcmp(buf, "still", 5) == 0);
	sys(SYS_close, fd);

	ERR("unlink", sys(SYS_unlink, work_dir), EISDIR);
	ERR("unlink", sys(SYS_unlink, work_path("missing/x")), ENOENT);
	ERR("unlink", sys(SYS_unlink, BAD_PTR), EFAULT);
	if (make_file(path, "x", 1) == 0) {
		ERR("unlink", sys(SYS_unlink, work_path("unlink/x")), ENOTDIR);
		unlink(path);
	}
}

/* Checks that path holds exactly the text want. */
static void expect_contents(const char *call, const char *path, const char *want)
{
	char buf[64];
	int fd = (int)sys(SYS_open, path, O_RDONLY);
	long n = fd < 0 ? -1 : sys(SYS_read, fd, buf, sizeof buf);
	if (fd >= 0)
		sys(SYS_close, fd);
	if (n != (long)strlen(want) || memcmp(buf, want, n) != 0)
		fail(call, "%s does not hold \"%s\"", path, want);
}

static void test_rename(void)
{
	const char *a = work_path("ren-a"), *b = work_path("ren-b");
	const char *dir = work_path("ren-dir"), *moved = work_path("ren-moved");
	struct stat st;
	if (make_file(a, "one", 3) < 0 || make_dir(dir) < 0)
		return;

	EQ("rename", sys(SYS_rename, a, b), 0);
	ERR("rename", sys(SYS_stat, a, &st), ENOENT);
	expect_contents("rename", b, "one");
	/* Onto an existing file: replaces it. */
	make_file(a, "two", 3);
	EQ("rename", sys(SYS_rename, a, b), 0);
	expect_contents("rename", b, "two");
	EQ("rename", sys(SYS_rename, b, b), 0);
	expect_contents("rename", b, "two");

	ERR("rename", sys(SYS_rename, a, b), ENOENT);
	ERR("rename", sys(SYS_rename, b, dir), EISDIR);
	ERR("rename", sys(SYS_rename, dir, b), ENOTDIR);
	ERR("rename", sys(SYS_rename, b, work_path("missing/x")), ENOENT);
	ERR("rename", sys(SYS_rename, BAD_PTR, b), EFAULT);

	/* A directory moves with its contents. */
	char inside[160];
	snprintf(inside, sizeof inside, "%s/f", dir);
	make_file(inside, "in", 2);
	if (EQ("rename", sys(SYS_rename, dir, moved), 0) == 0) {
		remember_dir(moved);
		snprintf(inside, sizeof inside, "%s/f", moved);
		expect_contents("rename", inside, "in");
		ERR("rename", sys(SYS_stat, dir, &st), ENOENT);
	}
	unlink(inside);
	unlink(b);
}

void test_paths(const char *argv0)
{
	test_stat();
	test_getdents();
	test_access();
	test_readlink(argv0);
	test_cwd();
	test_mkdir();
	test_unlink();
	test_rename();
}
