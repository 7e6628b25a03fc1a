/*
 * Process calls: arch_prctl, set_tid_address, set_robust_list, rseq, prlimit64, getrlimit,
 * setrlimit, uname, sysinfo, the ids, getrandom, sched_yield, sched_getaffinity,
 * rt_sigaction, rt_sigprocmask, sigaltstack, futex.
 */
#include "check.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>

#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003

static void test_arch_prctl(void)
{
	/* musl points %fs at its thread structure, whose first word points to itself. */
	uintptr_t self, fs = 0;
	__asm__("mov %%fs:0, %0" : "=r"(self));
	EQ("arch_prctl", sys(SYS_arch_prctl, ARCH_GET_FS, &fs), 0);
	EQ("arch_prctl", fs, self);
	EQ("arch_prctl", sys(SYS_arch_prctl, ARCH_SET_FS, fs), 0); /* the same value again */
	ERR("arch_prctl", sys(SYS_arch_prctl, ARCH_GET_FS, KERNEL_PTR), EFAULT);
	ERR("arch_prctl", sys(SYS_arch_prctl, 0x9999, &fs), EINVAL);
}

static void test_ids(void)
{
	long pid = OK("getpid", sys(SYS_getpid));
	EXPECT("getpid", pid > 0);
	EXPECT("getppid", OK("getppid", sys(SYS_getppid)) >= 0);
	EQ("gettid", sys(SYS_gettid), pid); /* one thread: its id is the process id */
	/* Any number will do for the ids, as long as the calls answer. */
	OK("getuid", sys(SYS_getuid));
	OK("geteuid", sys(SYS_geteuid));
	OK("getgid", sys(SYS_getgid));
	OK("getegid", sys(SYS_getegid));

	/* The word stays valid for the whole run: the kernel clears it when the thread exits. */
	static int tid_word;
	EQ("set_tid_address", sys(SYS_set_tid_address, &tid_word), pid);
}

/* The kernel's struct robust_list_head; a list that points to itself is empty. */
struct robust_head {
	void *next;
	long futex_offset;
	void *pending;
};

static void test_robust_list_rseq(void)
{
	static struct robust_head head = {&head, 0, NULL};
	EQ("set_robust_list", sys(SYS_set_robust_list, &head, sizeof head), 0);
	ERR("set_robust_list", sys(SYS_set_robust_list, &head, sizeof head - 1), EINVAL);

	/* rseq is optional (musl does not use it): ENOSYS is an acceptable answer. */
	static _Alignas(32) struct {
		uint32_t cpu_id_start, cpu_id;
		uint64_t rseq_cs;
		uint32_t flags, pad[3];
	} area;
	const uint32_t sig = 0x53053053;
	long r = sys(SYS_rseq, &area, 0, 0, sig);
	if (!(r == -1 && (errno == EINVAL || errno == ENOSYS)))
		fail("rseq", "with length 0: got %ld errno %d, want -1 EINVAL or ENOSYS", r, errno);
	r = sys(SYS_rseq, &area, sizeof area, 0, sig);
	if (r == 0)
		EQ("rseq", sys(SYS_rseq, &area, sizeof area, 1 /* UNREGISTER */, sig), 0);
	else if (errno != ENOSYS)
		fail("rseq", "register: got %ld errno %d, want 0 or -1 ENOSYS", r, errno);
}

/* The raw calls use the kernel's struct rlimit: two unsigned longs, like musl's. */
static void test_rlimits(void)
{
	struct rlimit old, now, prev;
	EQ("prlimit64", sys(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old), 0);
	EXPECT("prlimit64", old.rlim_cur <= old.rlim_max && old.rlim_cur > 3);
	EQ("getrlimit", sys(SYS_getrlimit, RLIMIT_NOFILE, &now), 0);
	EXPECT("getrlimit", now.rlim_cur == old.rlim_cur && now.rlim_max == old.rlim_max);
	EQ("getrlimit", sys(SYS_getrlimit, RLIMIT_STACK, &now), 0);
	EXPECT("getrlimit", now.rlim_cur > 0);

	/* Lower the soft limit on open files, read it back, then restore it. */
	struct rlimit lower = {old.rlim_cur / 2, old.rlim_max};
	EQ("setrlimit", sys(SYS_setrlimit, RLIMIT_NOFILE, &lower), 0);
	EQ("setrlimit", sys(SYS_getrlimit, RLIMIT_NOFILE, &now), 0);
	EQ("setrlimit", now.rlim_cur, lower.rlim_cur);
	EQ("prlimit64", sys(SYS_prlimit64, 0, RLIMIT_NOFILE, &old, &prev), 0);
	EQ("prlimit64", prev.rlim_cur, lower.rlim_cur);
	sys(SYS_getrlimit, RLIMIT_NOFILE, &now);
	EQ("prlimit64", now.rlim_cur, old.rlim_cur);

	struct rlimit inverted = {2, 1};
	ERR("setrlimit", sys(SYS_setrlimit, RLIMIT_NOFILE, &inverted), EINVAL);
	ERR("prlimit64", sys(SYS_prlimit64, 0, RLIMIT_NOFILE, &inverted, NULL), EINVAL);
	ERR("getrlimit", sys(SYS_getrlimit, 999, &now), EINVAL);
	ERR("prlimit64", sys(SYS_prlimit64, 0, 999, NULL, &now), EINVAL);
	ERR("getrlimit", sys(SYS_getrlimit, RLIMIT_NOFILE, BAD_PTR), EFAULT);
}

static void test_uname_sysinfo(void)
{
	struct utsname u;
	EQ("uname", sys(SYS_uname, &u), 0);
	EXPECT("uname", strcmp(u.sysname, "Linux") == 0);
	EXPECT("uname", strcmp(u.machine, "x86_64") == 0);
	EXPECT("uname", u.release[0] != '\0');
	ERR("uname", sys(SYS_uname, BAD_PTR), EFAULT);

	struct sysinfo si;
	EQ("sysinfo", sys(SYS_sysinfo, &si), 0);
	EXPECT("sysinfo", si.totalram > 0 && si.freeram <= si.totalram);
	EXPECT("sysinfo", si.mem_unit >= 1 && si.procs >= 1);
	ERR("sysinfo", sys(SYS_sysinfo, BAD_PTR), EFAULT);
}

static void test_getrandom(void)
{
	unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
	EQ("getrandom", sys(SYS_getrandom, a, sizeof a, 0), 32);
	EXPECT("getrandom", memcmp(a, zero, sizeof a) != 0);
	EQ("getrandom", sys(SYS_getrandom, b, sizeof b, 1 /* GRND_NONBLOCK */), 32);
	EXPECT("getrandom", memcmp(a, b, sizeof a) != 0);
	EQ("getrandom", sys(SYS_getrandom, a, 0, 0), 0);
	ERR("getrandom", sys(SYS_getrandom, a, sizeof a, 0x100), EINVAL);
	ERR("getrandom", sys(SYS_getrandom, BAD_PTR, sizeof a, 0), EFAULT);
}

static void test_sched(void)
{
	EQ("sched_yield", sys(SYS_sched_yield), 0);

	/* The raw call returns the size of the mask it wrote, in bytes. */
	unsigned long mask[16] = {0};
	long n = OK("sched_getaffinity", sys(SYS_sched_getaffinity, 0, sizeof mask, mask));
	EXPECT("sched_getaffinity", n > 0 && n <= (long)sizeof mask && n % sizeof(long) == 0);
	int any = 0;
	for (size_t i = 0; i < sizeof mask / sizeof mask[0]; i++)
		any |= mask[i] != 0;
	EXPECT("sched_getaffinity", any);
	ERR("sched_getaffinity", sys(SYS_sched_getaffinity, 0, 4, mask), EINVAL);
	ERR("sched_getaffinity", sys(SYS_sched_getaffinity, 0, sizeof mask, BAD_PTR), EFAULT);
}

static void on_signal(int sig)
{
	(void)sig;
}

/* The kernel's struct sigaction, for the raw error cases. */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

#define SIGSET_SIZE 8 /* the kernel's sigset_t: 64 signals */
#define BIT(sig) (1ull << ((sig) - 1))

static void test_sigaction(void)
{
	struct sigaction sa = {0}, old, now;
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	/* libc's sigaction makes the raw call and reads the kernel's answer back. */
	EQ("rt_sigaction", sigaction(SIGUSR1, &sa, &old), 0);
	EXPECT("rt_sigaction", old.sa_handler == SIG_DFL);
	EQ("rt_sigaction", sigaction(SIGUSR1, NULL, &now), 0);
	EXPECT("rt_sigaction", now.sa_handler == on_signal);
	EXPECT("rt_sigaction", (now.sa_flags & SA_RESTART) != 0);
	EXPECT("rt_sigaction", sigismember(&now.sa_mask, SIGUSR2) == 1);
	EQ("rt_sigaction", sigaction(SIGUSR1, &old, NULL), 0);

	struct ksigaction k = {on_signal, 0, NULL, 0}, kold;
	EQ("rt_sigaction", sys(SYS_rt_sigaction, SIGKILL, NULL, &kold, SIGSET_SIZE), 0);
	ERR("rt_sigaction", sys(SYS_rt_sigaction, SIGKILL, &k, NULL, SIGSET_SIZE), EINVAL);
	ERR("rt_sigaction", sys(SYS_rt_sigaction, 0, &k, NULL, SIGSET_SIZE), EINVAL);
	ERR("rt_sigaction", sys(SYS_rt_sigaction, 65, &k, NULL, SIGSET_SIZE), EINVAL);
	ERR("rt_sigaction", sys(SYS_rt_sigaction, SIGUSR1, &k, NULL, 4), EINVAL);
	ERR("rt_sigaction", sys(SYS_rt_sigaction, SIGUSR1, BAD_PTR, NULL, SIGSET_SIZE), EFAULT);
}

static void test_sigprocmask(void)
{
	uint64_t old, now, set = BIT(SIGUSR1);
	EQ("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, SIGSET_SIZE), 0);
	EQ("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, SIGSET_SIZE), 0);
	EXPECT("rt_sigprocmask", (now & BIT(SIGUSR1)) != 0);
	EQ("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, SIGSET_SIZE), 0);
	sys(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, SIGSET_SIZE);
	EXPECT("rt_sigprocmask", (now & BIT(SIGUSR1)) == 0);
	/* SIGKILL and SIGSTOP cannot be blocked: the request is silently trimmed. */
	set = BIT(SIGKILL) | BIT(SIGSTOP) | BIT(SIGUSR2);
	EQ("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_SETMASK, &set, NULL, SIGSET_SIZE), 0);
	sys(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, SIGSET_SIZE);
	EQ("rt_sigprocmask", now & (BIT(SIGKILL) | BIT(SIGSTOP) | BIT(SIGUSR2)), BIT(SIGUSR2));
	EQ("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, SIGSET_SIZE), 0);

	ERR("rt_sigprocmask", sys(SYS_rt_sigprocmask, 99, &set, NULL, SIGSET_SIZE), EINVAL);
	ERR("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4), EINVAL);
	ERR("rt_sigprocmask", sys(SYS_rt_sigprocmask, SIG_BLOCK, BAD_PTR, NULL, SIGSET_SIZE),
	    EFAULT);
}

static void test_sigaltstack(void)
{
	static char stack_area[16384];
	stack_t ss = {0}, old;
	EQ("sigaltstack", sys(SYS_sigaltstack, NULL, &old), 0);
	EXPECT("sigaltstack", old.ss_flags == SS_DISABLE);

	ss.ss_sp = stack_area;
	ss.ss_size = sizeof stack_area;
	EQ("sigaltstack", sys(SYS_sigaltstack, &ss, NULL), 0);
	EQ("sigaltstack", sys(SYS_sigaltstack, NULL, &old), 0);
	EXPECT("sigaltstack", old.ss_sp == stack_area && old.ss_size == sizeof stack_area);
	EQ("sigaltstack", old.ss_flags, 0);

	stack_t small = {.ss_sp = stack_area, .ss_size = 1024}; /* below MINSIGSTKSZ */
	ERR("sigaltstack", sys(SYS_sigaltstack, &small, NULL), ENOMEM);
	stack_t bad_flags = {.ss_sp = stack_area, .ss_flags = 0x10, .ss_size = sizeof stack_area};
	ERR("sigaltstack", sys(SYS_sigaltstack, &bad_flags, NULL), EINVAL);
	ERR("sigaltstack", sys(SYS_sigaltstack, BAD_PTR, NULL), EFAULT);

	stack_t off = {.ss_flags = SS_DISABLE};
	EQ("sigaltstack", sys(SYS_sigaltstack, &off, NULL), 0);
	sys(SYS_sigaltstack, NULL, &old);
	EQ("sigaltstack", old.ss_flags, SS_DISABLE);
}

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE 128

static void test_futex(void)
{
	static int word = 5;
	struct timespec ms = {0, 1000000};
	EQ("futex", sys(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0), 0); /* nobody waits */
	EQ("futex", sys(SYS_futex, &word, FUTEX_WAKE | FUTEX_PRIVATE, 1, NULL, NULL, 0), 0);
	ERR("futex", sys(SYS_futex, &word, FUTEX_WAIT, 4, NULL, NULL, 0), EAGAIN);
	ERR("futex", sys(SYS_futex, &word, FUTEX_WAIT | FUTEX_PRIVATE, 4, NULL, NULL, 0), EAGAIN);
	/* The value matches and nobody will wake us: the timeout ends the wait. */
	ERR("futex", sys(SYS_futex, &word, FUTEX_WAIT | FUTEX_PRIVATE, 5, &ms, NULL, 0),
	    ETIMEDOUT);
	ERR("futex", sys(SYS_futex, (char *)&word + 1, FUTEX_WAKE, 1, NULL, NULL, 0), EINVAL);
	ERR("futex", sys(SYS_futex, KERNEL_PTR, FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT);
}

void test_process(void)
{
	test_arch_prctl();
	test_ids();
	test_robust_list_rseq();
	test_rlimits();
	test_uname_sysinfo();
	test_getrandom();
	test_sched();
	test_sigaction();
	test_sigprocmask();
	test_sigaltstack();
	test_futex();
}
