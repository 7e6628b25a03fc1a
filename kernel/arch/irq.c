/*
 * Device interrupts through the IOAPIC(s): a GSI is routed to vector VECTOR_DEVICE_BASE + gsi
 * on CPU 0, level-triggered (virtio-mmio lines are level), and its handler runs from the trap
 * path. QEMU microvm has a second IOAPIC for GSIs 24..47 when it is configured with one.
 */
#include "lapic.h"
#include "mm.h"

#define IOAPIC0_PHYS 0xfec00000
#define IOAPIC1_PHYS 0xfec10000
#define MAX_GSI 48
#define REDIR_LEVEL (1u << 15)

struct irq_handler { void (*fn)(void *); void *arg; };
static struct irq_handler handlers[MAX_GSI];
static volatile uint32_t *ioapic[2];

static void ioapic_write(int which, uint32_t reg, uint32_t v) {
    ioapic[which][0] = reg;
    ioapic[which][4] = v;
}

void irq_register(unsigned gsi, void (*fn)(void *), void *arg) {
    if (gsi >= MAX_GSI)
        panic("interrupt line %u out of range", gsi);
    int which = gsi >= 24;
    if (!ioapic[which] && !(ioapic[which] = mmio_map(which ? IOAPIC1_PHYS : IOAPIC0_PHYS, PAGE_SIZE)))
        panic("cannot map the IOAPIC");
    handlers[gsi] = (struct irq_handler){fn, arg};
    lapic_eoi();   /* sets the APIC up (on first use), so that the line's interrupts arrive */
    unsigned pin = gsi % 24;
    ioapic_write(which, 0x10 + 2 * pin + 1, 0);   /* destination: APIC 0 */
    ioapic_write(which, 0x10 + 2 * pin, (VECTOR_DEVICE_BASE + gsi) | REDIR_LEVEL);
}

void irq_dispatch(unsigned vector) {
    if (vector < VECTOR_DEVICE_BASE || vector >= VECTOR_DEVICE_BASE + MAX_GSI)
        return;
    struct irq_handler *h = &handlers[vector - VECTOR_DEVICE_BASE];
    if (h->fn)
        h->fn(h->arg);
}
