/*
 * Time calls: clock_gettime, clock_getres, clock_nanosleep, nanosleep, gettimeofday, time.
 * All raw: musl reads the clocks through the vDSO on Linux, which would skip the kernel.
 */
#include "check.h"

#include <sys/time.h>
#include <time.h>

#define NS_PER_S 1000000000L
#define MS 1000000L
#define YEAR_2020 1577836800L /* 2020-01-01T00:00:00Z */
#define BAD_CLOCK 100

static long long ns(struct timespec t)
{
	return t.tv_sec * (long long)NS_PER_S + t.tv_nsec;
}

static long long monotonic_ns(void)
{
	struct timespec t = {0, 0};
	sys(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return ns(t);
}

static void test_clock_gettime(void)
{
	struct timespec t, prev = {0, 0};
	int backwards = 0, bad_nsec = 0;
	for (int i = 0; i < 1000; i++) {
		if (EQ("clock_gettime", sys(SYS_clock_gettime, CLOCK_MONOTONIC, &t), 0) != 0)
			return;
		backwards += ns(t) < ns(prev);
		bad_nsec += t.tv_nsec < 0 || t.tv_nsec >= NS_PER_S;
		prev = t;
	}
	EQ("clock_gettime", backwards, 0); /* CLOCK_MONOTONIC never goes back */
	EQ("clock_gettime", bad_nsec, 0);

	EQ("clock_gettime", sys(SYS_clock_gettime, CLOCK_REALTIME, &t), 0);
	EXPECT("clock_gettime", t.tv_sec > YEAR_2020);
	ERR("clock_gettime", sys(SYS_clock_gettime, BAD_CLOCK, &t), EINVAL);
	ERR("clock_gettime", sys(SYS_clock_gettime, CLOCK_MONOTONIC, BAD_PTR), EFAULT);

	struct timespec res;
	EQ("clock_getres", sys(SYS_clock_getres, CLOCK_MONOTONIC, &res), 0);
	EXPECT("clock_getres", res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= MS);
	EQ("clock_getres", sys(SYS_clock_getres, CLOCK_REALTIME, &res), 0);
	EXPECT("clock_getres", res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= MS);
	EQ("clock_getres", sys(SYS_clock_getres, CLOCK_MONOTONIC, NULL), 0);
	ERR("clock_getres", sys(SYS_clock_getres, BAD_CLOCK, &res), EINVAL);
}

/*
 * A 10 ms sleep takes at least 10 ms, and ends: the upper bound is loose (10 s) because a loaded
 * shared host can stall a VM for a second; a sleep that never woke would hit it.
 */
static void expect_slept(const char *call, long long start)
{
	long long elapsed = monotonic_ns() - start;
	if (elapsed < 10 * MS || elapsed >= 10 * NS_PER_S)
		fail(call, "a 10 ms sleep took %lld ns", elapsed);
}

static void test_sleep(void)
{
	struct timespec ten_ms = {0, 10 * MS}, bad_nsec = {0, NS_PER_S}, negative = {-1, 0};

	long long start = monotonic_ns();
	EQ("nanosleep", sys(SYS_nanosleep, &ten_ms, NULL), 0);
	expect_slept("nanosleep", start);
	ERR("nanosleep", sys(SYS_nanosleep, &bad_nsec, NULL), EINVAL);
	ERR("nanosleep", sys(SYS_nanosleep, &negative, NULL), EINVAL);
	ERR("nanosleep", sys(SYS_nanosleep, BAD_PTR, NULL), EFAULT);

	start = monotonic_ns();
	EQ("clock_nanosleep", sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ten_ms, NULL), 0);
	expect_slept("clock_nanosleep", start);
	start = monotonic_ns();
	EQ("clock_nanosleep", sys(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &ten_ms, NULL), 0);
	expect_slept("clock_nanosleep", start);

	/* An absolute deadline: wake up no earlier than it. */
	start = monotonic_ns();
	long long deadline = start + 10 * MS;
	struct timespec abs = {deadline / NS_PER_S, deadline % NS_PER_S};
	EQ("clock_nanosleep", sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &abs,
				      NULL), 0);
	expect_slept("clock_nanosleep", start);
	EXPECT("clock_nanosleep", monotonic_ns() >= deadline);
	/* A deadline in the past returns at once. */
	struct timespec past = {0, 1};
	start = monotonic_ns();
	EQ("clock_nanosleep", sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past,
				      NULL), 0);
	EXPECT("clock_nanosleep", monotonic_ns() - start < 10 * MS);

	ERR("clock_nanosleep", sys(SYS_clock_nanosleep, BAD_CLOCK, 0, &ten_ms, NULL), EINVAL);
	ERR("clock_nanosleep", sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad_nsec, NULL),
	    EINVAL);
	ERR("clock_nanosleep", sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, BAD_PTR, NULL),
	    EFAULT);
}

/*
 * gettimeofday and time tell the same time as CLOCK_REALTIME: each read lies between two
 * CLOCK_REALTIME reads taken around it (to the second), whatever the host's scheduling did to the
 * time between the calls.
 */
static void test_wall_clock(void)
{
	struct timespec before, after;
	struct timeval tv;
	sys(SYS_clock_gettime, CLOCK_REALTIME, &before);
	EQ("gettimeofday", sys(SYS_gettimeofday, &tv, NULL), 0);
	sys(SYS_clock_gettime, CLOCK_REALTIME, &after);
	EXPECT("gettimeofday", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	EXPECT("gettimeofday", tv.tv_sec >= before.tv_sec && tv.tv_sec <= after.tv_sec);
	ERR("gettimeofday", sys(SYS_gettimeofday, BAD_PTR, NULL), EFAULT);

	time_t stored = 0;
	sys(SYS_clock_gettime, CLOCK_REALTIME, &before);
	long t = OK("time", sys(SYS_time, NULL));
	sys(SYS_clock_gettime, CLOCK_REALTIME, &after);
	EXPECT("time", t >= before.tv_sec && t <= after.tv_sec);
	t = OK("time", sys(SYS_time, &stored));
	EQ("time", stored, t);
	ERR("time", sys(SYS_time, BAD_PTR), EFAULT);
}

void test_time(void)
{
	test_clock_gettime();
	test_sleep();
	test_wall_clock();
}
