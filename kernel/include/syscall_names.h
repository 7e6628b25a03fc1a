/* The Linux x86-64 syscall names, for messages (generated array, see tools/). */
#ifndef SYSCALL_NAMES_H
#define SYSCALL_NAMES_H
#define SYSCALL_NAMES_LEN 512
extern const char *const syscall_names[SYSCALL_NAMES_LEN];
#endif
