/*
 * Process syscalls for the one program in the VM: identity (pid 1, root), exit, TLS through
 * arch_prctl, limits, uname, signals (dispositions are kept; a signal sent to itself takes its
 * default action), futex for one thread, and the odds and ends libc start-up code asks for.
 */
#include "cpu.h"
#include "fs.h"
#include "wait.h"
#include "syscalls.h"
#include "unikit_abi.h"
#include "vm.h"
#include "x86.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
#define NSIG 64
#define SIGKILL 9
#define SIGSTOP 19
#define SIG_IGN 1

long sys_exit(long status) {
    network_flush_before_exit();
    vm_exit((int)(status & 0xff), UNIKIT_EXIT_REASON_EXIT);
}

long sys_exit_group(long status) { return sys_exit(status); }

static bool user_canonical(uint64_t a) { return a < USER_TOP; }

long sys_arch_prctl(long code, long addr) {
    switch (code) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
        if (!user_canonical((uint64_t)addr))
            return -EPERM;
        wrmsr(code == ARCH_SET_FS ? MSR_FS_BASE : MSR_GS_BASE, (uint64_t)addr);
        return 0;
    case ARCH_GET_FS:
    case ARCH_GET_GS: {
        uint64_t v = rdmsr(code == ARCH_GET_FS ? MSR_FS_BASE : MSR_GS_BASE);
        return copy_to_user((uint64_t)addr, &v, sizeof v);
    }
    default:
        return -EINVAL;
    }
}

long sys_set_tid_address(long tidptr) { (void)tidptr; return 1; }

long sys_set_robust_list(long head, long len) {
    (void)head;
    return len == 24 ? 0 : -EINVAL;   /* sizeof(struct robust_list_head) */
}

/* rseq: registration is accepted and cpu_id set to 0; with one CPU and no preemption a
 * restartable sequence never needs restarting. */
static uint64_t rseq_area;
long sys_rseq(long rseq, long len, long flags, long sig) {
    (void)sig;
    if (flags & ~1L)
        return -EINVAL;
    if (flags & 1) {   /* RSEQ_FLAG_UNREGISTER */
        if ((uint64_t)rseq != rseq_area)
            return -EINVAL;
        rseq_area = 0;
        return 0;
    }
    if (len < 32 || (rseq & 31))
        return -EINVAL;
    if (rseq_area)
        return (uint64_t)rseq == rseq_area ? -EBUSY : -EINVAL;
    uint32_t ids[2] = {0, 0};   /* cpu_id_start, cpu_id */
    if (copy_to_user((uint64_t)rseq, ids, sizeof ids))
        return -EFAULT;
    rseq_area = (uint64_t)rseq;
    return 0;
}

/* Resource limits: kept and reported; only RLIMIT_NOFILE shapes anything (via MAX_FDS). */
#define RLIM_INFINITY (~0ULL)
#define RLIMIT_NLIMITS 16
struct rlimit { uint64_t cur, max; };
static struct rlimit limits[RLIMIT_NLIMITS] = {
    [0] = {RLIM_INFINITY, RLIM_INFINITY},          /* CPU */
    [1] = {RLIM_INFINITY, RLIM_INFINITY},          /* FSIZE */
    [2] = {RLIM_INFINITY, RLIM_INFINITY},          /* DATA */
    [3] = {USER_STACK_SIZE, RLIM_INFINITY},        /* STACK */
    [4] = {0, RLIM_INFINITY},                      /* CORE */
    [5] = {RLIM_INFINITY, RLIM_INFINITY},          /* RSS */
    [6] = {1, 1},                                  /* NPROC */
    [7] = {MAX_FDS, MAX_FDS},                      /* NOFILE */
    [8] = {65536, 65536},                          /* MEMLOCK */
    [9] = {RLIM_INFINITY, RLIM_INFINITY},          /* AS */
    [10] = {RLIM_INFINITY, RLIM_INFINITY},         /* LOCKS */
    [11] = {0, 0},                                 /* SIGPENDING */
    [12] = {819200, 819200},                       /* MSGQUEUE */
    [13] = {0, 0},                                 /* NICE */
    [14] = {0, 0},                                 /* RTPRIO */
    [15] = {RLIM_INFINITY, RLIM_INFINITY},         /* RTTIME */
};

long sys_prlimit64(long pid, long resource, long new_limit, long old_limit) {
    if (pid != 0 && pid != 1)
        return -ESRCH;
    if (resource < 0 || resource >= RLIMIT_NLIMITS)
        return -EINVAL;
    struct rlimit next;
    if (new_limit) {
        if (copy_from_user(&next, (uint64_t)new_limit, sizeof next))
            return -EFAULT;
        if (next.cur > next.max)
            return -EINVAL;
        if (next.max > limits[resource].max)
            return -EPERM;
    }
    if (old_limit && copy_to_user((uint64_t)old_limit, &limits[resource], sizeof limits[resource]))
        return -EFAULT;
    if (new_limit)
        limits[resource] = next;
    return 0;
}

long sys_getrlimit(long resource, long rlim) { return sys_prlimit64(0, resource, 0, rlim); }
long sys_setrlimit(long resource, long rlim) { return sys_prlimit64(0, resource, rlim, 0); }

long sys_uname(long buf) {
    char u[6][65];
    memset(u, 0, sizeof u);
    static const char *const fields[6] = {"Linux", "unikit", "6.1.0-unikit", "#1 unikit", "x86_64", "(none)"};
    for (int i = 0; i < 6; i++)
        memcpy(u[i], fields[i], strlen(fields[i]));
    return copy_to_user((uint64_t)buf, u, sizeof u);
}

long sys_sysinfo(long info) {
    struct {
        int64_t uptime;
        uint64_t loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
        uint16_t procs, pad;
        uint32_t pad2;
        uint64_t totalhigh, freehigh;
        uint32_t mem_unit;
        char reserved[4];
    } si;
    memset(&si, 0, sizeof si);
    si.uptime = (int64_t)(clock_monotonic_ns() / 1000000000ULL);
    si.totalram = mm_total_pages() * PAGE_SIZE;
    si.freeram = mm_free_pages() * PAGE_SIZE;
    si.procs = 1;
    si.mem_unit = 1;
    return copy_to_user((uint64_t)info, &si, sizeof si);
}

long sys_getpid(void) { return 1; }
long sys_getppid(void) { return 0; }
long sys_gettid(void) { return 1; }
long sys_getuid(void) { return 0; }
long sys_geteuid(void) { return 0; }
long sys_getgid(void) { return 0; }
long sys_getegid(void) { return 0; }
long sys_getpgrp(void) { return 1; }
long sys_getpgid(long pid) { return pid == 0 || pid == 1 ? 1 : -ESRCH; }
long sys_setpgid(long pid, long pgid) { return (pid == 0 || pid == 1) && (pgid == 0 || pgid == 1) ? 0 : -EPERM; }
long sys_getsid(long pid) { return pid == 0 || pid == 1 ? 1 : -ESRCH; }
long sys_getgroups(long size, long list) { (void)list; return size < 0 ? -EINVAL : 0; }

/* The filesystem applies the mask to new files, so it keeps it. */
long sys_umask(long mask) { return fs_umask((unsigned)mask & 0777); }

long sys_getrandom(long buf, long len, long flags) {
    if (flags & ~7L)   /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
        return -EINVAL;
    if (len < 0)
        return -EINVAL;
    size_t n = MIN((size_t)len, (size_t)33554431);
    if (!user_range_ok((uint64_t)buf, n, true))
        return -EFAULT;
    random_bytes((void *)buf, n);
    return (long)n;
}

long sys_sched_yield(void) { return 0; }

long sys_sched_getaffinity(long pid, long len, long mask) {
    if (pid != 0 && pid != 1)
        return -ESRCH;
    if (len < 8 || (len & 7))
        return -EINVAL;
    uint64_t one = 1;
    if (copy_to_user((uint64_t)mask, &one, sizeof one))
        return -EFAULT;
    return 8;
}

/* Signals: dispositions and the mask are kept so programs read back what they set. */
struct k_sigaction { uint64_t handler, flags, restorer, mask; };
static struct k_sigaction actions[NSIG + 1];
static uint64_t blocked;
static uint64_t altstack[3];   /* ss_sp, ss_flags (int + pad), ss_size */

long sys_rt_sigaction(long sig, long act, long oldact, long sigsetsize) {
    if (sigsetsize != 8)
        return -EINVAL;
    if (sig < 1 || sig > NSIG)
        return -EINVAL;
    struct k_sigaction next;
    if (act && copy_from_user(&next, (uint64_t)act, sizeof next))
        return -EFAULT;
    if (act && (sig == SIGKILL || sig == SIGSTOP))
        return -EINVAL;
    if (oldact && copy_to_user((uint64_t)oldact, &actions[sig], sizeof actions[sig]))
        return -EFAULT;
    if (act)
        actions[sig] = next;
    return 0;
}

long sys_rt_sigprocmask(long how, long set, long oldset, long sigsetsize) {
    if (sigsetsize != 8)
        return -EINVAL;
    uint64_t s = 0;
    if (set && copy_from_user(&s, (uint64_t)set, sizeof s))
        return -EFAULT;
    if (set && how != 0 && how != 1 && how != 2)
        return -EINVAL;
    if (oldset && copy_to_user((uint64_t)oldset, &blocked, sizeof blocked))
        return -EFAULT;
    if (set) {
        s &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
        blocked = how == 0 ? blocked | s : how == 1 ? blocked & ~s : s;
    }
    return 0;
}

long sys_sigaltstack(long ss, long old_ss) {
    uint64_t next[3];
    if (ss && copy_from_user(next, (uint64_t)ss, sizeof next))
        return -EFAULT;
    if (old_ss) {
        uint64_t cur[3] = {altstack[0], altstack[2] ? 0 : 2 /* SS_DISABLE */, altstack[2]};
        if (copy_to_user((uint64_t)old_ss, cur, sizeof cur))
            return -EFAULT;
    }
    if (ss) {
        uint32_t flags = (uint32_t)next[1];
        if (flags & ~(2u | (1u << 31)))
            return -EINVAL;
        if (flags & 2) {
            memset(altstack, 0, sizeof altstack);
        } else {
            if (next[2] < 2048)   /* MINSIGSTKSZ */
                return -ENOMEM;
            memcpy(altstack, next, sizeof altstack);
        }
    }
    return 0;
}

/* A signal the program sends itself: ignored, or the default action (end with 128 + sig).
 * Running a handler needs signal frames, which come with the signal work. */
long signal_raise(long sig) {
    if (sig == 0)
        return 0;
    if (sig < 0 || sig > NSIG)
        return -EINVAL;
    uint64_t h = actions[sig].handler;
    bool default_ignore = sig == 17 || sig == 23 || sig == 28;   /* SIGCHLD, SIGURG, SIGWINCH */
    if (h == SIG_IGN || (h == 0 && default_ignore))
        return 0;
    if (h > SIG_IGN)
        kprintf("unikit: signal %ld has a handler, but handlers are not run yet; ending the program\n", sig);
    vm_exit(UNIKIT_STATUS_SIGNAL_BASE + (int)sig, UNIKIT_EXIT_REASON_SIGNAL);
}

long sys_kill(long pid, long sig) {
    if (pid != 1 && pid != 0 && pid != -1)
        return -ESRCH;
    return signal_raise(sig);
}

long sys_tgkill(long tgid, long tid, long sig) {
    if (tgid != 1 || tid != 1)
        return -ESRCH;
    return signal_raise(sig);
}

/* futex with one thread: a wake wakes nobody; a wait either fails at once (value changed) or
 * would never end, which is reported rather than hung. */
long sys_futex(long uaddr, long op, long val, long timeout, long uaddr2, long val3) {
    (void)uaddr2, (void)val3;
    if (uaddr & 3)
        return -EINVAL;
    int cmd = (int)(op & 127);
    uint32_t cur;
    switch (cmd) {
    case 1:   /* FUTEX_WAKE */
    case 10:  /* FUTEX_WAKE_BITSET */
        if (!user_range_ok((uint64_t)uaddr, 4, false))
            return -EFAULT;
        return 0;
    case 0:   /* FUTEX_WAIT */
    case 9: { /* FUTEX_WAIT_BITSET */
        if (copy_from_user(&cur, (uint64_t)uaddr, 4))
            return -EFAULT;
        if (cur != (uint32_t)val)
            return -EAGAIN;
        if (timeout) {
            int64_t ts[2];
            if (copy_from_user(ts, (uint64_t)timeout, sizeof ts))
                return -EFAULT;
            if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
                return -EINVAL;
            uint64_t ns = (uint64_t)ts[0] * 1000000000ULL + (uint64_t)ts[1];
            /* FUTEX_WAIT takes a relative timeout, the BITSET form an absolute one. */
            uint64_t deadline = cmd == 0 ? clock_monotonic_ns() + ns : ns;
            clock_sleep_until(deadline);
            return -ETIMEDOUT;
        }
        kprintf("unikit: futex wait with no other thread to wake it: the program would hang\n");
        return -EDEADLK;
    }
    default:
        return -ENOSYS;
    }
}

static char task_name[16] = "app";
long sys_prctl(long option, long a2, long a3, long a4, long a5) {
    (void)a3, (void)a4, (void)a5;
    switch (option) {
    case 15:   /* PR_SET_NAME */
        if (strncpy_from_user(task_name, (uint64_t)a2, sizeof task_name) == -EFAULT)
            return -EFAULT;
        task_name[15] = 0;
        return 0;
    case 16:   /* PR_GET_NAME */
        return copy_to_user((uint64_t)a2, task_name, sizeof task_name);
    case 3:    /* PR_GET_DUMPABLE */
        return 0;
    case 4:    /* PR_SET_DUMPABLE */
    case 38:   /* PR_SET_NO_NEW_PRIVS */
    case 1:    /* PR_SET_PDEATHSIG */
        return 0;
    default:
        return -EINVAL;
    }
}

long sys_getrusage(long who, long usage) {
    if (who != 0 && who != -1 && who != 1)
        return -EINVAL;
    int64_t ru[18];
    memset(ru, 0, sizeof ru);
    if (who != -1) {
        uint64_t ns = clock_monotonic_ns();
        ru[0] = (int64_t)(ns / 1000000000ULL);
        ru[1] = (int64_t)(ns % 1000000000ULL / 1000);
        ru[4] = (int64_t)((mm_total_pages() - mm_free_pages()) * 4);   /* maxrss, KiB */
    }
    return copy_to_user((uint64_t)usage, ru, sizeof ru);
}

long sys_times(long buf) {
    uint64_t ticks = clock_monotonic_ns() / 10000000ULL;   /* CLK_TCK = 100 */
    if (buf) {
        uint64_t t[4] = {ticks, 0, 0, 0};
        if (copy_to_user((uint64_t)buf, t, sizeof t))
            return -EFAULT;
    }
    return (long)ticks;
}

long sys_wait4(long pid, long status, long options, long rusage) {
    (void)pid, (void)status, (void)options, (void)rusage;
    return -ECHILD;
}
