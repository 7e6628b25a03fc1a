/*
 * Output: the program's stdout and stderr on two 8250 UARTs (COM1, COM2), the kernel log on
 * the debugcon port. Ports and meanings are fixed by abi/unikit_abi.h.
 */
#include "kernel.h"
#include "unikit_abi.h"
#include "x86.h"

#define UART_THR 0
#define UART_FCR 2
#define UART_LSR 5
#define FCR_FIFO_ON_CLEARED 0x07   /* FIFOs on, both emptied */
#define LSR_THR_EMPTY 0x20
#define UART_FIFO_BYTES 16         /* the 16550A's transmit FIFO */

bool klog_verbose;

/* The 16550A FIFOs of COM1 and COM2 (QEMU's isa-serial is one): with them a byte loop needs
 * one status read per 16 bytes, not one per byte; under TCG each port access is an exit. */
void console_init(void) {
    outb(UNIKIT_PORT_STDOUT + UART_FCR, FCR_FIFO_ON_CLEARED);
    outb(UNIKIT_PORT_STDERR + UART_FCR, FCR_FIFO_ON_CLEARED);
}

/* Waits for the transmitter to drain, then fills its FIFO: THRE set means the FIFO is empty,
 * so 16 bytes fit (on a 16550A and QEMU's model alike). QEMU drops a byte written to a full
 * FIFO, which happens while a slow host pipe holds the previous ones back. */
static void uart_write(uint16_t base, const unsigned char *p, size_t n) {
    while (n) {
        while (!(inb(base + UART_LSR) & LSR_THR_EMPTY))
            cpu_relax();
        size_t chunk = MIN(n, UART_FIFO_BYTES);
        n -= chunk;
        __asm__ volatile("rep outsb" : "+S"(p), "+c"(chunk) : "d"((uint16_t)(base + UART_THR)) : "memory");
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
