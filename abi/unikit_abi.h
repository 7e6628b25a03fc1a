/*
 * The contract between the host side (src/vmm, src/image) and the guest kernel.
 * One definition: src/abi/index.ts mirrors these values and a test keeps the two in sync.
 * Bump UNIKIT_ABI_VERSION whenever a value or a meaning below changes.
 */
#ifndef UNIKIT_ABI_H
#define UNIKIT_ABI_H

#define UNIKIT_ABI_VERSION 1

/* I/O ports the guest writes. */
#define UNIKIT_PORT_STDOUT 0x3f8    /* 8250 COM1: the program's fd 1, raw bytes */
#define UNIKIT_PORT_STDERR 0x2f8    /* 8250 COM2: the program's fd 2, raw bytes */
#define UNIKIT_PORT_KLOG 0xe9       /* isa-debugcon: kernel log, text lines */
#define UNIKIT_PORT_EXIT 0xf4       /* isa-debug-exit, iosize 4: ends the VM */
#define UNIKIT_PORT_CONTROL 0x3e8   /* 8250 COM3, with the "control" flag: requests from the host */
#define UNIKIT_CONTROL_IRQ 5        /* its interrupt line (ISA IRQ = IOAPIC pin) */
#define UNIKIT_CONTROL_TERMINATE 84 /* 'T' received: the program gets SIGTERM (default: exit 143) */

/* Statuses `unikit run` exits with besides the program's own 0..255. */
#define UNIKIT_STATUS_HOST_ERROR 125  /* unikit or QEMU failed, or the kernel panicked */
#define UNIKIT_STATUS_LOAD_ERROR 126  /* the kernel could not load the program */
#define UNIKIT_STATUS_SIGNAL_BASE 128 /* the program died of signal N: 128 + N */

/* Kernel log markers: lines that start with '@' are for the host, not the user. */
#define UNIKIT_MARK_ENTERING "@entering-program"   /* the first user instruction is next */
#define UNIKIT_MARK_EXIT "@exit"                   /* "@exit <status> <reason>" */
#define UNIKIT_MARK_TRACE "@trace"                 /* "@trace <n1>,<n2>,..." before "@exit" (the "trace" flag) */
#define UNIKIT_MARK_NETPOLICY "@netpolicy"         /* "@netpolicy <op> <tcp|udp> <a.b.c.d>:<port>": a refusal */
/* reasons of "@exit" */
#define UNIKIT_EXIT_REASON_EXIT "exit"        /* the program called exit/exit_group */
#define UNIKIT_EXIT_REASON_SIGNAL "signal"    /* the program faulted: status = 128 + signal */
#define UNIKIT_EXIT_REASON_LOAD "load-error"  /* status = 126 */
#define UNIKIT_EXIT_REASON_PANIC "panic"      /* status = 125 */
/* Lines that start with "unikit: " are messages for the user (the host shows them on stderr). */
#define UNIKIT_KLOG_USER_PREFIX "unikit: "


/*
 * Fast mode (the "fast" command-line flag): the program runs in ring 0 and a rewritten syscall
 * site calls the kernel directly at this address, with the syscall convention (number in rax,
 * arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 clobbered; result in rax). The caller
 * must first move rsp below its 128-byte red zone, since the call pushes a return address.
 */
#define UNIKIT_FAST_SYSCALL_ENTRY 0xffffffffff600000
#endif
