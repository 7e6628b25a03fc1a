/*
 * The ELF loader for static programs (ET_EXEC, and ET_DYN without an interpreter: static-PIE),
 * and the initial stack Linux gives a new program: argc, argv, envp, auxv, and the strings and
 * random bytes they point at. Every check the host's `unikit build` makes is made again here,
 * since an image can be run without it.
 */
#include "loader.h"
#include "cpu.h"
#include "fs.h"
#include "random.h"
#include "vm.h"

#define PT_LOAD 1
#define PT_INTERP 3
#define PT_PHDR 6
#define PT_GNU_STACK 0x6474e551
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define ET_EXEC 2
#define ET_DYN 3

struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

enum auxv_type {
    AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8,
    AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15, AT_HWCAP = 16,
    AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31,
};

static long fail(const char *prog, const char *what) {
    kprintf("unikit: cannot run %s: %s\n", prog, what);
    return -ENOEXEC;
}

static int prot_of(uint32_t pflags) {
    return (pflags & PF_R ? PROT_READ : 0) | (pflags & PF_W ? PROT_WRITE : 0) | (pflags & PF_X ? PROT_EXEC : 0);
}

/* Copies file bytes to a user address, page by page through the kernel's view of each page. */
static bool copy_into(uint64_t va, const uint8_t *src, size_t n) {
    while (n) {
        uint8_t *dst = vm_page(va);
        if (!dst)
            return false;
        size_t chunk = MIN(n, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
        memcpy(dst, src, chunk);
        va += chunk, src += chunk, n -= chunk;
    }
    return true;
}

/* The reason a header is refused, checked in order (only when check_header saw a problem). */
static long header_problem(const char *prog, const uint8_t *data, size_t size) {
    const struct elf64_ehdr *h = (const void *)data;
    if (size < 4 || memcmp(data, "\x7f" "ELF", 4))
        return fail(prog, "not an ELF file");
    if (size < sizeof *h)
        return fail(prog, "truncated ELF header");
    if (h->ident[4] != 2)
        return fail(prog, "32-bit ELF: only x86-64 programs run");
    if (h->ident[5] != 1 || h->machine != 62)
        return fail(prog, "not an x86-64 ELF");
    if (h->type != ET_EXEC && h->type != ET_DYN)
        return fail(prog, "not an executable ELF (type is neither EXEC nor DYN)");
    if (h->phentsize != sizeof(struct elf64_phdr) || h->phnum == 0)
        return fail(prog, "ELF has no usable program headers");
    return fail(prog, "truncated ELF: program headers lie past the end of the file");
}

/* The checks joined with | into one branch (under TCG each branch taken at boot is a block to
 * translate); header_problem names the first that failed. */
static long check_header(const char *prog, const uint8_t *data, size_t size, const struct elf64_ehdr **eh) {
    const struct elf64_ehdr *h = (const void *)data;
    if (size < sizeof *h)
        return header_problem(prog, data, size);
    uint32_t magic;
    memcpy(&magic, data, 4);
    if ((magic != 0x464c457f) | (h->ident[4] != 2) | (h->ident[5] != 1) | (h->machine != 62) |
        ((h->type != ET_EXEC) & (h->type != ET_DYN)) | (h->phentsize != sizeof(struct elf64_phdr)) |
        (h->phnum == 0) | (h->phoff > size) || (size - h->phoff) / sizeof(struct elf64_phdr) < h->phnum)
        return header_problem(prog, data, size);
    *eh = h;
    return 0;
}

static long load_segments(const char *prog, const uint8_t *data, size_t size, const struct elf64_ehdr *h,
                          uint64_t base, uint64_t *top, uint64_t *phdr_va) {
    const struct elf64_phdr *ph = (const void *)(data + h->phoff);
    *top = 0;
    *phdr_va = 0;
    for (int i = 0; i < h->phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        if (p->type == PT_INTERP)   /* it comes before the segments it would need */
            return fail(prog, "dynamically linked: not supported yet; link it statically");
        if (p->type == PT_PHDR)
            *phdr_va = base + p->vaddr;
        if (p->type != PT_LOAD || p->memsz == 0)
            continue;
        /* Conditions joined with | and &: one branch each, not one per comparison. */
        if ((p->filesz > p->memsz) | (p->offset > size) | (size - p->offset < p->filesz))
            return fail(prog, "truncated ELF: a segment lies past the end of the file");
        uint64_t start = base + p->vaddr, end = start + p->memsz;
        if ((end < start) | (start < MMAP_BOTTOM) | (end > MMAP_TOP))
            return fail(prog, "a segment lies outside the program's address range");
        for (int j = 0; j < i; j++) {
            const struct elf64_phdr *q = &ph[j];
            if ((q->type == PT_LOAD) & (q->memsz != 0) & (p->vaddr < q->vaddr + q->memsz) &
                (q->vaddr < p->vaddr + p->memsz))
                return fail(prog, "ELF segments overlap");
        }
        /* Neighbouring segments may share a page: that page gets both permissions. */
        uint64_t pstart = ALIGN_DOWN(start, PAGE_SIZE), pend = ALIGN_UP(end, PAGE_SIZE);
        struct vma *shared = vm_find(pstart);
        if (shared) {
            if (vm_protect(pstart, pstart + PAGE_SIZE, shared->prot | prot_of(p->flags)))
                return -ENOMEM;
            pstart += PAGE_SIZE;
        }
        if (pstart < pend) {
            if (!vm_range_free(pstart, pend))
                return fail(prog, "ELF segments overlap");
            if (vm_insert(pstart, pend, prot_of(p->flags), VMA_IMAGE))
                return -ENOMEM;
        }
        if (!copy_into(start, data + p->offset, p->filesz)) {
            kprintf("unikit: not enough memory to load %s (%lu KiB free); raise --mem\n", prog,
                    mm_free_pages() * 4);
            return -ENOMEM;
        }
        /* Touch the bss pages so a short memory is reported now, not as a fault later. */
        for (uint64_t va = ALIGN_UP(start + p->filesz, PAGE_SIZE); va < end; va += PAGE_SIZE)
            if (!vm_page(va)) {
                kprintf("unikit: not enough memory to load %s (%lu KiB free); raise --mem\n", prog,
                        mm_free_pages() * 4);
                return -ENOMEM;
            }
        if (!*phdr_va && h->phoff >= p->offset && h->phoff - p->offset < p->filesz)
            *phdr_va = start + (h->phoff - p->offset);
        *top = MAX(*top, end);
    }
    if (!*top)
        return fail(prog, "ELF has no loadable segment");
    return 0;
}

/* The i-th string the stack holds besides the program's path: the arguments, then the
 * environment. */
static const char *stack_string(const struct boot_config *cfg, int i) {
    return i < cfg->argc ? cfg->argv[i] : cfg->envp[i - cfg->argc];
}

/* Puts the string s below *sp in the stack image (whose first byte is user address low);
 * returns its user address. */
static uint64_t push_string(uint8_t *img, uint64_t low, uint64_t *sp, const char *s) {
    size_t n = strlen(s) + 1;
    *sp -= n;
    memcpy(img + (*sp - low), s, n);
    return *sp;
}

/* Writes the initial stack below STACK_TOP; returns the program's starting stack pointer. The
 * layout is computed first, then the stack is assembled in a kernel buffer and copied in one go
 * (fewer distinct code paths: under TCG each one costs translation time at every boot). */
static long build_stack(const struct boot_config *cfg, const struct elf64_ehdr *h, uint64_t base,
                        uint64_t phdr_va, uint64_t *sp_out) {
    if (vm_insert(STACK_TOP - USER_STACK_SIZE, STACK_TOP, PROT_READ | PROT_WRITE, VMA_STACK))
        return -ENOMEM;
    enum { NAUXV = 19 };
    int nstrings = cfg->argc + cfg->envc;
    size_t words = 1 + (size_t)nstrings + 2 + 2 * NAUXV;   /* argc, argv, NULL, envp, NULL, auxv */
    size_t string_bytes = strlen(cfg->prog) + 1 + sizeof "x86_64";
    for (int i = 0; i < nstrings; i++)
        string_bytes += strlen(stack_string(cfg, i)) + 1;
    /* From the top: the strings, 16 random bytes (16-aligned), the words (argc 16-aligned). */
    uint64_t random_va = ALIGN_DOWN(STACK_TOP - string_bytes, 16) - 16;
    uint64_t sp = ALIGN_DOWN(random_va - words * 8, 16);
    uint8_t *img = kzalloc(STACK_TOP - sp);   /* zeroed: the padding reaches the program */
    if (!img)
        return -ENOMEM;
    uint64_t *w = (uint64_t *)img;
    w[0] = (uint64_t)cfg->argc;
    /* The program's path at the very top, then the environment and the arguments, each one's
     * address in its slot (argv[i] at w[1 + i], envp[j] at w[2 + argc + j]; the NULLs stay 0). */
    uint64_t at = STACK_TOP;
    uint64_t execfn = push_string(img, sp, &at, cfg->prog);
    for (int i = nstrings - 1; i >= 0; i--)
        w[1 + i + (i >= cfg->argc)] = push_string(img, sp, &at, stack_string(cfg, i));
    uint64_t platform = push_string(img, sp, &at, "x86_64");
    random_startup_bytes(img + (random_va - sp));

    /* The auxv types from a table, then the ten values that are not 0: fewer instructions to
     * translate than an initialized array of pairs. */
    w += 1 + nstrings + 2;
    static const uint8_t auxv_types[NAUXV] = {
        AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_HWCAP, AT_CLKTCK, AT_EXECFN,
        AT_PLATFORM, AT_BASE, AT_FLAGS, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_HWCAP2, AT_NULL,
    };
    for (int i = 0; i < NAUXV; i++)
        w[2 * i] = auxv_types[i];
    w[1] = phdr_va;
    w[3] = sizeof(struct elf64_phdr);
    w[5] = h->phnum;
    w[7] = PAGE_SIZE;
    w[9] = base + h->entry;
    w[11] = random_va;
    w[13] = cpu.hwcap;
    w[15] = 100;   /* AT_CLKTCK */
    w[17] = execfn;
    w[19] = platform;
    bool copied = copy_into(sp, img, STACK_TOP - sp);
    kfree(img);
    *sp_out = sp;
    return copied ? 0 : -ENOMEM;
}

long load_program(const struct boot_config *cfg, struct loaded_program *out) {
    const void *file;
    size_t size;
    long err = fs_map_program(&file, &size);
    if (err) {
        kprintf("unikit: cannot run %s: %s\n", cfg->prog,
                err == -ENOENT ? "no such file in the image" : "cannot read the file");
        return err;
    }
    const struct elf64_ehdr *h = NULL;
    if ((err = check_header(cfg->prog, file, size, &h)))
        return err;
    uint64_t base = h->type == ET_DYN ? layout.pie_base : 0, top, phdr_va;
    if ((err = load_segments(cfg->prog, file, size, h, base, &top, &phdr_va)))
        return err;
    if ((err = build_stack(cfg, h, base, phdr_va, &out->stack_pointer))) {
        if (err == -ENOMEM)
            kprintf("unikit: not enough memory for %s's stack; raise --mem\n", cfg->prog);
        return err;
    }
    out->entry = base + h->entry;
    out->brk_start = ALIGN_UP(top, PAGE_SIZE) + layout.heap_gap;
    return 0;
}
