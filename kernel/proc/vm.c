/*
 * The program's address space. Areas are kept in one sorted list (programs have a few dozen);
 * page tables are 4-level with 4 KiB pages for the program, reached through the direct map.
 */
#include "vm.h"
#include "cpu.h"
#include "mm.h"
#include "unikit_abi.h"
#include "random.h"
#include "x86.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_U (1ULL << 2)
#define PTE_NX (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

static struct vma *areas;

struct vm_layout layout = {
    .stack_top = STACK_TOP_FIXED,
    .mmap_top = STACK_TOP_FIXED - USER_STACK_SIZE - (1UL << 20),
    .pie_base = PIE_BASE_FIXED,
    .heap_gap = 0,
};

static uint64_t random_pages(unsigned bits) {
    uint64_t r;
    random_bytes(&r, sizeof r);
    return (r & ((1ULL << bits) - 1)) * PAGE_SIZE;
}

/* The entropy Linux gives each region on x86-64: 22 bits of pages for the stack, 28 for the
 * mmap base and a static-PIE's load address, 13 for the heap's start. */
void vm_randomize(void) {
    layout.stack_top = STACK_TOP_FIXED - random_pages(22);
    layout.mmap_top = layout.stack_top - USER_STACK_SIZE - (1UL << 20) - random_pages(28);
    layout.pie_base = PIE_BASE_FIXED + random_pages(28);
    layout.heap_gap = random_pages(13);
}
static uint64_t *pml4;

void vm_init(void) {
    pml4 = phys_to_virt(read_cr3() & PTE_ADDR);
    pml4[0] = 0;    /* the identity map the boot stub needed */
    write_cr3(read_cr3());
}

/* The PTE for va, creating the intermediate tables when `create`; NULL if absent. */
static uint64_t *pte_of(uint64_t va, bool create) {
    uint64_t *table = pml4;
    for (int level = 3; level > 0; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 511;
        if (!(table[idx] & PTE_P)) {
            if (!create)
                return NULL;
            void *page = page_alloc(1);
            if (!page)
                return NULL;
            table[idx] = virt_to_phys(page) | PTE_P | PTE_W | (va < USER_TOP ? PTE_U : 0);
        }
        table = phys_to_virt(table[idx] & PTE_ADDR);
    }
    return &table[(va >> 12) & 511];
}

/* The "execdata" flag turns NX off for the program's pages, as on a CPU without it (the low
 * security level), so that the hardened levels' protection can be shown to matter. */
bool vm_exec_data;

static uint64_t pte_flags(int prot) {
    uint64_t f = PTE_P | PTE_U;
    if (prot & PROT_WRITE)
        f |= PTE_W;
    if (!(prot & PROT_EXEC) && cpu.nx && !vm_exec_data)
        f |= PTE_NX;
    return f;
}

struct vma *vm_find(uint64_t addr) {
    for (struct vma *v = areas; v && v->start <= addr; v = v->next)
        if (addr < v->end)
            return v;
    return NULL;
}

bool vm_range_free(uint64_t start, uint64_t end) {
    if (start < MMAP_BOTTOM || end > USER_TOP || start >= end)
        return false;
    for (struct vma *v = areas; v; v = v->next)
        if (v->start < end && start < v->end)
            return false;
    return true;
}

uint64_t vm_find_free(uint64_t len) {
    uint64_t top = MMAP_TOP;
    /* Walk the gaps from the highest down; the list is sorted upwards, so collect first. */
    for (;;) {
        uint64_t candidate = top - len;
        if (len > top || candidate < MMAP_BOTTOM)
            return 0;
        struct vma *blocker = NULL;
        for (struct vma *v = areas; v; v = v->next)
            if (v->start < top && candidate < v->end)
                blocker = v;   /* the highest area in the way */
        if (!blocker)
            return candidate;
        top = blocker->start;
    }
}

long vm_insert(uint64_t start, uint64_t end, int prot, enum vma_kind kind) {
    struct vma *prev = NULL, *next = areas;
    while (next && next->start < start)
        prev = next, next = next->next;
    /* Growing areas (brk, mremap) extend their neighbour instead of adding one each time. */
    if (prev && prev->end == start && prev->prot == prot && prev->kind == kind) {
        prev->end = end;
        return 0;
    }
    struct vma *n = kmalloc(sizeof *n);
    if (!n)
        return -ENOMEM;
    *n = (struct vma){start, end, prot, kind, next};
    if (prev)
        prev->next = n;
    else
        areas = n;
    return 0;
}

static void unmap_pages(uint64_t start, uint64_t end) {
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        uint64_t *pte = pte_of(va, false);
        if (pte && (*pte & PTE_P)) {
            page_free(phys_to_virt(*pte & PTE_ADDR), 1);
            *pte = 0;
            invlpg(va);
        }
    }
}

/* Splits the area holding addr so that an area boundary falls at addr. */
static long split_at(uint64_t addr) {
    struct vma *v = vm_find(addr);
    if (!v || v->start == addr)
        return 0;
    struct vma *tail = kmalloc(sizeof *tail);
    if (!tail)
        return -ENOMEM;
    *tail = *v;
    tail->start = addr;
    v->end = addr;
    v->next = tail;
    return 0;
}

long vm_unmap(uint64_t start, uint64_t end) {
    long err = split_at(start);
    if (!err)
        err = split_at(end);
    if (err)
        return err;
    struct vma **pp = &areas;
    while (*pp) {
        struct vma *v = *pp;
        if (v->start >= start && v->end <= end) {
            unmap_pages(v->start, v->end);
            *pp = v->next;
            kfree(v);
        } else {
            pp = &v->next;
        }
    }
    return 0;
}

long vm_protect(uint64_t start, uint64_t end, int prot) {
    /* Linux refuses (ENOMEM) when part of the range is not mapped. */
    for (uint64_t a = start; a < end;) {
        struct vma *v = vm_find(a);
        if (!v)
            return -ENOMEM;
        a = v->end;
    }
    long err = split_at(start);
    if (!err)
        err = split_at(end);
    if (err)
        return err;
    for (struct vma *v = areas; v; v = v->next) {
        if (v->start < start || v->end > end)
            continue;
        v->prot = prot;
        for (uint64_t va = v->start; va < v->end; va += PAGE_SIZE) {
            uint64_t *pte = pte_of(va, false);
            if (!pte || !(*pte & PTE_P))
                continue;
            if (prot == 0) {
                /* PROT_NONE keeps the data: drop access but remember the page. */
                *pte &= ~(PTE_U | PTE_W);
                *pte |= cpu.nx ? PTE_NX : 0;
            } else {
                *pte = (*pte & PTE_ADDR) | pte_flags(prot);
            }
            invlpg(va);
        }
    }
    return 0;
}

long vm_move(uint64_t old_start, uint64_t new_start, uint64_t len) {
    struct vma *v = vm_find(old_start);
    if (!v)
        return -EFAULT;
    int prot = v->prot;
    enum vma_kind kind = v->kind;
    long err = vm_insert(new_start, new_start + len, prot, kind);
    if (err)
        return err;
    for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
        uint64_t *from = pte_of(old_start + off, false);
        if (!from || !(*from & PTE_P))
            continue;
        uint64_t *to = pte_of(new_start + off, true);
        if (!to)
            return -ENOMEM;
        *to = *from;
        *from = 0;
        invlpg(old_start + off);
    }
    return vm_unmap(old_start, old_start + len);
}

static bool populate(uint64_t va, int prot) {
    uint64_t *pte = pte_of(va, true);
    if (!pte)
        return false;
    if (*pte & PTE_P) {
        /* A page kept through PROT_NONE: give it back its access. */
        *pte = (*pte & PTE_ADDR) | pte_flags(prot);
        invlpg(va);
        return true;
    }
    void *page = page_alloc(1);
    if (!page)
        return false;
    *pte = virt_to_phys(page) | pte_flags(prot);
    return true;
}

bool vm_fault(uint64_t addr, bool write, bool exec) {
    if (addr >= USER_TOP)
        return false;
    struct vma *v = vm_find(addr);
    if (!v || !v->prot || (write && !(v->prot & PROT_WRITE)) || (exec && !(v->prot & PROT_EXEC)))
        return false;
    uint64_t *pte = pte_of(addr, false);
    if (pte && (*pte & PTE_P) && (*pte & PTE_U))
        return false;   /* present and accessible: a real protection fault */
    if (!populate(ALIGN_DOWN(addr, PAGE_SIZE), v->prot)) {
        kprintf("unikit: out of memory serving a page fault at %p (raise --mem)\n", (void *)addr);
        return false;
    }
    return true;
}

void *vm_page(uint64_t va) {
    uint64_t *pte = pte_of(va, true);
    if (!pte)
        return NULL;
    if (!(*pte & PTE_P)) {
        struct vma *v = vm_find(va);
        if (!v || !populate(ALIGN_DOWN(va, PAGE_SIZE), v->prot ? v->prot : PROT_READ))
            return NULL;
    }
    return (char *)phys_to_virt(*pte & PTE_ADDR) + (va & (PAGE_SIZE - 1));
}

void vm_discard(uint64_t start, uint64_t end) { unmap_pages(start, end); }

#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)

/* Device pages get their own window so they never alias RAM's cached direct map. */
void *mmio_map(uint64_t phys, size_t len) {
    static uint64_t next = MMIO_BASE;
    uint64_t first = ALIGN_DOWN(phys, PAGE_SIZE), end = ALIGN_UP(phys + len, PAGE_SIZE);
    uint64_t va = next;
    for (uint64_t pa = first; pa < end; pa += PAGE_SIZE, next += PAGE_SIZE) {
        /* pte_of makes user-accessible intermediate tables; the leaf decides, and it is supervisor-only. */
        uint64_t *pte = pte_of(next, true);
        if (!pte)
            return NULL;
        *pte = pa | PTE_P | PTE_W | PTE_PCD | PTE_PWT | (cpu.nx ? PTE_NX : 0);
    }
    return (char *)va + (phys - first);
}

/* core/user.c's view: is [u, u+n) usable by the kernel on the program's behalf? Only the areas
 * are checked; pages not yet touched are faulted in when the kernel first uses them (see
 * arch/trap.c), so a large buffer costs nothing until it is written. */
bool user_range_ok(uint64_t u, size_t n, bool write) {
    if (n == 0)
        return true;
    if (u + n < u || u + n > USER_TOP)
        return false;
    int need = write ? PROT_WRITE : PROT_READ;
    for (uint64_t a = u; a < u + n;) {
        struct vma *v = vm_find(a);
        if (!v || !(v->prot & need))
            return false;
        a = v->end;
    }
    return true;
}

/* The page rewritten programs call in fast mode: `movabs $fast_syscall_entry, %r11; jmp *%r11`
 * at a fixed address (abi/unikit_abi.h), whatever this kernel's layout. */
void fast_entry_map(void) {
    extern char fast_syscall_entry[];
    uint8_t *page = page_alloc(1);
    uint64_t *pte = page ? pte_of(UNIKIT_FAST_SYSCALL_ENTRY, true) : NULL;
    if (!pte)
        panic("no memory for the fast-mode entry page");
    uint64_t target = (uint64_t)fast_syscall_entry;
    page[0] = 0x49, page[1] = 0xbb;          /* movabs imm64, %r11 */
    memcpy(page + 2, &target, 8);
    page[10] = 0x41, page[11] = 0xff, page[12] = 0xe3;   /* jmp *%r11 */
    *pte = virt_to_phys(page) | PTE_P;       /* supervisor, read-only, executable */
    invlpg(UNIKIT_FAST_SYSCALL_ENTRY);
}
