/* Reporting failed checks, and the scratch directory the checks work in. */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;

void fail(const char *call, const char *fmt, ...)
{
	va_list ap;
	failures++;
	printf("FAIL %s: ", call);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int failure_count(void)
{
	return failures;
}

/* "got 3" or "got -1 errno 9 (Bad file descriptor)" */
static const char *describe(long ret, int err, char *buf, size_t size)
{
	if (ret == -1)
		snprintf(buf, size, "got -1 errno %d (%s)", err, strerror(err));
	else
		snprintf(buf, size, "got %ld", ret);
	return buf;
}

long check_ok(const char *call, const char *expr, long ret)
{
	int err = errno;
	char got[128];
	if (ret == -1)
		fail(call, "%s: %s, want success", expr, describe(ret, err, got, sizeof got));
	return ret;
}

long check_eq(const char *call, const char *expr, long ret, long want)
{
	int err = errno;
	char got[128];
	if (ret != want)
		fail(call, "%s: %s, want %ld", expr, describe(ret, err, got, sizeof got), want);
	return ret;
}

void check_err(const char *call, const char *expr, long ret, int want, const char *want_name)
{
	int err = errno;
	char got[128];
	if (ret != -1 || err != want)
		fail(call, "%s: %s, want -1 %s", expr, describe(ret, err, got, sizeof got), want_name);
}

void check_true(const char *call, const char *cond, int ok)
{
	if (!ok)
		fail(call, "expected %s", cond);
}

char work_dir[64];

const char *work_path(const char *name)
{
	size_t size = strlen(work_dir) + strlen(name) + 2;
	char *buf = malloc(size);
	if (!buf) {
		fail("work_path", "out of memory");
		exit(1);
	}
	snprintf(buf, size, "%s/%s", work_dir, name);
	return buf;
}

/* Directories to remove at the end, in creation order. */
static char made_dirs[16][128];
static int made_count;

void remember_dir(const char *path)
{
	if (made_count < 16)
		snprintf(made_dirs[made_count++], sizeof made_dirs[0], "%s", path);
}

int make_dir(const char *path)
{
	if (sys(SYS_mkdir, path, 0755) < 0) {
		fail("mkdir", "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	remember_dir(path);
	return 0;
}

int work_dir_create(void)
{
	snprintf(work_dir, sizeof work_dir, "/tmp/unikit-syscalls.%d", getpid());
	return make_dir(work_dir);
}

/*
 * rmdir is not one of the calls under test: it is used only so that runs on Linux leave
 * nothing behind, and its result is not checked. The checks remove their own files.
 */
void work_dir_remove(void)
{
	while (made_count > 0)
		sys(SYS_rmdir, made_dirs[--made_count]);
}

int make_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0) {
		fail("open", "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t n = write(fd, data, len);
	close(fd);
	if (n != (ssize_t)len) {
		fail("write", "cannot write %zu bytes to %s", len, path);
		return -1;
	}
	return 0;
}
