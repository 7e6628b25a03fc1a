/*
 * CPU setup: the GDT with the segment order syscall/sysret require, a TSS for the stack the CPU
 * switches to on traps from the program, the IDT, the syscall MSRs, and FPU/SSE/AVX state so
 * that unmodified programs (glibc picks AVX2 string functions from CPUID and XCR0) just work.
 */
#include "cpu.h"
#include "x86.h"

struct cpu_features cpu;

struct __attribute__((packed)) tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
};

struct __attribute__((packed)) idt_entry {
    uint16_t offset_lo, selector;
    uint8_t ist, type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi, reserved;
};

struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

/* The tables themselves are static data (arch/tables.S; kernel.ld checks their sizes). */
_Static_assert(sizeof(struct tss) == 104 && sizeof(struct idt_entry) == 16, "descriptor layouts");
extern uint64_t gdt[7];
extern struct tss tss;
extern struct idt_entry idt[256];
extern char syscall_entry[];
static uint8_t fast_mode_trap_stack[KERNEL_STACK_SIZE] __attribute__((aligned(16)));

/* CS, DS, ES and SS are not reloaded: the boot stub (arch/boot.S) loaded the same selectors
 * from a GDT whose first three descriptors are these, so the CPU's cached copies already match
 * (and under TCG each segment load ends a translated block). */
static void tables_load(void) {
    struct table_ptr g = {sizeof gdt - 1, (uint64_t)gdt}, i = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lgdt %0\n"
                     "ltr %w1\n"
                     "lidt %2\n"
                     :
                     : "m"(g), "r"((uint16_t)SEL_TSS), "m"(i)
                     : "memory");
}

static void features_init(void) {
    struct cpuid l1 = cpuid(1, 0);
    cpu.hwcap = l1.edx;
    cpu.xsave = l1.ecx & (1u << 26);
    cpu.avx = l1.ecx & (1u << 28);
    cpu.rdrand = l1.ecx & (1u << 30);
    extern uint32_t boot_cpuid_ext_edx;   /* CPUID 0x80000001 EDX, read by arch/boot.S */
    cpu.nx = boot_cpuid_ext_edx & (1u << 20);
    cpu.fsgsbase = cpuid(7, 0).ebx & 1;
}

static void fpu_init(void) {
    uint64_t cr0 = read_cr0();
    cr0 &= ~((1ULL << 2) | (1ULL << 3));  /* EM, TS */
    cr0 |= (1ULL << 1) | (1ULL << 5);     /* MP, NE */
    write_cr0(cr0);
    uint64_t cr4 = read_cr4() | (1ULL << 9) | (1ULL << 10);   /* OSFXSR, OSXMMEXCPT */
    if (cpu.xsave)
        cr4 |= 1ULL << 18;                                     /* OSXSAVE */
    write_cr4(cr4);
    if (cpu.xsave) {
        /* x87, SSE, AVX and the AVX-512 states, as far as the CPU has them. */
        uint64_t supported = cpuid(0xd, 0).eax;
        cpu.xcr0 = supported & 0xe7;
        if (!(cpu.xcr0 & 4) || !cpu.avx)
            cpu.xcr0 &= 3;
        __asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)cpu.xcr0), "d"((uint32_t)(cpu.xcr0 >> 32)));
    }
    uint32_t mxcsr = 0x1f80;
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
}

/*
 * Fast mode: the program runs in ring 0, where a trap does not switch stacks and would write
 * its frame into the program's red zone. Every vector therefore gets a stack of its own (IST 2);
 * traps do not nest on it, since the kernel runs with interrupts off except while halted on its
 * own stack.
 */
extern uint64_t program_cs, program_ss;
void cpu_enable_fast_mode(void) {
    program_cs = SEL_KERNEL_CODE;
    program_ss = SEL_KERNEL_DATA;
    tss.ist[1] = (uint64_t)fast_mode_trap_stack + sizeof fast_mode_trap_stack;
    for (int v = 0; v < 256; v++)
        if (v != 8)
            idt[v].ist = 2;
}

void cpu_init(void) {
    features_init();
    tables_load();
    fpu_init();
    /* EFER.SCE and NXE are set by arch/boot.S. */
    wrmsr(MSR_STAR, ((uint64_t)0x10 << 48) | ((uint64_t)SEL_KERNEL_CODE << 32));
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    wrmsr(MSR_SFMASK, 0x47700);   /* IF, TF, DF, NT, AC cleared on entry */
}
