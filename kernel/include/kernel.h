/*
 * The map of the kernel: every function one file offers another, grouped by the file that
 * defines it. Subsystems with a wider surface have their own header (fs.h, vm.h).
 * Freestanding: only the compiler's own headers (stdint, stddef, stdarg, stdbool).
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "param.h"
#include "errno.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define noreturn _Noreturn

/* core/string.c: the usual, since there is no libc. gcc may emit calls to the first four. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* core/console.c: the program's stdout/stderr (stream 1 and 2: COM1, COM2) and the kernel log
 * (debugcon). kprintf lines meant for the user start with "unikit: " (see abi/unikit_abi.h). */
void console_init(void);
void console_write(int stream, const void *buf, size_t n);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void klog_write(const char *s, size_t n);
extern bool klog_verbose;   /* the "verbose" command-line flag */

/* core/panic.c: ending the VM. vm_exit writes "@exit <status> <reason>" and never returns. */
noreturn void vm_exit(int status, const char *reason);
noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* core/mm.c: physical pages and the kernel heap. Memory comes from the direct map, so every
 * pointer returned is a kernel virtual address. NULL when memory is exhausted (never panics). */
void *page_alloc(size_t npages);          /* zeroed, page aligned */
void page_free(void *p, size_t npages);
size_t mm_free_pages(void);
size_t mm_total_pages(void);
void *kmalloc(size_t n);                  /* not zeroed; 16-byte aligned */
void *kzalloc(size_t n);
void *krealloc(void *p, size_t n);        /* like realloc: NULL on failure, p untouched */
void kfree(void *p);                      /* kfree(NULL) is a no-op */

/* core/user.c: the program's memory as the kernel sees it. Addresses are the program's own
 * (the lower half). user_range_ok() checks that [u, u+n) lies in the program's half and is
 * mapped (faulting in lazily mapped pages), writable when `write`; after it says yes the kernel
 * may use the range directly until the program's mappings next change. The copy functions
 * return 0 or -EFAULT; strncpy_from_user returns the length or -EFAULT / -ENAMETOOLONG. */
bool user_range_ok(uint64_t u, size_t n, bool write);
long copy_from_user(void *k, uint64_t u, size_t n);
long copy_to_user(uint64_t u, const void *k, size_t n);
long strncpy_from_user(char *k, uint64_t u, size_t max);

/* core/clock.c */
uint64_t clock_monotonic_ns(void);
uint64_t clock_realtime_ns(void);
void clock_sleep_until(uint64_t monotonic_deadline_ns);

/* core/random.c: seeded from the host's seed and RDRAND where the CPU has it. */
void random_bytes(void *buf, size_t n);

#endif
