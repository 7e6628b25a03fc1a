/* The kernel command line, as docs/guest-abi.md defines it. */
#ifndef CMDLINE_H
#define CMDLINE_H
#include "kernel.h"

struct boot_config {
    char *prog;
    char **argv, **envp;     /* NULL-terminated */
    int argc, envc;
    char *cwd;
    char *ip, *gw, *dns;     /* the network interface's address (ip= takes a.b.c.d/len) */
    char *listen, *egress;   /* the network policy's lists, enforced with the netpolicy flag */
    uint64_t tsc_khz, realtime_ns;
    uint8_t seed[32];
    bool have_seed, verbose, strict, fast, aslr, wx, ro, trace, execdata, control, netpolicy;
};

/* Parses a copy of the command line; a problem is a "unikit: " line and a false return. */
bool cmdline_parse(const char *cmdline, struct boot_config *cfg);
#endif
