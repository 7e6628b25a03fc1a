/*
 * Exceptions and interrupts. A fault in the program that is not a lazily mapped page ends the
 * VM the way Linux would end the process (128 + signal), with a report naming the fault; a
 * fault in the kernel is a panic with the same report.
 */
#include "cpu.h"
#include "lapic.h"
#include "syscall_names.h"
#include "unikit_abi.h"
#include "layout.h"
#include "vm.h"
#include "x86.h"

#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGSEGV 11

static const struct {
    const char *name, *mnemonic;
    int signal;
} exceptions[32] = {
    [0] = {"divide error", "#DE", SIGFPE},
    [1] = {"debug", "#DB", SIGTRAP},
    [2] = {"non-maskable interrupt", "NMI", SIGSEGV},
    [3] = {"breakpoint", "#BP", SIGTRAP},
    [4] = {"overflow", "#OF", SIGSEGV},
    [5] = {"bound range exceeded", "#BR", SIGSEGV},
    [6] = {"invalid opcode", "#UD", SIGILL},
    [7] = {"device not available", "#NM", SIGSEGV},
    [8] = {"double fault", "#DF", SIGSEGV},
    [10] = {"invalid TSS", "#TS", SIGSEGV},
    [11] = {"segment not present", "#NP", SIGBUS},
    [12] = {"stack-segment fault", "#SS", SIGBUS},
    [13] = {"general protection fault", "#GP", SIGSEGV},
    [14] = {"page fault", "#PF", SIGSEGV},
    [16] = {"x87 floating-point error", "#MF", SIGFPE},
    [17] = {"alignment check", "#AC", SIGBUS},
    [18] = {"machine check", "#MC", SIGBUS},
    [19] = {"SIMD floating-point error", "#XM", SIGFPE},
};

static void report(const char *who, const struct regs *r) {
    unsigned v = (unsigned)r->vector;
    const char *name = exceptions[v].name ? exceptions[v].name : "exception";
    const char *mn = exceptions[v].mnemonic ? exceptions[v].mnemonic : "?";
    kprintf(UNIKIT_KLOG_USER_PREFIX "%s fault: %s (%s, vector %u) at rip %p, rsp %p", who, name, mn, v,
            (void *)r->rip, (void *)r->rsp);
    if (v == 14) {
        uint64_t e = r->error;
        kprintf(", address %p (%s, %s%s)", (void *)read_cr2(), e & 2 ? "write" : e & 16 ? "execute" : "read",
                e & 1 ? "protection" : "not present", e & 8 ? ", reserved bit" : "");
    } else if (r->error) {
        kprintf(", error code 0x%lx", r->error);
    }
    long nr = last_syscall;
#ifdef UNIKIT_SPECIALIZED
    const char *sname = nr < 0 ? "none" : "?";   /* the host names it (see linux/table.c) */
#else
    const char *sname = nr >= 0 && nr < SYSCALL_NAMES_LEN && syscall_names[nr] ? syscall_names[nr] : "none";
#endif
    kprintf("; last syscall: %ld (%s)\n", nr, sname);
}

void trap_handler(struct regs *r) {
    if (r->vector >= 32) {
        /* Waking from HLT is the whole job of an interrupt here; drivers poll their queues. */
        if (r->vector != 0xff)
            lapic_eoi();
        irq_dispatch((unsigned)r->vector);
        return;
    }
    /* In fast mode the program runs in ring 0 too: its code is whatever lies in the lower half. */
    bool from_user = (r->cs & 3) == 3 || (fast_mode && r->rip < USER_TOP);
    /* A lazily mapped page, touched by the program or by the kernel on its behalf. */
    if (r->vector == 14 && read_cr2() < USER_TOP && vm_fault(read_cr2(), r->error & 2, from_user && (r->error & 16)))
        return;
    if (from_user) {
        report("program", r);
        if (r->rip == UNIKIT_FAST_SYSCALL_ENTRY && !fast_mode)
            kprintf(UNIKIT_KLOG_USER_PREFIX "the program was rewritten for fast mode; run the image in fast mode\n");
        int sig = exceptions[r->vector].signal ? exceptions[r->vector].signal : SIGSEGV;
        vm_exit(UNIKIT_STATUS_SIGNAL_BASE + sig, UNIKIT_EXIT_REASON_SIGNAL);
    }
    report("kernel", r);
    kprintf(UNIKIT_KLOG_USER_PREFIX "kernel panic: fault in the kernel\n");
    vm_exit(UNIKIT_STATUS_HOST_ERROR, UNIKIT_EXIT_REASON_PANIC);
}
