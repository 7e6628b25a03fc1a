/*
 * Physical pages (a bitmap, next-fit) and the kernel heap (power-of-two size classes carved
 * from pages; large blocks straight from the page allocator). One CPU, no locks.
 */
#include "mm.h"

static uint8_t *bitmap;          /* 1 = used */
static uint64_t npages_total_span, free_pages, ram_pages, next_hint;
static uint64_t ram_top;

static inline bool page_used(uint64_t pfn) { return bitmap[pfn >> 3] & (1u << (pfn & 7)); }
static inline void mark(uint64_t pfn, bool used) {
    if (used)
        bitmap[pfn >> 3] |= (uint8_t)(1u << (pfn & 7));
    else
        bitmap[pfn >> 3] &= (uint8_t)~(1u << (pfn & 7));
}

/* Clears the bits of pfns [first, end): whole bytes at once where it can. */
static void mark_range_free(uint64_t first, uint64_t end) {
    for (; first < end && (first & 7); first++)
        mark(first, false);
    uint64_t whole = (end - first) / 8;
    memset(bitmap + first / 8, 0, whole);
    for (first += whole * 8; first < end; first++)
        mark(first, false);
}

static bool overlaps(uint64_t s, uint64_t e, const struct phys_range *r, int n) {
    for (int i = 0; i < n; i++)
        if (s < r[i].end && r[i].start < e)
            return true;
    return false;
}

void mm_init(const struct phys_range *ram, int nram, const struct phys_range *reserved, int nreserved) {
    for (int i = 0; i < nram; i++)
        ram_top = MAX(ram_top, ram[i].end);
    npages_total_span = ram_top / PAGE_SIZE;
    uint64_t bitmap_bytes = ALIGN_UP((npages_total_span + 7) / 8, PAGE_SIZE);

    /* Up to 512 MiB of RAM the bitmap is the kernel's own (16 KiB of .bss, inside the kernel's
     * reserved range): no search at boot. Beyond, it goes in the first page-aligned RAM hole
     * that holds nothing reserved. */
    static uint8_t own_bitmap[(512ULL << 20) / PAGE_SIZE / 8] __attribute__((aligned(PAGE_SIZE)));
    uint64_t at = bitmap_bytes <= sizeof own_bitmap ? virt_to_phys(own_bitmap) : 0;
    for (int i = 0; i < nram && !at; i++) {
        for (uint64_t s = ALIGN_UP(MAX(ram[i].start, 0x100000), PAGE_SIZE); s + bitmap_bytes <= ram[i].end;
             s += PAGE_SIZE) {
            if (!overlaps(s, s + bitmap_bytes, reserved, nreserved)) {
                at = s;
                break;
            }
        }
    }
    if (!at)
        panic("no room for the page bitmap (%lu bytes)", bitmap_bytes);
    bitmap = phys_to_virt(at);
    memset(bitmap, 0xff, bitmap_bytes);

    /* Free each RAM range minus the reserved ones, a run at a time (a page-by-page walk costs
     * milliseconds under TCG with a few hundred MiB). The first MiB holds boot structures. */
    for (int i = 0; i < nram; i++) {
        uint64_t start = ALIGN_UP(MAX(ram[i].start, 0x100000), PAGE_SIZE), end = ALIGN_DOWN(ram[i].end, PAGE_SIZE);
        while (start < end) {
            uint64_t run_end = end;
            bool blocked = false;
            for (int r = 0; r <= nreserved; r++) {
                uint64_t rs = r < nreserved ? reserved[r].start : at, re = r < nreserved ? reserved[r].end : at + bitmap_bytes;
                if (rs <= start && start < re) {
                    start = ALIGN_UP(re, PAGE_SIZE);
                    blocked = true;
                    break;
                }
                if (rs > start && rs < run_end)
                    run_end = ALIGN_DOWN(rs, PAGE_SIZE);
            }
            if (blocked)
                continue;
            mark_range_free(start / PAGE_SIZE, run_end / PAGE_SIZE);
            free_pages += (run_end - start) / PAGE_SIZE;
            start = run_end;
        }
    }
    ram_pages = free_pages;
}

uint64_t mm_ram_top(void) { return ram_top; }
size_t mm_free_pages(void) { return free_pages; }
size_t mm_total_pages(void) { return ram_pages; }

void *page_alloc(size_t n) {
    if (n == 0 || n > free_pages)
        return NULL;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t start = pass ? 0 : next_hint;
        uint64_t run = 0;
        for (uint64_t pfn = start; pfn < npages_total_span; pfn++) {
            run = page_used(pfn) ? 0 : run + 1;
            if (run == n) {
                uint64_t first = pfn + 1 - n;
                for (uint64_t p = first; p <= pfn; p++)
                    mark(p, true);
                free_pages -= n;
                next_hint = pfn + 1;
                void *va = phys_to_virt(first * PAGE_SIZE);
                memset(va, 0, n * PAGE_SIZE);
                return va;
            }
        }
    }
    return NULL;
}

void page_free(void *p, size_t n) {
    if (!p)
        return;
    uint64_t first = virt_to_phys(p) / PAGE_SIZE;
    for (uint64_t pfn = first; pfn < first + n; pfn++) {
        if (!page_used(pfn))
            panic("page_free of a free page (pfn %lu)", pfn);
        mark(pfn, false);
    }
    free_pages += n;
    if (first < next_hint)
        next_hint = first;
}

/* The heap. Every block starts with a header telling its size class or page count. */
#define HEAP_MIN_SHIFT 5    /* 32-byte blocks */
#define HEAP_MAX_SHIFT 11   /* 2048-byte blocks; larger come from page_alloc */
#define HEADER 16

struct free_block { struct free_block *next; };
static struct free_block *free_lists[HEAP_MAX_SHIFT + 1];

struct header { uint64_t size; uint32_t pages; uint32_t cls; };   /* pages != 0: page-backed */

static int class_of(size_t total) {
    int s = HEAP_MIN_SHIFT;
    while (((size_t)1 << s) < total)
        s++;
    return s;
}

void *kmalloc(size_t n) {
    size_t total = n + HEADER;
    if (n > (1UL << 40))
        return NULL;
    struct header *h;
    if (total > (1u << HEAP_MAX_SHIFT)) {
        size_t pages = ALIGN_UP(total, PAGE_SIZE) / PAGE_SIZE;
        h = page_alloc(pages);
        if (!h)
            return NULL;
        h->pages = (uint32_t)pages;
        h->cls = 0;
    } else {
        int c = class_of(total);
        if (!free_lists[c]) {
            char *page = page_alloc(1);
            if (!page)
                return NULL;
            for (size_t off = 0; off + ((size_t)1 << c) <= PAGE_SIZE; off += (size_t)1 << c) {
                struct free_block *b = (struct free_block *)(page + off);
                b->next = free_lists[c];
                free_lists[c] = b;
            }
        }
        h = (struct header *)free_lists[c];
        free_lists[c] = free_lists[c]->next;
        h->pages = 0;
        h->cls = (uint32_t)c;
    }
    h->size = n;
    return (char *)h + HEADER;
}

void *kzalloc(size_t n) {
    void *p = kmalloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void kfree(void *p) {
    if (!p)
        return;
    struct header *h = (struct header *)((char *)p - HEADER);
    if (h->pages) {
        page_free(h, h->pages);
        return;
    }
    int c = (int)h->cls;
    struct free_block *b = (struct free_block *)h;
    b->next = free_lists[c];
    free_lists[c] = b;
}

void *krealloc(void *p, size_t n) {
    if (!p)
        return kmalloc(n);
    struct header *h = (struct header *)((char *)p - HEADER);
    size_t capacity = h->pages ? h->pages * PAGE_SIZE - HEADER : ((size_t)1 << h->cls) - HEADER;
    if (n <= capacity) {
        h->size = n;
        return p;
    }
    void *q = kmalloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, h->size);
    kfree(p);
    return q;
}
