/*
 * A stand-in guest for the fleet's plumbing (tests, and bench/scale.ts while the real kernel is
 * not built): a PVH entry that speaks the kernel-log protocol of docs/guest-abi.md without being
 * the kernel. It writes KLOG to the debugcon (e.g. "@entering-program\n"), OUT to COM1, then
 *   - IDLE: halts with interrupts off, forever, using no host CPU (a server waiting for work);
 *   - otherwise: after SPIN iterations of a busy loop, writes LATE to COM1 and KLOG2 to the
 *     debugcon (e.g. "@exit 139 signal\n") and STATUS to isa-debug-exit.
 * Built by src/fleet's test support and bench/scale.ts with gcc -m32; the strings come as files.
 */
    .section .note.Xen, "a"
    .p2align 2
    .long 4, 4, 18          /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long guest_start

    .text
    .code32
    .globl guest_start
guest_start:
    cli
    mov $klog, %esi
    mov $klog_end, %ecx
    mov $0xe9, %dx
    call emit
    mov $out, %esi
    mov $out_end, %ecx
    mov $0x3f8, %dx
    call emit
#ifdef IDLE
1:  hlt
    jmp 1b
#endif
    mov $SPIN, %ecx
2:  dec %ecx
    jnz 2b
    mov $late, %esi
    mov $late_end, %ecx
    mov $0x3f8, %dx
    call emit
    mov $klog2, %esi
    mov $klog2_end, %ecx
    mov $0xe9, %dx
    call emit
    mov $0xf4, %dx
    mov $STATUS, %eax
    out %eax, %dx
3:  hlt
    jmp 3b

emit:                       /* write bytes [esi, ecx) to port dx */
    cmp %ecx, %esi
    jae 4f
    movb (%esi), %al
    outb %al, %dx
    inc %esi
    jmp emit
4:  ret

    .data
klog: .incbin KLOG_FILE
klog_end:
out: .incbin OUT_FILE
out_end:
late: .incbin LATE_FILE
late_end:
klog2: .incbin KLOG2_FILE
klog2_end:
