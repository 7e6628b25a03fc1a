/* Time syscalls over core/clock.c. */
#include "syscalls.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define TIMER_ABSTIME 1
#define NS 1000000000ULL

struct timespec64 { int64_t sec, nsec; };

static bool clock_now(long clk, uint64_t *ns) {
    switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        *ns = clock_realtime_ns();
        return true;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_PROCESS_CPUTIME_ID:   /* one busy process: CPU time is close to time since boot */
    case CLOCK_THREAD_CPUTIME_ID:
        *ns = clock_monotonic_ns();
        return true;
    default:
        return false;
    }
}

static long put_timespec(long u, uint64_t ns) {
    struct timespec64 ts = {(int64_t)(ns / NS), (int64_t)(ns % NS)};
    return copy_to_user((uint64_t)u, &ts, sizeof ts);
}

static long get_timespec(long u, uint64_t *ns) {
    struct timespec64 ts;
    if (copy_from_user(&ts, (uint64_t)u, sizeof ts))
        return -EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || (uint64_t)ts.nsec >= NS)
        return -EINVAL;
    *ns = (uint64_t)ts.sec > UINT64_MAX / NS - 1 ? UINT64_MAX / 2 : (uint64_t)ts.sec * NS + (uint64_t)ts.nsec;
    return 0;
}

long sys_clock_gettime(long clk, long tp) {
    uint64_t ns;
    if (!clock_now(clk, &ns))
        return -EINVAL;
    return put_timespec(tp, ns);
}

long sys_clock_getres(long clk, long res) {
    uint64_t ignored;
    if (!clock_now(clk, &ignored))
        return -EINVAL;
    return res ? put_timespec(res, 1) : 0;
}

/* Sleeping on one clock: absolute realtime deadlines are turned into monotonic ones. */
static long sleep_on(long clk, bool absolute, uint64_t ns) {
    uint64_t now;
    if (!clock_now(clk, &now))
        return -EINVAL;
    uint64_t remaining = absolute ? (ns > now ? ns - now : 0) : ns;
    clock_sleep_until(clock_monotonic_ns() + remaining);
    return 0;
}

long sys_clock_nanosleep(long clk, long flags, long req, long rem) {
    (void)rem;
    uint64_t ns;
    long err = get_timespec(req, &ns);
    if (err)
        return err;
    if (clk == CLOCK_THREAD_CPUTIME_ID)
        return -EINVAL;
    return sleep_on(clk, flags & TIMER_ABSTIME, ns);
}

long sys_nanosleep(long req, long rem) {
    (void)rem;
    uint64_t ns;
    long err = get_timespec(req, &ns);
    return err ? err : sleep_on(CLOCK_MONOTONIC, false, ns);
}

long sys_gettimeofday(long tv, long tz) {
    uint64_t ns = clock_realtime_ns();
    if (tv) {
        int64_t t[2] = {(int64_t)(ns / NS), (int64_t)(ns % NS / 1000)};
        if (copy_to_user((uint64_t)tv, t, sizeof t))
            return -EFAULT;
    }
    if (tz) {
        int32_t z[2] = {0, 0};
        if (copy_to_user((uint64_t)tz, z, sizeof z))
            return -EFAULT;
    }
    return 0;
}

long sys_time(long tloc) {
    int64_t t = (int64_t)(clock_realtime_ns() / NS);
    if (tloc && copy_to_user((uint64_t)tloc, &t, sizeof t))
        return -EFAULT;
    return t;
}
