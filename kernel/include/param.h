/* Every limit of the kernel in one place. */
#ifndef PARAM_H
#define PARAM_H

#define PAGE_SIZE 4096UL
#define MAX_FDS 1024            /* RLIMIT_NOFILE as the program sees it */
#define PATH_MAX_LEN 4096       /* longest path accepted from the program, with its NUL */
#define NAME_MAX_LEN 255        /* longest path component */
#define MAX_SYMLINK_DEPTH 40    /* ELOOP after this many symlinks in one lookup */
#define MAX_ARGS 4096           /* argv + envp entries from the command line */
#define USER_STACK_SIZE (8UL << 20)  /* reserved; pages are allocated on first touch */
#define PIPE_BUF_SIZE 65536
#define MAX_IOV 1024            /* IOV_MAX */
#define KERNEL_STACK_SIZE 16384

#endif
