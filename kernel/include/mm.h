/* Physical memory: the direct map and the boot-time setup of the page allocator. */
#ifndef MM_H
#define MM_H
#include "kernel.h"
#include "layout.h"

static inline void *phys_to_virt(uint64_t pa) { return (void *)(pa + DIRECT_MAP_BASE); }
static inline uint64_t virt_to_phys(const void *va) {
    uint64_t v = (uint64_t)va;
    return v >= KERNEL_VMA ? v - KERNEL_VMA : v - DIRECT_MAP_BASE;
}

struct phys_range { uint64_t start, end; };

/* Sets up the page allocator from the RAM ranges, keeping the reserved ranges out of it. */
void mm_init(const struct phys_range *ram, int nram, const struct phys_range *reserved, int nreserved);
uint64_t mm_ram_top(void);   /* highest RAM address + 1 */

/* proc/vm.c: maps device registers at phys (uncached) into the kernel; NULL without memory. */
void *mmio_map(uint64_t phys, size_t len);
#endif
