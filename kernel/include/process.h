/* The one process: the state its syscalls share, set up at boot. */
#ifndef PROCESS_H
#define PROCESS_H
#include "kernel.h"
void memory_init(uint64_t heap_start);   /* linux/memory.c */
extern bool enforce_wx;                  /* linux/memory.c: the "wx" flag */
#endif
