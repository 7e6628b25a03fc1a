/* The CPU: descriptor tables, the syscall MSRs, FPU/SSE/AVX state, and the trap frame. */
#ifndef CPU_H
#define CPU_H
#include "kernel.h"

#define SEL_KERNEL_CODE 0x08
#define SEL_KERNEL_DATA 0x10
#define SEL_USER_DATA 0x1b
#define SEL_USER_CODE 0x23
#define SEL_TSS 0x28
#define VECTOR_SYSCALL 256   /* the trap frame's vector for a frame built by the syscall entry */

/* Saved by arch/entry.S on every entry to the kernel; the layout is fixed by that file. */
struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

struct cpu_features {
    bool nx, xsave, avx, rdrand, fsgsbase;
    uint32_t hwcap;           /* CPUID.1:EDX, what AT_HWCAP reports */
    uint64_t xcr0;
};
extern struct cpu_features cpu;

void cpu_init(void);                       /* arch/cpu.c: GDT, TSS, IDT, MSRs, FPU */
void cpu_enable_fast_mode(void);           /* arch/cpu.c: the program will run in ring 0 */
void fast_entry_map(void);                 /* proc/vm.c: the page at UNIKIT_FAST_SYSCALL_ENTRY */
extern bool fast_mode;                     /* core/main.c */
noreturn void enter_user(uint64_t rip, uint64_t rsp);   /* arch/entry.S */
void trap_handler(struct regs *r);         /* arch/trap.c */
void syscall_dispatch(struct regs *r);     /* linux/table.c */
extern long last_syscall;                  /* linux/table.c, for fault reports */
extern bool syscall_strict;                /* linux/table.c: the "strict" command-line flag */
extern bool syscall_trace;                 /* linux/table.c: the "trace" command-line flag */
void syscall_trace_report(void);           /* linux/table.c: the "@trace" line, when tracing */
#endif
