/*
 * Blocking in a kernel with one thread: a syscall that must wait runs the network (received
 * frames, timers) and halts the CPU until an interrupt or the next deadline, re-checking its
 * condition each time (core/wait.c, core/network.c).
 */
#ifndef WAIT_H
#define WAIT_H
#include "kernel.h"

#define WAIT_FOREVER UINT64_MAX

/* Waits until ready(arg) or the monotonic deadline; true when ready. */
bool wait_until(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns);

/* core/network.c: the command line's network settings (kept for the first socket call, which
 * brings up the NIC and the stack through network_stack()). */
struct boot_config;
void network_configure(const struct boot_config *cfg);
void network_init(const struct boot_config *cfg);
/* The stack, created on first use when the VM has no NIC (loopback only); NULL without memory. */
struct net_stack *network_stack(void);
/* Hands received frames to the stack and runs its timers. */
void network_pump(void);
/* When the stack next needs to run; UINT64_MAX when never. */
uint64_t network_deadline(void);
/* Before the VM ends: lets the last segments reach the peer (bounded; see network.c). */
void network_flush_before_exit(void);
#endif
