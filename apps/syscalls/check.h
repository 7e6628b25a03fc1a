/*
 * The syscall conformance program: shared helpers.
 *
 * Every check names the call it is about and prints one line when it fails:
 *   FAIL <call>: <expression>: got <value>, want <value>
 * Calls are made raw with sys(SYS_x, ...) (below) almost everywhere: libc wrappers may answer
 * without asking the kernel (musl's fstat rejects fd < 0 itself, brk always fails, the clocks
 * go through the vDSO), and this program tests the kernel, not libc. sys() returns -1 and
 * sets errno for an error, like the wrappers.
 */
#ifndef SYSCALLS_CHECK_H
#define SYSCALLS_CHECK_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096

/*
 * sys(SYS_x, args...) is syscall() with every argument cast to long. syscall() reads its
 * arguments as longs, but an int passed through "..." fills only 32 bits of the register:
 * -1 would reach the kernel as 4294967295 where it takes a 64-bit offset or length.
 */
#define sys(...) SYS_PICK(__VA_ARGS__, sys6, sys5, sys4, sys3, sys2, sys1, sys0)(__VA_ARGS__)
#define SYS_PICK(_1, _2, _3, _4, _5, _6, _7, name, ...) name
#define sys0(n) syscall(n)
#define sys1(n, a) syscall(n, (long)(a))
#define sys2(n, a, b) syscall(n, (long)(a), (long)(b))
#define sys3(n, a, b, c) syscall(n, (long)(a), (long)(b), (long)(c))
#define sys4(n, a, b, c, d) syscall(n, (long)(a), (long)(b), (long)(c), (long)(d))
#define sys5(n, a, b, c, d, e) syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))
#define sys6(n, a, b, c, d, e, f) \
	syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* Addresses a user program can never read or write: page 0, and the top page (kernel). */
#define BAD_PTR ((void *)1)
#define KERNEL_PTR ((void *)-4096L)

/* expr must succeed (not -1); returns its value. */
#define OK(call, expr) check_ok(call, #expr, (long)(expr))
/* expr must return want (an error shows its errno). */
#define EQ(call, expr, want) check_eq(call, #expr, (long)(expr), (long)(want))
/* expr must fail with errno err. */
#define ERR(call, expr, err) check_err(call, #expr, (long)(expr), err, #err)
/* cond must be true. */
#define EXPECT(call, cond) check_true(call, #cond, (cond) != 0)

long check_ok(const char *call, const char *expr, long ret);
long check_eq(const char *call, const char *expr, long ret, long want);
void check_err(const char *call, const char *expr, long ret, int want, const char *want_name);
void check_true(const char *call, const char *cond, int ok);
/* Reports a failure with a free-form message. */
void fail(const char *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int failure_count(void);

/*
 * The scratch directory in /tmp that the checks work in: "/tmp/unikit-syscalls.<pid>".
 * work_path() returns "<dir>/<name>" in a new string, never freed (the program is short).
 */
extern char work_dir[64];
const char *work_path(const char *name);
int work_dir_create(void);
/* Makes a directory that work_dir_remove() removes (children before parents). */
int make_dir(const char *path);
/* Remembers a directory made another way, for work_dir_remove(). */
void remember_dir(const char *path);
void work_dir_remove(void);
/* Creates or truncates path with the given contents; returns 0, or -1 (reported). */
int make_file(const char *path, const void *data, size_t len);

/* The families of checks, one file each. */
void test_fds(void);
void test_paths(const char *argv0);
void test_memory(void);
void test_process(void);
void test_time(void);

#endif
