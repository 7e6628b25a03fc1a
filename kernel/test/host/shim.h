/* The host shim's controls for the tests: captured console output and kernel log, bad user
 * ranges, and the fake clock. */
#ifndef SHIM_H
#define SHIM_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

extern char shim_console[3][65536];   /* what streams 1 and 2 received */
extern size_t shim_console_len[3];
extern char shim_klog[4096];          /* the last kprintf line */
extern uint64_t shim_slept_until;     /* last clock_sleep_until deadline */
extern bool shim_quiet;               /* do not echo the kernel log to stderr */

void shim_console_reset(void);
/* Marks [p, p+n) as not the program's memory: user_range_ok says no. */
void shim_bad_range(const void *p, size_t n);
/* Marks [p, p+n) as read-only user memory. */
void shim_readonly_range(const void *p, size_t n);
/* Once any is marked, only "good" ranges are user memory (the rest is unmapped). */
void shim_good_range(const void *p, size_t n);
void shim_clear_ranges(void);

#endif
