/*
 * The control channel (the "control" flag): a third 8250 on which the host, through QMP
 * ringbuf-write, sends one-byte requests. 'T' asks the program to terminate, as `docker stop`
 * would: it gets SIGTERM, whose default action ends the VM with status 143.
 */
#include "lapic.h"
#include "process.h"
#include "unikit_abi.h"
#include "x86.h"

#define UART_RBR 0
#define UART_IER 1
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7
#define LSR_DATA_READY 0x01
#define SIGTERM 15

static void on_control_interrupt(void *arg) {
    (void)arg;
    while (inb(UNIKIT_PORT_CONTROL + UART_LSR) & LSR_DATA_READY) {
        uint8_t request = inb(UNIKIT_PORT_CONTROL + UART_RBR);
        if (request == UNIKIT_CONTROL_TERMINATE)
            signal_raise(SIGTERM);
    }
}

/* A missing UART reads 0xff everywhere: the scratch register tells. */
static bool uart_present(void) {
    outb(UNIKIT_PORT_CONTROL + UART_SCR, 0x5a);
    return inb(UNIKIT_PORT_CONTROL + UART_SCR) == 0x5a;
}

void control_init(void) {
    if (!uart_present()) {
        kprintf("unikit: control: no UART at 0x%x; host requests are not heard\n", UNIKIT_PORT_CONTROL);
        return;
    }
    irq_register(UNIKIT_CONTROL_IRQ, on_control_interrupt, NULL);
    outb(UNIKIT_PORT_CONTROL + UART_MCR, 0x08);   /* OUT2: the line reaches the interrupt controller */
    outb(UNIKIT_PORT_CONTROL + UART_IER, 0x01);   /* interrupt when a byte arrives */
    on_control_interrupt(NULL);                    /* a request sent before now */
}
