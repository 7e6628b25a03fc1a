/*
 * Output: the program's stdout and stderr on two 8250 UARTs (COM1, COM2), the kernel log on
 * the debugcon port. Ports and meanings are fixed by abi/unikit_abi.h.
 */
#include "kernel.h"
#include "unikit_abi.h"
#include "x86.h"

#define UART_THR 0
#define UART_LSR 5
#define LSR_THR_EMPTY 0x20

bool klog_verbose;

/* Waits for the holding register to drain before each byte: QEMU drops a byte written while the
 * previous one is still pending towards a slow host pipe. */
static void uart_write(uint16_t base, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        while (!(inb(base + UART_LSR) & LSR_THR_EMPTY))
            cpu_relax();
        outb(base + UART_THR, p[i]);
    }
}

void console_write(int stream, const void *buf, size_t n) {
    uart_write(stream == 2 ? UNIKIT_PORT_STDERR : UNIKIT_PORT_STDOUT, buf, n);
}

void klog_write(const char *s, size_t n) {
    /* The debugcon has no status register: QEMU writes each byte through synchronously. */
    __asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"((uint16_t)UNIKIT_PORT_KLOG) : "memory");
}

void kprintf(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    klog_write(buf, MIN((size_t)n, sizeof buf - 1));
}
