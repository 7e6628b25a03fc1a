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
    push $0x1b                      /* ss */
    push user_rsp_scratch(%rip)     /* rsp */
    push %r11                       /* rflags */
    push $0x23                      /* cs */
    push %rcx                       /* rip */
    push $0                         /* error */
    push $VECTOR_SYSCALL
    PUSH_GPRS
    mov %rsp, %rdi
    call syscall_dispatch
    POP_GPRS
    add $16, %rsp                   /* vector, error */
    pop %rcx                        /* rip */
    add $8, %rsp                    /* cs */
    pop %r11                        /* rflags */
    pop %rsp
    sysretq

/* enter_user(rip, rsp): the first entry into the program, through iretq. */
    .globl enter_user
enter_user:
    push $0x1b
    push %rsi
    push $0x202                     /* IF set, nothing else */
    push $0x23
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
    mov %rsp, %rdi
    call trap_handler
    POP_GPRS
    add $16, %rsp
    iretq

/* One 16-byte stub per vector, so vector v's stub is at trap_stubs + 16 * v. The CPU pushes an
 * error code only for some vectors; the others push a zero so the frame has one shape. */
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

    .bss
user_rsp_scratch:
    .quad 0
