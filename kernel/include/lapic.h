/* The local APIC timer and interrupt acknowledgement (arch/lapic.c). */
#ifndef LAPIC_H
#define LAPIC_H
#include "kernel.h"

#define VECTOR_TIMER 32
#define VECTOR_DEVICE_BASE 48   /* device interrupts: VECTOR_DEVICE_BASE + IOAPIC pin */

void lapic_init(void);   /* masks the legacy PICs; the APIC itself is set up on first use */
void lapic_eoi(void);
void lapic_timer_arm(uint64_t ns);          /* one-shot, fires VECTOR_TIMER after about ns */
void cpu_halt_until_interrupt(void);        /* HLT with interrupts enabled only while halted */

/* Interrupts off, returning the previous flags. A fast-mode syscall runs with the program's
 * flags (interrupts on), so a sleeper must turn them off before it checks and arms the timer:
 * otherwise the timer can fire between arming and HLT, and the HLT never ends. */
static inline uint64_t irq_save(void) {
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0; cli" : "=r"(flags) : : "memory");
    return flags;
}
static inline void irq_restore(uint64_t flags) {
    __asm__ volatile("push %0; popfq" : : "r"(flags) : "memory", "cc");
}

/* arch/irq.c: device drivers register a handler for their IOAPIC pin. */
void irq_dispatch(unsigned vector);
void irq_register(unsigned pin, void (*handler)(void *), void *arg);
#endif
