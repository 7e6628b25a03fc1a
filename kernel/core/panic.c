/* Ending the VM: the "@trace" line when tracing, one "@exit" line for the host, then isa-debug-exit. */
#include "cpu.h"
#include "kernel.h"
#include "unikit_abi.h"
#include "x86.h"

/* The exit line is written without the formatter: on a short run under TCG, translating
 * vsnprintf costs more than everything else the exit does. */
noreturn void vm_exit(int status, const char *reason) {
    syscall_trace_report();
    char line[48];   /* not zero-filled: every byte written is set */
    memcpy(line, UNIKIT_MARK_EXIT " ", sizeof UNIKIT_MARK_EXIT);
    size_t n = sizeof UNIKIT_MARK_EXIT;
    /* The digits without a leading zero, written without a branch (each is a block under TCG). */
    unsigned v = (unsigned)status & 0xff;
    line[n] = (char)('0' + v / 100);
    n += v >= 100;
    line[n] = (char)('0' + v / 10 % 10);
    n += v >= 10;
    line[n++] = (char)('0' + v % 10);
    line[n++] = ' ';
    for (; *reason && n < sizeof line - 1; reason++)
        line[n++] = *reason;
    line[n++] = '\n';
    klog_write(line, n);
    outl(UNIKIT_PORT_EXIT, (uint32_t)status);
    /* Only reached when the VM has no isa-debug-exit device. */
    for (;;)
        __asm__ volatile("cli; hlt");
}

noreturn void panic(const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kprintf(UNIKIT_KLOG_USER_PREFIX "kernel panic: %s\n", buf);
    vm_exit(UNIKIT_STATUS_HOST_ERROR, UNIKIT_EXIT_REASON_PANIC);
}
