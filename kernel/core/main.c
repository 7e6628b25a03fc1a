/*
 * Boot: from the PVH start_info to the program's first instruction. The CPU tables, memory
 * (everything else allocates), the command line, clocks, randomness, the root
 * filesystem, the program. A problem with the program ends the VM with status 126.
 */
#include "clock.h"
#include "cmdline.h"
#include "config.h"
#include "cpu.h"
#include "fs.h"
#include "lapic.h"
#include "loader.h"
#include "mm.h"
#include "process.h"
#include "pvh.h"
#include "random.h"
#include "unikit_abi.h"
#include "vm.h"
#include "wait.h"
#include "x86.h"

extern char _kernel_end[];

#define MAX_RANGES 32

struct boot_info {
    const char *cmdline;
    const void *initrd;
    size_t initrd_len;
};

static void add(struct phys_range *r, int *n, uint64_t start, uint64_t len) {
    if (*n < MAX_RANGES && len)
        r[(*n)++] = (struct phys_range){ALIGN_DOWN(start, PAGE_SIZE), ALIGN_UP(start + len, PAGE_SIZE)};
}

/* Reads the start_info and hands the RAM that nothing uses to the page allocator. */
static struct boot_info memory_from_start_info(uint32_t start_info_pa) {
    const struct hvm_start_info *si = phys_to_virt(start_info_pa);
    if (si->magic != PVH_START_MAGIC)
        panic("not booted through PVH (start_info magic %x)", si->magic);
    if (si->version < 1 || !si->memmap_entries)
        panic("the PVH start_info has no memory map (version %u)", si->version);

    struct phys_range ram[MAX_RANGES], reserved[MAX_RANGES];
    int nram = 0, nres = 0;
    const struct hvm_memmap_entry *mm = phys_to_virt(si->memmap_paddr);
    bool clipped = false;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        if (mm[i].type != PVH_MEMMAP_RAM || nram == MAX_RANGES)
            continue;
        uint64_t start = mm[i].addr, end = mm[i].addr + mm[i].size;
        /* The boot page tables reach 4 GiB; RAM above is left unused rather than unmapped. */
        if (end > DIRECT_MAP_LIMIT) {
            clipped = true;
            end = DIRECT_MAP_LIMIT;
        }
        if (start < end)
            ram[nram++] = (struct phys_range){start, end};
    }
    if (clipped)
        kprintf("unikit: memory above 4 GiB is not used by this kernel\n");

    struct boot_info bi = {.cmdline = si->cmdline_paddr ? phys_to_virt(si->cmdline_paddr) : ""};
    add(reserved, &nres, 0x100000, (uint64_t)_kernel_end - KERNEL_VMA - 0x100000);
    add(reserved, &nres, start_info_pa, sizeof *si);
    add(reserved, &nres, si->memmap_paddr, si->memmap_entries * sizeof *mm);
    if (si->cmdline_paddr)
        add(reserved, &nres, si->cmdline_paddr, strlen(bi.cmdline) + 1);
    if (si->nr_modules) {
        const struct hvm_modlist_entry *mod = phys_to_virt(si->modlist_paddr);
        add(reserved, &nres, si->modlist_paddr, sizeof *mod);
        add(reserved, &nres, mod->paddr, mod->size);
        bi.initrd = phys_to_virt(mod->paddr);
        bi.initrd_len = mod->size;
    }
    mm_init(ram, nram, reserved, nres);
    return bi;
}

bool fast_mode;

/* Boot phases: the TSC at each, reported in verbose mode just before the program starts (read
 * without a branch: under TCG every branch taken at boot is a block to translate). */
enum { PHASE_CLOCKS, PHASE_FS, PHASE_LOADED, NPHASES };
static uint64_t phase_tsc[NPHASES];
static const char *const phase_names[NPHASES] = {
    "clocks and randomness ready", "root filesystem ready", "program loaded",
};

static void report_boot(const struct boot_config *cfg, const struct boot_info *bi) {
    kprintf("unikit: %lu KiB free, initrd %lu bytes, program %s\n", mm_free_pages() * 4, bi->initrd_len,
            cfg->prog);
    for (int i = 0; i < NPHASES; i++)
        kprintf("unikit: boot: %s at %lu us\n", phase_names[i], clock_ns_at(phase_tsc[i]) / 1000);
}

/* The flags that are rarely given, behind one branch. */
static void boot_options(const struct boot_config *cfg) {
    if (cfg->fast) {
        fast_mode = true;
        cpu_enable_fast_mode();
        fast_entry_map();
    }
    if (cfg->aslr)
        vm_randomize();
    if (cfg->control)
        control_init();
}

static noreturn void load_error(void) { vm_exit(UNIKIT_STATUS_LOAD_ERROR, UNIKIT_EXIT_REASON_LOAD); }

noreturn void kmain(uint32_t start_info_pa) {
    /* The CPU first: under TCG the FPU bits cpu_init sets in CR0, CR4 and XCR0 are part of
     * every translated block's key, so code that ran before them (memset, strlen) would be
     * translated again when it runs after. cpu_init allocates nothing. */
    cpu_init();
    console_init();
    struct boot_info bi = memory_from_start_info(start_info_pa);
    vm_init();
    lapic_init();

    static struct boot_config cfg;   /* kept: the first socket call reads its network settings */
    if (!cmdline_parse(bi.cmdline, &cfg))
        load_error();
    klog_verbose = cfg.verbose;
    syscall_strict = cfg.strict;
    syscall_trace = cfg.trace;
    clock_init(cfg.tsc_khz, cfg.realtime_ns);
    random_init(cfg.seed, cfg.have_seed ? sizeof cfg.seed : 0, cpu.rdrand);
    enforce_wx = cfg.wx;
    vm_exec_data = cfg.execdata;
    if (cfg.fast | cfg.aslr | cfg.control)
        boot_options(&cfg);

    if (!bi.initrd) {
        kprintf("unikit: no initrd: the image has no root filesystem\n");
        load_error();
    }
    phase_tsc[PHASE_CLOCKS] = rdtsc();
    fs_set_exe_path(cfg.prog);   /* first: fs_init notes where the program lies in the archive */
    if (fs_init(bi.initrd, bi.initrd_len))
        load_error();
    fs_set_readonly_root(cfg.ro);
    if (cfg.cwd && strcmp(cfg.cwd, "/") != 0 && fs_chdir_kernel(cfg.cwd)) {   /* "/" needs no tree */
        kprintf("unikit: cannot change to the working directory %s\n", cfg.cwd);
        load_error();
    }
    if (NET_ENABLED)
        network_configure(&cfg);   /* the NIC is probed on the first socket call */

    phase_tsc[PHASE_FS] = rdtsc();
    struct loaded_program prog;
    if (load_program(&cfg, &prog))
        load_error();
    memory_init(prog.brk_start);
    phase_tsc[PHASE_LOADED] = rdtsc();
    if (klog_verbose)
        report_boot(&cfg, &bi);
    klog_write(UNIKIT_MARK_ENTERING "\n", sizeof UNIKIT_MARK_ENTERING);
    enter_user(prog.entry, prog.stack_pointer);
}
