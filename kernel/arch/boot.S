/*
 * PVH entry. QEMU loads this ELF at its physical addresses and jumps to pvh_start in 32-bit
 * protected mode, paging off, with %ebx pointing at the hvm_start_info. We switch to long mode
 * with static page tables: the first 4 GiB at 0 (identity, only until we jump high) and at
 * DIRECT_MAP_BASE (the direct map), the first GiB at KERNEL_VMA (the kernel image window).
 */
#include "layout.h"
#define KERNEL_STACK_BYTES 16384

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    .section .note.pvh, "a"
    .p2align 2
    .long 4                 /* name size */
    .long 4                 /* desc size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start

    .section .boot.text, "ax"
    .code32
    .globl pvh_start
pvh_start:
    cli
    cld
    mov %ebx, boot_start_info
    mov $boot_stack_top, %esp

    /* 1 GiB pages where the CPU has them (CPUID 0x80000001 EDX bit 26, pdpe1gb; QEMU's -cpu max
     * under TCG does): four PDPT entries instead of a loop of 2048 PD entries, which under TCG
     * runs as 2048 passes through a translated block. %ebx (the start_info) is saved above. */
    mov $0x80000001, %eax
    cpuid
    mov %edx, boot_cpuid_ext_edx    /* for arch/cpu.c: NX (bit 20) */
    bt $26, %edx
    jnc 2f
    mov $(PTE_P | PTE_W | PTE_PS), %eax
    mov %eax, boot_pdpt_kernel + 510 * 8
    mov %eax, boot_pdpt_direct
    add $0x40000000, %eax
    mov %eax, boot_pdpt_direct + 8
    add $0x40000000, %eax
    mov %eax, boot_pdpt_direct + 16
    add $0x40000000, %eax
    mov %eax, boot_pdpt_direct + 24
    jmp 3f

    /* Otherwise four page directories: 2 MiB pages over the first 4 GiB (DIRECT_MAP_LIMIT). */
2:  mov $boot_pd, %edi
    mov $(PTE_P | PTE_W | PTE_PS), %eax
    mov $(4 * 512), %ecx
1:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b
    /* One PDPT for the identity map and the direct map, one for the kernel window. */
    mov $(boot_pd + (PTE_P | PTE_W)), %eax
    mov %eax, boot_pdpt_direct
    mov %eax, boot_pdpt_kernel + 510 * 8
    add $4096, %eax
    mov %eax, boot_pdpt_direct + 8
    add $4096, %eax
    mov %eax, boot_pdpt_direct + 16
    add $4096, %eax
    mov %eax, boot_pdpt_direct + 24
3:
    mov $(boot_pdpt_direct + (PTE_P | PTE_W)), %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + PML4_INDEX_DIRECT * 8
    mov $(boot_pdpt_kernel + (PTE_P | PTE_W)), %eax
    mov %eax, boot_pml4 + 511 * 8

    /* PAE, then the page tables, then long mode (EFER.LME), then paging. */
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    /* EFER: long mode, the syscall instruction (SCE), and no-execute pages (NXE) where the CPU
     * has them: set here once rather than with a second rdmsr/wrmsr pair in arch/cpu.c. */
    mov boot_cpuid_ext_edx, %ebx
    shr $9, %ebx
    and $0x800, %ebx                /* CPUID NX (bit 20) -> EFER.NXE (bit 11) */
    mov $0xC0000080, %ecx
    rdmsr
    or $0x101, %eax                 /* LME, SCE */
    or %ebx, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax     /* PG | WP | PE */
    mov %eax, %cr0

    lgdt boot_gdt_desc
    ljmp $0x08, $boot64

    .code64
boot64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $high64, %rax
    jmp *%rax

    .text
high64:
    movabs $kernel_stack_top, %rsp
    xor %ebp, %ebp
    mov boot_start_info(%rip), %edi
    call kmain
1:  hlt
    jmp 1b

    .section .boot.data, "aw"
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00209b0000000000    /* 64-bit code */
    .quad 0x00cf93000000ffff    /* data: flat, B set, accessed, as arch/tables.S's */
boot_gdt_desc:
    .word boot_gdt_desc - boot_gdt - 1
    .long boot_gdt
    .globl boot_start_info
boot_start_info:
    .long 0
    .globl boot_cpuid_ext_edx
boot_cpuid_ext_edx:
    .long 0

    /* Zero-filled by the loader (no bytes in the file): page tables and the boot stack. */
    .section .boot.bss, "aw", @nobits
    .p2align 12
boot_pml4:
    .skip 4096
boot_pdpt_direct:
    .skip 4096
boot_pdpt_kernel:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    .skip 256
boot_stack_top:

    .bss
    .p2align 12
    .globl kernel_stack_top
kernel_stack_bottom:
    .skip KERNEL_STACK_BYTES
kernel_stack_top:
