/*
 * The syscall table: Linux x86-64 numbers to handlers, and the dispatcher the entry code
 * calls. A number with no handler returns -ENOSYS and is named once on the console. Calls that
 * are correct as no-ops in a one-process VM are listed as ignored, so coverage is one read.
 */
#include "config.h"
#include "cpu.h"
#include "syscall_names.h"
#include "syscall_numbers.h"
#include "syscalls.h"
#include "unikit_abi.h"

struct syscall_entry {
    uint8_t nargs;
    union {
        long (*f0)(void);
        long (*f1)(long);
        long (*f2)(long, long);
        long (*f3)(long, long, long);
        long (*f4)(long, long, long, long);
        long (*f5)(long, long, long, long, long);
        long (*f6)(long, long, long, long, long, long);
    };
};

#define IGNORED 7

/* Every syscall the kernel has: S entries (argument count, name) are implemented, IGNORE entries
 * are accepted as no-ops.
 * src/analyze reads this list to say what unikit implements, ignores or lacks. */
#define SYSCALL_LIST(S, IGNORE) \
    /* files.c */ \
    S(3, read) S(3, write) S(3, readv) S(3, writev) S(4, pread64) S(4, pwrite64) S(3, open) \
    S(4, openat) S(2, creat) S(1, close) S(3, lseek) S(2, fstat) S(2, stat) S(2, lstat) \
    S(4, newfstatat) S(5, statx) S(3, getdents64) S(2, access) S(3, faccessat) S(4, faccessat2) \
    S(3, readlink) S(4, readlinkat) S(2, getcwd) S(1, chdir) S(1, fchdir) S(3, fcntl) S(1, dup) \
    S(2, dup2) S(3, dup3) S(1, pipe) S(2, pipe2) S(3, ioctl) S(2, mkdir) S(3, mkdirat) S(1, rmdir) \
    S(1, unlink) S(3, unlinkat) S(2, rename) S(4, renameat) S(5, renameat2) S(2, ftruncate) \
    S(2, truncate) S(1, fsync) S(1, fdatasync) S(4, sendfile) S(2, symlink) S(2, chmod) S(2, fchmod) \
    S(4, utimensat) S(2, statfs) S(2, fstatfs) S(3, poll) S(3, close_range) \
    /* memory.c */ \
    S(6, mmap) S(2, munmap) S(3, mprotect) S(5, mremap) S(3, madvise) S(1, brk) \
    /* process.c */ \
    S(1, exit) S(1, exit_group) S(2, arch_prctl) S(1, set_tid_address) S(2, set_robust_list) \
    S(4, rseq) S(4, prlimit64) S(2, getrlimit) S(2, setrlimit) S(1, uname) S(1, sysinfo) S(0, getpid) \
    S(0, getppid) S(0, gettid) S(0, getuid) S(0, geteuid) S(0, getgid) S(0, getegid) S(0, getpgrp) \
    S(1, getpgid) S(2, setpgid) S(1, getsid) S(1, umask) S(3, getrandom) S(0, sched_yield) \
    S(3, sched_getaffinity) S(4, rt_sigaction) S(4, rt_sigprocmask) S(2, sigaltstack) S(6, futex) \
    S(2, kill) S(3, tgkill) S(2, getgroups) S(5, prctl) S(2, getrusage) S(1, times) S(4, wait4) \
    /* sockets.c */ \
    S(3, socket) S(3, bind) S(2, listen) S(3, accept) S(4, accept4) S(3, connect) S(3, getsockname) \
    S(3, getpeername) S(5, setsockopt) S(5, getsockopt) S(2, shutdown) S(6, sendto) S(6, recvfrom) \
    S(3, sendmsg) S(3, recvmsg) \
    /* poll.c */ \
    S(5, ppoll) S(5, select) S(6, pselect6) S(1, epoll_create) S(1, epoll_create1) S(4, epoll_ctl) \
    S(4, epoll_wait) S(6, epoll_pwait) S(1, eventfd) S(2, eventfd2) \
    /* time.c */ \
    S(2, clock_gettime) S(2, clock_getres) S(4, clock_nanosleep) S(2, nanosleep) S(2, gettimeofday) \
    S(1, time) \
    /* No-ops that are right for one program alone in its VM. */ \
    IGNORE(sync) IGNORE(syncfs) IGNORE(mlock) IGNORE(munlock) IGNORE(mlockall) IGNORE(munlockall) \
    IGNORE(fadvise64) IGNORE(sched_setaffinity) IGNORE(setpriority) IGNORE(membarrier)

/* The table's length is the highest enabled number + 1, so a per-program kernel carries a table
 * only as long as its highest syscall: the size of a union of arrays, one per entry. */
#define LEN_OF_S(n, name) char name[SYSCALL_ENABLED(name) ? NR_##name + 1 : 0];
#define LEN_OF_IGNORE(name) LEN_OF_S(0, name)
union table_len {
    char none;
    SYSCALL_LIST(LEN_OF_S, LEN_OF_IGNORE)
};
#define TABLE_LEN (sizeof(union table_len))

/* A disabled entry lands, empty, in the spare slot at TABLE_LEN, so no reference keeps its code
 * alive and nothing lies beyond the highest enabled number. */
#define SLOT(name) [SYSCALL_ENABLED(name) ? NR_##name : TABLE_LEN]
#define ENTRY_S(n, name) SLOT(name) = {SYSCALL_ENABLED(name) ? n : 0, .f##n = SYSCALL_ENABLED(name) ? sys_##name : NULL},
#define ENTRY_IGNORE(name) SLOT(name) = {SYSCALL_ENABLED(name) ? IGNORED : 0, .f0 = NULL},

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"   /* the spare slot is written many times, always empty */
static const struct syscall_entry table[TABLE_LEN + 1] = {SYSCALL_LIST(ENTRY_S, ENTRY_IGNORE)};
#pragma GCC diagnostic pop

long last_syscall = -1;
bool syscall_strict;
bool syscall_trace;
static uint8_t reported[SYSCALL_NAMES_LEN / 8];
static uint8_t traced[SYSCALL_NAMES_LEN / 8];   /* the "trace" flag: every number made, once */

void syscall_trace_report(void) {
    if (!syscall_trace)
        return;
    char buf[8];
    bool first = true;
    klog_write(UNIKIT_MARK_TRACE, sizeof UNIKIT_MARK_TRACE - 1);
    for (int nr = 0; nr < SYSCALL_NAMES_LEN; nr++) {
        if (!(traced[nr / 8] & (1u << (nr % 8))))
            continue;
        int n = snprintf(buf, sizeof buf, "%c%d", first ? ' ' : ',', nr);
        klog_write(buf, (size_t)n);
        first = false;
    }
    klog_write("\n", 1);
}

/* A per-program kernel leaves the name table out: its messages give the number, and the host
 * adds the name (src/vmm) from abi/syscalls.tsv. */
static const char *name_of(long nr) {
#ifdef UNIKIT_SPECIALIZED
    (void)nr;
    return "?";
#else
    return nr >= 0 && nr < SYSCALL_NAMES_LEN && syscall_names[nr] ? syscall_names[nr] : "unknown";
#endif
}

static long not_implemented(long nr) {
    bool known = nr >= 0 && nr < SYSCALL_NAMES_LEN;
#ifdef UNIKIT_SPECIALIZED
    /* The image's kernel was built for a set of syscalls; this one is outside it. */
    if (syscall_strict) {
        kprintf("unikit: syscall %ld (%s) is outside this image's syscall set: stopping (strict)\n", nr,
                name_of(nr));
        vm_exit(UNIKIT_STATUS_SIGNAL_BASE + 31, UNIKIT_EXIT_REASON_SIGNAL);   /* SIGSYS, as seccomp would */
    }
#endif
    if (!known || !(reported[nr / 8] & (1u << (nr % 8)))) {
        if (known)
            reported[nr / 8] |= (uint8_t)(1u << (nr % 8));
        kprintf("unikit: syscall %ld (%s) is not implemented\n", nr, name_of(nr));
    }
    return -ENOSYS;
}

/* The fast-mode entry (arch/entry.S) calls this with the arguments in place and the number last. */
long syscall_fast_dispatch(long a0, long a1, long a2, long a3, long a4, long a5, long nr);

long syscall_fast_dispatch(long a0, long a1, long a2, long a3, long a4, long a5, long nr) {
    last_syscall = nr;
    if (syscall_trace && nr >= 0 && nr < SYSCALL_NAMES_LEN)
        traced[nr / 8] |= (uint8_t)(1u << (nr % 8));
    const struct syscall_entry *e = nr >= 0 && (uint64_t)nr < TABLE_LEN ? &table[nr] : NULL;
    long ret;
    if (!e || (!e->f0 && e->nargs != IGNORED))
        ret = not_implemented(nr);
    else switch (e->nargs) {
    case 0: ret = e->f0(); break;
    case 1: ret = e->f1(a0); break;
    case 2: ret = e->f2(a0, a1); break;
    case 3: ret = e->f3(a0, a1, a2); break;
    case 4: ret = e->f4(a0, a1, a2, a3); break;
    case 5: ret = e->f5(a0, a1, a2, a3, a4); break;
    case 6: ret = e->f6(a0, a1, a2, a3, a4, a5); break;
    default: ret = 0; break;   /* IGNORED */
    }
    return ret;
}

void syscall_dispatch(struct regs *r) {
    r->rax = (uint64_t)syscall_fast_dispatch((long)r->rdi, (long)r->rsi, (long)r->rdx, (long)r->r10, (long)r->r8,
                                             (long)r->r9, (long)r->rax);
}
