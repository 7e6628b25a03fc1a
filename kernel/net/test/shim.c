/*
 * Host stand-ins for the kernel: kmalloc and friends over malloc with every live byte counted
 * (so tests can check memory returns to its baseline), kprintf to stderr, a clock the test
 * sets, and a deterministic random_bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"

void *kmalloc(size_t n);
void *kzalloc(size_t n);
void *krealloc(void *p, size_t n);
void kfree(void *p);
void kprintf(const char *fmt, ...);
uint64_t clock_monotonic_ns(void);
void random_bytes(void *buf, size_t n);

uint64_t shim_now = 1000000000ull;
size_t shim_heap_bytes, shim_heap_peak;
int shim_quiet;
int shim_random_fixed;
uint32_t shim_random_value;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

struct hdr {
    size_t n;
    size_t pad;                          /* keeps 16-byte alignment */
};

void *kmalloc(size_t n) {
    struct hdr *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->n = n;
    shim_heap_bytes += n;
    if (shim_heap_bytes > shim_heap_peak)
        shim_heap_peak = shim_heap_bytes;
    memset(h + 1, 0xa5, n);              /* not zeroed, like the kernel's */
    return h + 1;
}

void *kzalloc(size_t n) {
    void *p = kmalloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void kfree(void *p) {
    if (!p)
        return;
    struct hdr *h = (struct hdr *)p - 1;
    shim_heap_bytes -= h->n;
    free(h);
}

void *krealloc(void *p, size_t n) {
    void *q = kmalloc(n);
    if (!q)
        return NULL;
    if (p) {
        struct hdr *h = (struct hdr *)p - 1;
        memcpy(q, p, h->n < n ? h->n : n);
        kfree(p);
    }
    return q;
}

void kprintf(const char *fmt, ...) {
    if (shim_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

uint64_t clock_monotonic_ns(void) { return shim_now; }

void shim_random_seed(uint64_t seed) { rng = seed ? seed : 1; }

static uint64_t next64(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

void random_bytes(void *buf, size_t n) {
    unsigned char *p = buf;
    if (shim_random_fixed && n == 4) {
        memcpy(p, &shim_random_value, 4);
        return;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)next64();
}
