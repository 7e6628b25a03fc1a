/* The kernel's virtual address layout, shared by C and assembly. */
#ifndef LAYOUT_H
#define LAYOUT_H

#define KERNEL_VMA 0xffffffff80000000      /* kernel image: phys + KERNEL_VMA */
#define DIRECT_MAP_BASE 0xffff888000000000 /* all of RAM: phys + DIRECT_MAP_BASE */
#define PML4_INDEX_DIRECT 273              /* (DIRECT_MAP_BASE >> 39) & 511 */
#define MMIO_BASE 0xffffc90000000000       /* device registers, mapped uncached on demand */
#define DIRECT_MAP_LIMIT 0x100000000UL   /* the boot page tables map RAM below 4 GiB */
#define USER_TOP 0x0000800000000000        /* the program's half ends here */

#endif
