/*
 * The local APIC: the one-shot timer that wakes an idle CPU, and end-of-interrupt. The kernel
 * waits with HLT (interrupts on only while halted) instead of spinning, so an idle unikernel
 * costs the host nothing.
 */
#include "cpu.h"
#include "lapic.h"
#include "mm.h"
#include "x86.h"

#define LAPIC_PHYS 0xfee00000
#define REG_EOI 0xb0
#define REG_SVR 0xf0
#define REG_LVT_TIMER 0x320
#define REG_TIMER_INITIAL 0x380
#define REG_TIMER_DIVIDE 0x3e0
#define LVT_MASKED (1u << 16)
#define SPURIOUS_VECTOR 0xff
/* QEMU's and KVM's emulated APIC bus runs at 1 GHz; an early or late wake only costs a re-arm,
 * since sleepers re-check the TSC clock. */
#define TIMER_MAX_NS 0xffffffffULL

static volatile uint32_t *lapic;

static void lapic_setup(void);

/* The APIC is set up on first use (a timer, a device interrupt): a program that never sleeps
 * or waits (hello) does not pay for mapping it. Until then it is as reset left it, software
 * disabled with every local interrupt masked. */
static void write_reg(uint32_t reg, uint32_t v) {
    if (!lapic)
        lapic_setup();
    lapic[reg / 4] = v;
}

/* The legacy 8259 PICs (q35 has them, after firmware left the PIT's IRQ 0 on vector 8, which is
 * the double-fault vector): moved to vectors 0x20-0x2f, then all masked. Harmless where absent. */
static void pic_disable(void) {
    /* Both masks read 0xff: no PICs (microvm; an absent port reads all ones) or all masked. */
    if ((inb(0x21) & inb(0xa1)) == 0xff)
        return;
    static const uint8_t init[2][4] = {{0x11, 0x20, 0x04, 0x01}, {0x11, 0x28, 0x02, 0x01}};
    for (int i = 0; i < 4; i++) {
        outb(i == 0 ? 0x20 : 0x21, init[0][i]);
        outb(i == 0 ? 0xa0 : 0xa1, init[1][i]);
    }
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void lapic_init(void) {
    pic_disable();
}

static void lapic_setup(void) {
    lapic = mmio_map(LAPIC_PHYS, PAGE_SIZE);
    if (!lapic)
        panic("cannot map the local APIC");
    write_reg(REG_SVR, 0x100 | SPURIOUS_VECTOR);
    write_reg(REG_TIMER_DIVIDE, 0xb);   /* divide by 1 */
    write_reg(REG_LVT_TIMER, VECTOR_TIMER | LVT_MASKED);
}

void lapic_eoi(void) {
    write_reg(REG_EOI, 0);
}

void lapic_timer_arm(uint64_t ns) {
    uint64_t count = ns ? MIN(ns, TIMER_MAX_NS) : 1;
    write_reg(REG_LVT_TIMER, VECTOR_TIMER);
    write_reg(REG_TIMER_INITIAL, (uint32_t)count);
}

/* Call with interrupts off (irq_save). sti takes effect after the next instruction, so an
 * interrupt pending since then wakes the hlt at once instead of being taken before it. */
void cpu_halt_until_interrupt(void) {
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}
