/* The local APIC timer and interrupt acknowledgement (arch/lapic.c). */
#ifndef LAPIC_H
#define LAPIC_H
#include "kernel.h"

#define VECTOR_TIMER 32
#define VECTOR_DEVICE_BASE 48   /* device interrupts: VECTOR_DEVICE_BASE + IOAPIC pin */

void lapic_init(void);
void lapic_eoi(void);
void lapic_timer_arm(uint64_t ns);          /* one-shot, fires VECTOR_TIMER after about ns */
void cpu_halt_until_interrupt(void);        /* HLT with interrupts enabled only while halted */

/* arch/irq.c: device drivers register a handler for their IOAPIC pin. */
void irq_dispatch(unsigned vector);
void irq_register(unsigned pin, void (*handler)(void *), void *arg);
#endif
