/*
 * The core's functions for the host build of kernel/fs: the heap is malloc, user memory is
 * the test's own memory (addresses below 4096 and marked ranges are rejected, as a fault
 * would be), the console and kernel log are captured, the clock is fake.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel.h"
#include "shim.h"

char shim_console[3][65536];
size_t shim_console_len[3];
char shim_klog[4096];
uint64_t shim_slept_until;
bool shim_quiet;
bool klog_verbose;

#define MAX_RANGES 16
static struct {
    uintptr_t lo, hi;
    bool readonly;
} ranges[MAX_RANGES];
static int nranges;
static struct {
    uintptr_t lo, hi;
} good[4];
static int ngood;
static uint64_t fake_mono = 1000000000ULL;

void shim_console_reset(void)
{
    memset(shim_console_len, 0, sizeof(shim_console_len));
}

static void add_range(const void *p, size_t n, bool ro)
{
    if (nranges == MAX_RANGES)
        abort();
    ranges[nranges].lo = (uintptr_t)p;
    ranges[nranges].hi = (uintptr_t)p + n;
    ranges[nranges++].readonly = ro;
}

void shim_bad_range(const void *p, size_t n)
{
    add_range(p, n, false);
}

void shim_readonly_range(const void *p, size_t n)
{
    add_range(p, n, true);
}

void shim_good_range(const void *p, size_t n)
{
    if (ngood == 4)
        abort();
    good[ngood].lo = (uintptr_t)p;
    good[ngood++].hi = (uintptr_t)p + n;
}

void shim_clear_ranges(void)
{
    nranges = 0;
    ngood = 0;
}

static bool in_good(uint64_t u, size_t n)
{
    if (!ngood)
        return true;
    for (int i = 0; i < ngood; i++)
        if (u >= good[i].lo && u + n <= good[i].hi)
            return true;
    return false;
}

bool user_range_ok(uint64_t u, size_t n, bool write)
{
    if (u < 4096 || u + n < u || u + n > 0x800000000000ULL || !in_good(u, n))
        return false;
    for (int i = 0; i < nranges; i++) {
        bool overlap = u < ranges[i].hi && u + n > ranges[i].lo;
        if (overlap && (!ranges[i].readonly || write))
            return false;
    }
    return true;
}

long copy_from_user(void *k, uint64_t u, size_t n)
{
    if (n == 0)
        return 0;
    if (!user_range_ok(u, n, false))
        return -EFAULT;
    memcpy(k, (const void *)u, n);
    return 0;
}

long copy_to_user(uint64_t u, const void *k, size_t n)
{
    if (n == 0)
        return 0;
    if (!user_range_ok(u, n, true))
        return -EFAULT;
    memcpy((void *)u, k, n);
    return 0;
}

long strncpy_from_user(char *k, uint64_t u, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        if (!user_range_ok(u + i, 1, false))
            return -EFAULT;
        k[i] = *(const char *)(u + i);
        if (!k[i])
            return (long)i;
    }
    return -ENAMETOOLONG;
}

void *kmalloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *kzalloc(size_t n)
{
    return calloc(1, n ? n : 1);
}

void *krealloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

void kfree(void *p)
{
    free(p);
}

void *page_alloc(size_t npages)
{
    void *p = aligned_alloc(PAGE_SIZE, npages * PAGE_SIZE);
    if (p)
        memset(p, 0, npages * PAGE_SIZE);
    return p;
}

void page_free(void *p, size_t npages)
{
    (void)npages;
    free(p);
}

size_t mm_free_pages(void)
{
    return 3000;
}

size_t mm_total_pages(void)
{
    return 4096;
}

void console_write(int stream, const void *buf, size_t n)
{
    if (stream < 1 || stream > 2)
        abort();
    size_t room = sizeof(shim_console[0]) - shim_console_len[stream];
    n = n < room ? n : room;
    memcpy(shim_console[stream] + shim_console_len[stream], buf, n);
    shim_console_len[stream] += n;
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shim_klog, sizeof(shim_klog), fmt, ap);
    va_end(ap);
    if (!shim_quiet)
        fprintf(stderr, "  klog: %s", shim_klog);
}

void klog_write(const char *s, size_t n)
{
    fwrite(s, 1, n, stderr);
}

void vm_exit(int status, const char *reason)
{
    fprintf(stderr, "vm_exit(%d, %s)\n", status, reason);
    abort();
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    abort();
}

uint64_t clock_monotonic_ns(void)
{
    return fake_mono;
}

uint64_t clock_realtime_ns(void)
{
    return 1700000000ULL * 1000000000ULL + fake_mono;
}

void clock_sleep_until(uint64_t deadline)
{
    shim_slept_until = deadline;
    if (deadline > fake_mono)
        fake_mono = deadline;
}

void random_bytes(void *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)(i * 37 + 11);
}

/* core/wait.c stand-in: nothing else runs on the host, so one sleep to the deadline. */
bool wait_until(bool (*ready)(void *arg), void *arg, uint64_t deadline)
{
    if (ready(arg))
        return true;
    if (deadline == UINT64_MAX)
        return false;
    clock_sleep_until(deadline);
    return ready(arg);
}
