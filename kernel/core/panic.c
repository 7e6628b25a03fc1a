/* Ending the VM: the "@trace" line when tracing, one "@exit" line for the host, then isa-debug-exit. */
#include "cpu.h"
#include "kernel.h"
#include "unikit_abi.h"
#include "x86.h"

noreturn void vm_exit(int status, const char *reason) {
    syscall_trace_report();
    kprintf(UNIKIT_MARK_EXIT " %d %s\n", status, reason);
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
