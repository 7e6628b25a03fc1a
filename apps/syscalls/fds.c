/*
 * Calls on file descriptors: read, write, readv, writev, pread64, pwrite64, open, openat,
 * close, lseek, fcntl, dup, dup2, dup3, pipe2, ioctl, ftruncate, fsync.
 */
#include "check.h"

#include <sys/ioctl.h>
#include <sys/uio.h>
#include <termios.h>

static int open_rw(const char *path)
{
	return (int)OK("open", sys(SYS_open, path, O_CREAT | O_RDWR | O_TRUNC, 0644));
}

static void test_read_write(void)
{
	const char *path = work_path("rw");
	char buf[64];
	int fd = open_rw(path);
	if (fd < 0)
		return;

	EQ("write", sys(SYS_write, fd, "hello, world", 12), 12);
	EQ("lseek", sys(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ("read", sys(SYS_read, fd, buf, 5), 5);
	EXPECT("read", memcmp(buf, "hello", 5) == 0);
	EQ("read", sys(SYS_read, fd, buf, 0), 0);
	EQ("read", sys(SYS_read, fd, buf, sizeof buf), 7);
	EXPECT("read", memcmp(buf, ", world", 7) == 0);
	EQ("read", sys(SYS_read, fd, buf, sizeof buf), 0); /* end of file */

	ERR("read", sys(SYS_read, -1, buf, 1), EBADF);
	ERR("read", sys(SYS_read, 999, buf, 1), EBADF);
	ERR("write", sys(SYS_write, -1, "x", 1), EBADF);
	/* Only a read with data to copy touches the buffer: rewind first. */
	sys(SYS_lseek, fd, 0, SEEK_SET);
	ERR("read", sys(SYS_read, fd, BAD_PTR, 4), EFAULT);
	ERR("write", sys(SYS_write, fd, KERNEL_PTR, 4), EFAULT);
	sys(SYS_close, fd);

	int rd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	ERR("write", sys(SYS_write, rd, "x", 1), EBADF);
	sys(SYS_close, rd);
	int wr = (int)OK("open", sys(SYS_open, path, O_WRONLY));
	ERR("read", sys(SYS_read, wr, buf, 1), EBADF);
	sys(SYS_close, wr);
	int dir = (int)OK("open", sys(SYS_open, work_dir, O_RDONLY | O_DIRECTORY));
	ERR("read", sys(SYS_read, dir, buf, 1), EISDIR);
	sys(SYS_close, dir);
	unlink(path);
}

static void test_readv_writev(void)
{
	const char *path = work_path("vec");
	int fd = open_rw(path);
	if (fd < 0)
		return;

	struct iovec out[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
	EQ("writev", sys(SYS_writev, fd, out, 3), 8);
	sys(SYS_lseek, fd, 0, SEEK_SET);
	char a[2], b[10] = {0};
	struct iovec in[2] = {{a, sizeof a}, {b, sizeof b}};
	EQ("readv", sys(SYS_readv, fd, in, 2), 8);
	EXPECT("readv", memcmp(a, "ab", 2) == 0 && memcmp(b, "cdefgh", 6) == 0);

	ERR("writev", sys(SYS_writev, fd, out, -1), EINVAL);
	ERR("writev", sys(SYS_writev, fd, out, 1025), EINVAL); /* more than IOV_MAX */
	ERR("writev", sys(SYS_writev, fd, BAD_PTR, 1), EFAULT);
	struct iovec bad[1] = {{BAD_PTR, 4}};
	ERR("writev", sys(SYS_writev, fd, bad, 1), EFAULT);
	ERR("readv", sys(SYS_readv, -1, in, 2), EBADF);
	ERR("readv", sys(SYS_readv, fd, BAD_PTR, 1), EFAULT);
	sys(SYS_close, fd);
	unlink(path);
}

static void test_pread_pwrite(void)
{
	const char *path = work_path("pos");
	char buf[8] = {0};
	int fd = open_rw(path);
	if (fd < 0)
		return;

	EQ("write", sys(SYS_write, fd, "0123456789", 10), 10);
	sys(SYS_lseek, fd, 2, SEEK_SET);
	EQ("pwrite64", sys(SYS_pwrite64, fd, "AB", 2, 4), 2);
	EQ("pread64", sys(SYS_pread64, fd, buf, 4, 3), 4);
	EXPECT("pread64", memcmp(buf, "3AB6", 4) == 0);
	EQ("pread64", sys(SYS_lseek, fd, 0, SEEK_CUR), 2); /* the file offset is unchanged */
	EQ("pread64", sys(SYS_pread64, fd, buf, 4, 100), 0);

	/* Writing past the end leaves a hole that reads as zeros. */
	EQ("pwrite64", sys(SYS_pwrite64, fd, "Z", 1, 20), 1);
	struct stat st;
	EQ("fstat", sys(SYS_fstat, fd, &st), 0);
	EQ("pwrite64", st.st_size, 21);
	buf[0] = 'x';
	EQ("pread64", sys(SYS_pread64, fd, buf, 1, 15), 1);
	EQ("pread64", buf[0], 0);

	ERR("pread64", sys(SYS_pread64, fd, buf, 1, -1), EINVAL);
	ERR("pwrite64", sys(SYS_pwrite64, fd, "x", 1, -1), EINVAL);
	ERR("pread64", sys(SYS_pread64, -1, buf, 1, 0), EBADF);
	ERR("pwrite64", sys(SYS_pwrite64, -1, "x", 1, 0), EBADF);
	ERR("pread64", sys(SYS_pread64, fd, BAD_PTR, 1, 0), EFAULT);

	int p[2];
	if (OK("pipe2", sys(SYS_pipe2, p, 0)) == 0) {
		ERR("pread64", sys(SYS_pread64, p[0], buf, 1, 0), ESPIPE);
		ERR("pwrite64", sys(SYS_pwrite64, p[1], "x", 1, 0), ESPIPE);
		sys(SYS_close, p[0]);
		sys(SYS_close, p[1]);
	}
	sys(SYS_close, fd);
	unlink(path);
}

static void test_open_close(void)
{
	const char *path = work_path("open");
	if (make_file(path, "ab", 2) < 0)
		return;
	char buf[8];

	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	EQ("close", sys(SYS_close, fd), 0);
	ERR("close", sys(SYS_close, fd), EBADF);
	ERR("close", sys(SYS_close, -1), EBADF);
	/* The lowest free descriptor is reused. */
	EQ("open", sys(SYS_open, path, O_RDONLY), fd);
	sys(SYS_close, fd);

	ERR("open", sys(SYS_open, work_path("missing"), O_RDONLY), ENOENT);
	ERR("open", sys(SYS_open, work_path("missing/x"), O_RDONLY), ENOENT);
	ERR("open", sys(SYS_open, path, O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	ERR("open", sys(SYS_open, work_path("open/x"), O_RDONLY), ENOTDIR);
	ERR("open", sys(SYS_open, path, O_RDONLY | O_DIRECTORY), ENOTDIR);
	ERR("open", sys(SYS_open, work_dir, O_WRONLY), EISDIR);
	ERR("open", sys(SYS_open, "", O_RDONLY), ENOENT);
	ERR("open", sys(SYS_open, BAD_PTR, O_RDONLY), EFAULT);

	/* O_APPEND writes at the end whatever the offset; O_TRUNC empties the file. */
	fd = (int)OK("open", sys(SYS_open, path, O_WRONLY | O_APPEND));
	sys(SYS_lseek, fd, 0, SEEK_SET);
	EQ("write", sys(SYS_write, fd, "cd", 2), 2);
	sys(SYS_close, fd);
	fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	EQ("open", sys(SYS_read, fd, buf, sizeof buf), 4);
	EXPECT("open", memcmp(buf, "abcd", 4) == 0);
	sys(SYS_close, fd);
	fd = (int)OK("open", sys(SYS_open, path, O_RDWR | O_TRUNC));
	EQ("open", sys(SYS_read, fd, buf, sizeof buf), 0);
	sys(SYS_close, fd);

	int dir = (int)OK("openat", sys(SYS_open, work_dir, O_RDONLY | O_DIRECTORY));
	fd = (int)OK("openat", sys(SYS_openat, dir, "open", O_RDONLY));
	sys(SYS_close, fd);
	fd = (int)OK("openat", sys(SYS_openat, AT_FDCWD, path, O_RDONLY));
	sys(SYS_close, fd);
	/* An absolute path ignores dirfd, even a bad one. */
	fd = (int)OK("openat", sys(SYS_openat, 999, path, O_RDONLY));
	sys(SYS_close, fd);
	ERR("openat", sys(SYS_openat, dir, "missing", O_RDONLY), ENOENT);
	ERR("openat", sys(SYS_openat, 999, "open", O_RDONLY), EBADF);
	fd = (int)sys(SYS_open, path, O_RDONLY);
	ERR("openat", sys(SYS_openat, fd, "x", O_RDONLY), ENOTDIR);
	sys(SYS_close, fd);
	sys(SYS_close, dir);
	unlink(path);
}

static void test_lseek(void)
{
	const char *path = work_path("seek");
	if (make_file(path, "0123456789", 10) < 0)
		return;
	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));

	EQ("lseek", sys(SYS_lseek, fd, 3, SEEK_SET), 3);
	EQ("lseek", sys(SYS_lseek, fd, 2, SEEK_CUR), 5);
	EQ("lseek", sys(SYS_lseek, fd, -1, SEEK_END), 9);
	EQ("lseek", sys(SYS_lseek, fd, 10, SEEK_END), 20); /* past the end is allowed */
	ERR("lseek", sys(SYS_lseek, fd, -1, SEEK_SET), EINVAL);
	ERR("lseek", sys(SYS_lseek, fd, -100, SEEK_END), EINVAL);
	ERR("lseek", sys(SYS_lseek, fd, 0, 99), EINVAL);
	ERR("lseek", sys(SYS_lseek, -1, 0, SEEK_SET), EBADF);
	int p[2];
	if (sys(SYS_pipe2, p, 0) == 0) {
		ERR("lseek", sys(SYS_lseek, p[0], 0, SEEK_CUR), ESPIPE);
		sys(SYS_close, p[0]);
		sys(SYS_close, p[1]);
	}
	sys(SYS_close, fd);
	unlink(path);
}

static void test_fcntl(void)
{
	const char *path = work_path("fcntl");
	int fd = open_rw(path);
	if (fd < 0)
		return;

	EQ("fcntl", sys(SYS_fcntl, fd, F_GETFD), 0);
	EQ("fcntl", sys(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC), 0);
	EQ("fcntl", sys(SYS_fcntl, fd, F_GETFD), FD_CLOEXEC);
	EQ("fcntl", sys(SYS_fcntl, fd, F_GETFL) & O_ACCMODE, O_RDWR);
	EQ("fcntl", sys(SYS_fcntl, fd, F_SETFL, O_APPEND | O_NONBLOCK), 0);
	long fl = sys(SYS_fcntl, fd, F_GETFL);
	EXPECT("fcntl", (fl & (O_APPEND | O_NONBLOCK)) == (O_APPEND | O_NONBLOCK));
	/* F_SETFL cannot change the access mode. */
	EQ("fcntl", sys(SYS_fcntl, fd, F_SETFL, O_WRONLY), 0);
	EQ("fcntl", sys(SYS_fcntl, fd, F_GETFL) & O_ACCMODE, O_RDWR);

	long d = OK("fcntl", sys(SYS_fcntl, fd, F_DUPFD, 40));
	EXPECT("fcntl", d >= 40);
	EQ("fcntl", sys(SYS_fcntl, d, F_GETFD), 0); /* close-on-exec is not copied */
	sys(SYS_close, d);
	d = OK("fcntl", sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0));
	EQ("fcntl", sys(SYS_fcntl, d, F_GETFD), FD_CLOEXEC);
	sys(SYS_close, d);

	ERR("fcntl", sys(SYS_fcntl, -1, F_GETFD), EBADF);
	ERR("fcntl", sys(SYS_fcntl, fd, 9999), EINVAL);
	ERR("fcntl", sys(SYS_fcntl, fd, F_DUPFD, -1), EINVAL);
	sys(SYS_close, fd);
	unlink(path);
}

static void test_dup(void)
{
	const char *path = work_path("dup");
	if (make_file(path, "0123456789", 10) < 0)
		return;
	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY | O_CLOEXEC));

	long d = OK("dup", sys(SYS_dup, fd));
	EXPECT("dup", d >= 0 && d != fd);
	EQ("dup", sys(SYS_fcntl, d, F_GETFD), 0);
	/* A duplicate shares the file offset. */
	sys(SYS_lseek, fd, 4, SEEK_SET);
	EQ("dup", sys(SYS_lseek, d, 0, SEEK_CUR), 4);
	ERR("dup", sys(SYS_dup, -1), EBADF);
	ERR("dup", sys(SYS_dup, 999), EBADF);

	EQ("dup2", sys(SYS_dup2, fd, 30), 30);
	EQ("dup2", sys(SYS_lseek, 30, 0, SEEK_CUR), 4);
	EQ("dup2", sys(SYS_dup2, fd, fd), fd);
	EQ("dup2", sys(SYS_dup2, d, 30), 30); /* replaces an open descriptor */
	ERR("dup2", sys(SYS_dup2, -1, 30), EBADF);
	ERR("dup2", sys(SYS_dup2, fd, -1), EBADF);

	EQ("dup3", sys(SYS_dup3, fd, 31, O_CLOEXEC), 31);
	EQ("dup3", sys(SYS_fcntl, 31, F_GETFD), FD_CLOEXEC);
	EQ("dup3", sys(SYS_dup3, fd, 32, 0), 32);
	EQ("dup3", sys(SYS_fcntl, 32, F_GETFD), 0);
	ERR("dup3", sys(SYS_dup3, fd, fd, 0), EINVAL);
	ERR("dup3", sys(SYS_dup3, fd, 33, 0x1234), EINVAL);
	ERR("dup3", sys(SYS_dup3, -1, 33, 0), EBADF);

	int fds[] = {fd, (int)d, 30, 31, 32};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		sys(SYS_close, fds[i]);
	unlink(path);
}

static void test_pipe(void)
{
	int p[2];
	char buf[4096];
	if (OK("pipe2", sys(SYS_pipe2, p, 0)) != 0)
		return;

	EQ("pipe2", sys(SYS_write, p[1], "ping", 4), 4);
	EQ("pipe2", sys(SYS_read, p[0], buf, sizeof buf), 4);
	EXPECT("pipe2", memcmp(buf, "ping", 4) == 0);
	/* PIPE_BUF bytes always fit in an empty pipe, so this cannot block. */
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 13);
	EQ("pipe2", sys(SYS_write, p[1], buf, sizeof buf), sizeof buf);
	size_t got = 0;
	int same = 1;
	while (got < sizeof buf) {
		char part[1000];
		long n = sys(SYS_read, p[0], part, sizeof part);
		if (n <= 0)
			break;
		for (long i = 0; i < n; i++)
			same &= part[i] == (char)((got + i) * 13);
		got += n;
	}
	EQ("pipe2", got, sizeof buf);
	EXPECT("pipe2", same);

	struct stat st;
	EQ("fstat", sys(SYS_fstat, p[0], &st), 0);
	EXPECT("fstat", S_ISFIFO(st.st_mode));
	sys(SYS_close, p[1]);
	EQ("pipe2", sys(SYS_read, p[0], buf, 1), 0); /* no writer left: end of file */
	sys(SYS_close, p[0]);

	if (OK("pipe2", sys(SYS_pipe2, p, O_NONBLOCK | O_CLOEXEC)) == 0) {
		ERR("pipe2", sys(SYS_read, p[0], buf, 1), EAGAIN);
		EQ("pipe2", sys(SYS_fcntl, p[0], F_GETFD), FD_CLOEXEC);
		EQ("pipe2", sys(SYS_fcntl, p[1], F_GETFD), FD_CLOEXEC);
		sys(SYS_close, p[0]);
		sys(SYS_close, p[1]);
	}
	ERR("pipe2", sys(SYS_pipe2, p, 0x1234), EINVAL);
	ERR("pipe2", sys(SYS_pipe2, BAD_PTR, 0), EFAULT);
}

/* stdout may or may not be a terminal: a pipe on Linux, a serial console in the unikernel. */
static void expect_ok_or_enotty(const char *what, long ret)
{
	if (ret != 0 && !(ret == -1 && errno == ENOTTY))
		fail("ioctl", "%s: got %ld errno %d, want 0 or -1 ENOTTY", what, ret, errno);
}

static void test_ioctl(void)
{
	struct termios tio;
	struct winsize ws;
	expect_ok_or_enotty("TCGETS on stdout", sys(SYS_ioctl, 1, TCGETS, &tio));
	expect_ok_or_enotty("TIOCGWINSZ on stdout", sys(SYS_ioctl, 1, TIOCGWINSZ, &ws));

	const char *path = work_path("ioctl");
	if (make_file(path, "x", 1) < 0)
		return;
	int fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	ERR("ioctl", sys(SYS_ioctl, fd, TCGETS, &tio), ENOTTY);
	ERR("ioctl", sys(SYS_ioctl, fd, TIOCGWINSZ, &ws), ENOTTY);
	ERR("ioctl", sys(SYS_ioctl, -1, TCGETS, &tio), EBADF);
	sys(SYS_close, fd);
	unlink(path);
}

static void test_ftruncate_fsync(void)
{
	const char *path = work_path("trunc");
	char buf[4];
	struct stat st;
	int fd = open_rw(path);
	if (fd < 0)
		return;

	sys(SYS_write, fd, "abcdef", 6);
	EQ("ftruncate", sys(SYS_ftruncate, fd, 3), 0);
	sys(SYS_fstat, fd, &st);
	EQ("ftruncate", st.st_size, 3);
	/* Growing again must not bring back "def": the new bytes are zeros. */
	EQ("ftruncate", sys(SYS_ftruncate, fd, 8192), 0);
	sys(SYS_fstat, fd, &st);
	EQ("ftruncate", st.st_size, 8192);
	EQ("ftruncate", sys(SYS_pread64, fd, buf, 4, 0), 4);
	EXPECT("ftruncate", memcmp(buf, "abc\0", 4) == 0);
	EQ("ftruncate", sys(SYS_pread64, fd, buf, 4, 4096), 4);
	EXPECT("ftruncate", memcmp(buf, "\0\0\0\0", 4) == 0);
	ERR("ftruncate", sys(SYS_ftruncate, fd, -1), EINVAL);
	ERR("ftruncate", sys(SYS_ftruncate, -1, 0), EBADF);

	EQ("fsync", sys(SYS_fsync, fd), 0);
	ERR("fsync", sys(SYS_fsync, -1), EBADF);
	sys(SYS_close, fd);

	fd = (int)OK("open", sys(SYS_open, path, O_RDONLY));
	ERR("ftruncate", sys(SYS_ftruncate, fd, 0), EINVAL); /* not open for writing */
	sys(SYS_close, fd);
	unlink(path);
}

void test_fds(void)
{
	test_read_write();
	test_readv_writev();
	test_pread_pwrite();
	test_open_close();
	test_lseek();
	test_fcntl();
	test_dup();
	test_pipe();
	test_ioctl();
	test_ftruncate_fsync();
}
