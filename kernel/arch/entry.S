/*
 * Every way into the kernel: the `syscall` instruction (through LSTAR) and the 256 interrupt
 * vectors. Both build the same struct regs (include/cpu.h) on the kernel stack, so C code sees
 * one frame shape. One CPU and one program thread: the saved user stack pointer can be global.
 */
#define VECTOR_SYSCALL 256

.macro PUSH_GPRS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm

.macro POP_GPRS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
.endm

    .text
    .globl syscall_entry
syscall_entry:
    mov %rsp, user_rsp_scratch(%rip)
    movabs $kernel_stack_top, %rsp
    push program_ss(%rip)           /* ss */
    push user_rsp_scratch(%rip)     /* rsp */
    push %r11                       /* rflags */
    push program_cs(%rip)           /* cs */
    push %rcx                       /* rip */
    push $0                         /* error */
    push $VECTOR_SYSCALL
    PUSH_GPRS
    mov %rsp, %rdi
    call syscall_dispatch
    POP_GPRS
    add $16, %rsp                   /* vector, error */
    /* sysret always lands in ring 3; a program in ring 0 (fast mode) returns through iretq. */
    cmpq $0x23, 8(%rsp)
    jne 1f
    pop %rcx                        /* rip */
    add $8, %rsp                    /* cs */
    pop %r11                        /* rflags */
    pop %rsp
    sysretq
1:  iretq

/*
 * Fast mode: rewritten syscall sites `call` here (through the page at UNIKIT_FAST_SYSCALL_ENTRY)
 * from ring 0 with the syscall convention. This path is the point of fast mode, so it is lean:
 * no trap frame, no flag changes (in fast mode traps run on their own stack, so interrupts may
 * stay as they are), just the argument registers the C call would clobber. r11 is the caller's
 * to lose, as with `syscall`, and carries the program's stack pointer.
 */
    .globl fast_syscall_entry
fast_syscall_entry:
    mov %rsp, %r11
    movabs $kernel_stack_top, %rsp
    push %r11
    push %rdi
    push %rsi
    push %rdx
    push %r10
    push %r8
    push %r9
    push %rax                       /* keeps the stack 16-byte aligned for the call */
    mov %r10, %rcx
    push %rax                       /* 7th argument: the number */
    call syscall_fast_dispatch
    add $16, %rsp
    pop %r9
    pop %r8
    pop %r10
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rsp
    ret

/* enter_user(rip, rsp): the first entry into the program, through iretq, in the ring that
 * program_cs and program_ss say (3, or 0 in fast mode). */
    .globl enter_user
enter_user:
    push program_ss(%rip)
    push %rsi
    push $0x202                     /* IF set, nothing else */
    push program_cs(%rip)
    push %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    iretq

trap_common:
    PUSH_GPRS
    cld
    /* A trap from the program leaves SS null (B clear); a syscall enters with the flat SS the
     * kernel runs with. Under TCG SS.B is part of each translated block's key, so without this
     * reload the code both paths share (the page-fault path and the page allocator) would be
     * translated twice. iretq restores the interrupted SS from the frame. */
    mov $0x10, %eax                 /* SEL_KERNEL_DATA */
    mov %eax, %ss
    mov %rsp, %rdi
    call trap_handler
    POP_GPRS
    add $16, %rsp
    iretq

/* One 16-byte stub per vector, so vector v's stub is at trap_stubs + 16 * v. The CPU pushes an
 * error code only for some vectors; the others push a zero so the frame has one shape. Their own
 * section, first in .text (kernel.ld): page aligned, the 4 KiB of stubs share address bits 16
 * and up, which arch/tables.S's static IDT relies on (kernel.ld checks). */
    .section .text.trap_stubs, "ax"
    .p2align 4
    .globl trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
    push $0
    .endif
    push $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

    .data
    .globl program_cs, program_ss
program_cs:
    .quad 0x23
program_ss:
    .quad 0x1b

    .bss
user_rsp_scratch:
    .quad 0
