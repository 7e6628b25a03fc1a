/*
 * tscfreq: prints the host's TSC frequency in kHz.
 *
 * Under TCG the guest's rdtsc reads the host TSC, but the guest has no way to learn its rate
 * (no CPUID leaf gives it and unikit's kernel does not wait on the PIT). unikit measures it here
 * once per host boot and passes it as `tsc_khz=` on the kernel command line. Node cannot execute
 * rdtsc, hence this tool: rdtsc against CLOCK_MONOTONIC_RAW over about 20 ms, the median of
 * three windows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One window of about `ms` milliseconds: TSC ticks per millisecond, i.e. kHz. */
static double window_khz(unsigned ms) {
    uint64_t t0 = now_ns(), c0 = rdtsc();
    uint64_t t1, c1;
    do {
        t1 = now_ns();
        c1 = rdtsc();
    } while (t1 - t0 < ms * 1000000ull);
    return (double)(c1 - c0) * 1e6 / (double)(t1 - t0);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    double w[3];
    for (int i = 0; i < 3; i++) w[i] = window_khz(7);
    qsort(w, 3, sizeof w[0], cmp);
    printf("%llu\n", (unsigned long long)(w[1] + 0.5));
    return 0;
}
