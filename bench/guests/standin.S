/*
 * The stand-in guest: a PVH entry that speaks the kernel-log protocol of docs/guest-abi.md
 * without being the kernel, for testing and measuring the host side (src/vmm's tests, the CLI's
 * plumbing, the fleet, bench/scale.ts) without kernel/build/kernel.elf. The one such guest:
 * kernel/floor* is something else (the benchmark's floor, the least a real guest must do).
 *
 * In order it writes KLOG to the debugcon (e.g. "@entering-program\n"), OUT to COM1 (stdout),
 * ERR to COM2 (stderr); busy-loops SPIN times; writes LATE to COM1 and KLOG2 to the debugcon
 * (e.g. "@exit 139 signal\n"); then ends as one of
 *   - END_EXIT: STATUS to isa-debug-exit (QEMU exits with (STATUS << 1) | 1);
 *   - END_IDLE: halts with interrupts off, forever, using no host CPU (a server waiting for work);
 *   - END_BUSY: spins forever (a guest stuck in a loop).
 * Assembled with gcc -m32 by bench/guests/standin.ts, the strings coming as files (.incbin).
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
    mov $err, %esi
    mov $err_end, %ecx
    mov $0x2f8, %dx
    call emit
    mov $SPIN, %ecx
1:  dec %ecx
    jnz 1b
    mov $late, %esi
    mov $late_end, %ecx
    mov $0x3f8, %dx
    call emit
    mov $klog2, %esi
    mov $klog2_end, %ecx
    mov $0xe9, %dx
    call emit
#if defined(END_IDLE)
2:  hlt
    jmp 2b
#elif defined(END_BUSY)
2:  jmp 2b
#else
    mov $0xf4, %dx
    mov $STATUS, %eax
    out %eax, %dx
2:  hlt
    jmp 2b
#endif

emit:                       /* write bytes [esi, ecx) to port dx */
    cmp %ecx, %esi
    jae 3f
    movb (%esi), %al
    outb %al, %dx
    inc %esi
    jmp emit
3:  ret

    .data
klog: .incbin KLOG_FILE
klog_end:
out: .incbin OUT_FILE
out_end:
err: .incbin ERR_FILE
err_end:
late: .incbin LATE_FILE
late_end:
klog2: .incbin KLOG2_FILE
klog2_end:
