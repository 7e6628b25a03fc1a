/*
 * The floor: the emptiest PVH guest QEMU can boot. It writes 0 to isa-debug-exit at once.
 * Its start-to-exit time, measured with the same QEMU command line, is the unit every
 * unikit boot figure is divided by.
 */
    .section .note.pvh, "a"
    .p2align 2
    .long 4, 4, 18          /* name size, desc size, XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long floor_start

    .text
    .code32
    .globl floor_start
floor_start:
    mov $0xf4, %dx
    xor %eax, %eax
    out %eax, %dx
1:  hlt
    jmp 1b
