/*
 * Clocks. CLOCK_MONOTONIC counts TSC ticks since boot, converted with a frequency that is never
 * measured by waiting: the host's measurement (tsc_khz= on the command line; under TCG the
 * guest TSC is the host's), else kvmclock's scale, else CPUID leaves 0x15/0x16. CLOCK_REALTIME
 * is the host's time at spawn (realtime_ns=) plus the monotonic time since.
 */
#include "clock.h"
#include "lapic.h"
#include "x86.h"

static uint64_t tsc_at_boot, realtime_base_ns;
static uint64_t mult;   /* ns = ticks * mult >> 32 */
static uint64_t khz;

static bool kvmclock_present(void) {
    struct cpuid sig = cpuid(0x40000000, 0);
    return sig.ebx == 0x4b4d564b && sig.ecx == 0x564b4d56 && sig.edx == 0x4d && sig.eax >= 0x40000001 &&
           (cpuid(0x40000001, 0).eax & (1u << 3));
}

/* pvclock: the hypervisor's scale from TSC ticks to ns (Linux KVM ABI). */
struct pvclock {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad[2];
} __attribute__((packed, aligned(64)));
static struct pvclock kvm_clock;

static uint64_t khz_from_kvmclock(void) {
    wrmsr(0x4b564d01, virt_to_phys_kernel(&kvm_clock) | 1);
    uint32_t m = kvm_clock.tsc_to_system_mul;
    int s = kvm_clock.tsc_shift;
    if (!m)
        return 0;
    /* ns per tick = mul * 2^shift / 2^32, so kHz = 2^32 * 10^6 / (mul * 2^shift). */
    uint64_t num = 1000000ULL << 32;
    uint64_t r = num / m;
    return s >= 0 ? r >> s : r << -s;
}

static uint64_t khz_from_cpuid(void) {
    uint32_t max = cpuid(0, 0).eax;
    if (max >= 0x15) {
        struct cpuid c = cpuid(0x15, 0);
        if (c.eax && c.ebx && c.ecx)
            return (uint64_t)c.ecx * c.ebx / c.eax / 1000;
    }
    if (max >= 0x16) {
        uint32_t mhz = cpuid(0x16, 0).eax & 0xffff;
        if (mhz)
            return (uint64_t)mhz * 1000;
    }
    return 0;
}

/* The TSC frequency when the command line has none. */
static uint64_t khz_without_command_line(const char **source) {
    uint64_t k = 0;
    *source = "kvmclock";
    if (kvmclock_present() && (k = khz_from_kvmclock()))
        return k;
    *source = "cpuid";
    if ((k = khz_from_cpuid()))
        return k;
    kprintf("unikit: TSC frequency unknown (no tsc_khz=, kvmclock or CPUID leaf); assuming 1 GHz\n");
    *source = "assumed";
    return 1000000;
}

void clock_init(uint64_t tsc_khz, uint64_t realtime_ns) {
    tsc_at_boot = rdtsc();
    const char *source = "command line";
    khz = tsc_khz;
    if (!khz)
        khz = khz_without_command_line(&source);
    mult = (1000000ULL << 32) / khz;
    realtime_base_ns = realtime_ns;
    if (klog_verbose)
        kprintf("unikit: TSC %lu kHz (%s)\n", khz, source);
}

uint64_t clock_tsc_khz(void) { return khz; }

uint64_t clock_ns_at(uint64_t tsc) { return (uint64_t)(((unsigned __int128)(tsc - tsc_at_boot) * mult) >> 32); }

uint64_t clock_monotonic_ns(void) { return clock_ns_at(rdtsc()); }

uint64_t clock_realtime_ns(void) { return realtime_base_ns + clock_monotonic_ns(); }

/* Halts until the deadline: the APIC timer wakes the CPU; any other interrupt just re-arms. */
void clock_sleep_until(uint64_t deadline_ns) {
    uint64_t flags = irq_save();
    for (uint64_t now; (now = clock_monotonic_ns()) < deadline_ns;) {
        lapic_timer_arm(deadline_ns - now);
        cpu_halt_until_interrupt();
    }
    irq_restore(flags);
}
