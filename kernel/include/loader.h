/* Loading the program: ELF segments into the address space and the Linux initial stack. */
#ifndef LOADER_H
#define LOADER_H
#include "cmdline.h"

struct loaded_program {
    uint64_t entry, stack_pointer;
    uint64_t brk_start;        /* first page after the highest segment */
};

/* Returns 0, or -errno after a "unikit: " line naming the problem. */
long load_program(const struct boot_config *cfg, struct loaded_program *out);
#endif
