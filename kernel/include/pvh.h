/* The PVH boot structures QEMU hands the kernel (Xen's hvm_start_info ABI, version 1). */
#ifndef PVH_H
#define PVH_H
#include <stdint.h>

#define PVH_START_MAGIC 0x336ec578
#define PVH_MEMMAP_RAM 1

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};
#endif
