/* The one process: the state its syscalls share, set up at boot. */
#ifndef PROCESS_H
#define PROCESS_H
#include "kernel.h"
void memory_init(uint64_t heap_start);   /* linux/memory.c */
extern bool enforce_wx;
/* linux/process.c: a signal the program sends itself (or SIGPIPE from a write): ignored, or the
 * default action, which ends the VM with 128 + sig. Returns 0 when it did not end the program. */
long signal_raise(long sig);
/* drivers/control.c: the host's requests (the "control" flag). */
void control_init(void);                  /* linux/memory.c: the "wx" flag */
#endif
