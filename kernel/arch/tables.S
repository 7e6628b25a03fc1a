/*
 * The GDT, the TSS and the IDT as data the loader copies in, not tables a loop fills at boot:
 * under TCG every instruction that runs at boot is translated first, and the IDT loop alone ran
 * 256 times. The descriptors hold pieces of addresses (the TSS base, each trap stub's address)
 * that kernel.ld computes at link time (the idt_stub_* and tss_base_* symbols).
 */
#include "layout.h"

#define IDT_VECTORS 256
#define DOUBLE_FAULT 8
#define TSS_BYTES 104

    .data
    .p2align 4
/* The order syscall/sysret require (include/cpu.h's SEL_*). The data descriptors are flat 4 GiB
 * with B set and every descriptor is marked accessed: exactly what syscall and sysret load into
 * the hidden SS without reading the GDT. Under TCG SS.B is part of every translated block's key,
 * so a kernel SS with B clear would have each kernel block that runs both at boot and in a
 * syscall translated twice (likewise the program's blocks before and after its first syscall);
 * and a descriptor without the accessed bit would be written by the CPU on its first load. The
 * first three are the boot stub's (arch/boot.S), so CS, DS, ES and SS need no reload. */
    .globl gdt
gdt:
    .quad 0
    .quad 0x00209b0000000000    /* kernel code, 64-bit */
    .quad 0x00cf93000000ffff    /* kernel data */
    .quad 0x00cff3000000ffff    /* user data (DPL 3): sysret takes SS from here */
    .quad 0x0020fb0000000000    /* user code, 64-bit (DPL 3) */
    /* The TSS: a 64-bit available TSS descriptor, two slots. */
    .word TSS_BYTES - 1
    .word tss_base_0_15
    .byte tss_base_16_23
    .byte 0x89
    .byte 0
    .byte tss_base_24_31
    .long tss_base_32_63
    .long 0
    .globl gdt_end
gdt_end:

/* No I/O bitmap (iomap_base past the end): the program may not touch ports. */
    .p2align 4
    .globl tss
tss:
    .long 0
    .quad kernel_stack_top                  /* rsp0: traps from the program */
    .quad 0, 0
    .quad 0
    .quad double_fault_stack_top            /* ist1: double faults */
    .quad 0, 0, 0, 0, 0, 0                  /* ist2 (fast mode, arch/cpu.c) .. ist7 */
    .quad 0
    .word 0
    .word TSS_BYTES
    .globl tss_end
tss_end:

/* Vector v: an interrupt gate (present, DPL 0) to trap_stubs + 16 * v (arch/entry.S). */
    .p2align 4
    .globl idt
idt:
    .set vec, 0
    .rept IDT_VECTORS
    .word idt_stub_0_15 + 16 * vec
    .word 0x08                              /* SEL_KERNEL_CODE */
    .byte -(vec == DOUBLE_FAULT)            /* IST 1 for double faults (gas: true is -1) */
    .byte 0x8e
    .word idt_stub_16_31
    .long idt_stub_32_63
    .long 0
    .set vec, vec + 1
    .endr
    .globl idt_end
idt_end:

    .bss
    .p2align 4
    .skip 4096
double_fault_stack_top:
