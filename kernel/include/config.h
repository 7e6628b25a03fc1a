/*
 * Build configuration. A general kernel is built with no configuration and has every syscall.
 * A per-program kernel is built with CONFIG=<file> (see Makefile): the file defines
 * UNIKIT_SPECIALIZED and one UNIKIT_SYSCALL_<name> per syscall the program may make; every other
 * handler is left out of the table, and --gc-sections drops the code only it used.
 */
#ifndef CONFIG_H
#define CONFIG_H

/* IS_DEFINED(M) is 1 when M is defined to 1, else 0, usable in constant expressions. */
#define CONFIG_PLACEHOLDER_1 0,
#define CONFIG_SECOND(ignored, val, ...) val
#define CONFIG_IS_DEFINED3(arg1_or_junk) CONFIG_SECOND(arg1_or_junk 1, 0, 0)
#define CONFIG_IS_DEFINED2(val) CONFIG_IS_DEFINED3(CONFIG_PLACEHOLDER_##val)
#define IS_DEFINED(m) CONFIG_IS_DEFINED2(m)

#ifdef UNIKIT_SPECIALIZED
#define SYSCALL_ENABLED(name) IS_DEFINED(UNIKIT_SYSCALL_##name)
#else
#define SYSCALL_ENABLED(name) 1

/* The network comes up at boot only in kernels that have socket calls. */
#define NET_ENABLED SYSCALL_ENABLED(socket)
#endif


/* The network comes up at boot only in kernels that have socket calls. */
#define NET_ENABLED SYSCALL_ENABLED(socket)
#endif
