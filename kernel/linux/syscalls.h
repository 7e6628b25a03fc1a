/*
 * Every syscall handler, by family file. Handlers take the raw argument registers as longs
 * (pointers are user addresses, checked inside) and return a value or -errno.
 * The table that maps Linux x86-64 numbers to them is table.c.
 */
#ifndef SYSCALLS_H
#define SYSCALLS_H

#include "../include/kernel.h"

/* files.c (and fs/) */
long sys_read(long fd, long buf, long count);
long sys_write(long fd, long buf, long count);
long sys_readv(long fd, long iov, long iovcnt);
long sys_writev(long fd, long iov, long iovcnt);
long sys_pread64(long fd, long buf, long count, long off);
long sys_pwrite64(long fd, long buf, long count, long off);
long sys_open(long path, long flags, long mode);
long sys_openat(long dirfd, long path, long flags, long mode);
long sys_creat(long path, long mode);
long sys_close(long fd);
long sys_lseek(long fd, long off, long whence);
long sys_fstat(long fd, long st);
long sys_stat(long path, long st);
long sys_lstat(long path, long st);
long sys_newfstatat(long dirfd, long path, long st, long flags);
long sys_statx(long dirfd, long path, long flags, long mask, long buf);
long sys_getdents64(long fd, long dirp, long count);
long sys_access(long path, long mode);
long sys_faccessat(long dirfd, long path, long mode);
long sys_faccessat2(long dirfd, long path, long mode, long flags);
long sys_readlink(long path, long buf, long size);
long sys_readlinkat(long dirfd, long path, long buf, long size);
long sys_getcwd(long buf, long size);
long sys_chdir(long path);
long sys_fchdir(long fd);
long sys_fcntl(long fd, long cmd, long arg);
long sys_dup(long fd);
long sys_dup2(long oldfd, long newfd);
long sys_dup3(long oldfd, long newfd, long flags);
long sys_pipe(long fds);
long sys_pipe2(long fds, long flags);
long sys_ioctl(long fd, long req, long arg);
long sys_mkdir(long path, long mode);
long sys_mkdirat(long dirfd, long path, long mode);
long sys_rmdir(long path);
long sys_unlink(long path);
long sys_unlinkat(long dirfd, long path, long flags);
long sys_rename(long oldpath, long newpath);
long sys_renameat(long olddirfd, long oldpath, long newdirfd, long newpath);
long sys_renameat2(long olddirfd, long oldpath, long newdirfd, long newpath, long flags);
long sys_ftruncate(long fd, long len);
long sys_truncate(long path, long len);
long sys_fsync(long fd);
long sys_fdatasync(long fd);
long sys_sendfile(long out_fd, long in_fd, long offp, long count);
long sys_symlink(long target, long linkpath);
long sys_chmod(long path, long mode);
long sys_fchmod(long fd, long mode);
long sys_utimensat(long dirfd, long path, long times, long flags);
long sys_statfs(long path, long buf);
long sys_fstatfs(long fd, long buf);
long sys_poll(long fds, long nfds, long timeout_ms);
long sys_close_range(long first, long last, long flags);

/* memory.c */
long sys_mmap(long addr, long len, long prot, long flags, long fd, long off);
long sys_munmap(long addr, long len);
long sys_mprotect(long addr, long len, long prot);
long sys_mremap(long old_addr, long old_len, long new_len, long flags, long new_addr);
long sys_madvise(long addr, long len, long advice);
long sys_brk(long addr);

/* process.c */
long sys_exit(long status);
long sys_exit_group(long status);
long sys_arch_prctl(long code, long addr);
long sys_set_tid_address(long tidptr);
long sys_set_robust_list(long head, long len);
long sys_rseq(long rseq, long len, long flags, long sig);
long sys_prlimit64(long pid, long resource, long new_limit, long old_limit);
long sys_getrlimit(long resource, long rlim);
long sys_setrlimit(long resource, long rlim);
long sys_uname(long buf);
long sys_sysinfo(long info);
long sys_getpid(void);
long sys_getppid(void);
long sys_gettid(void);
long sys_getuid(void);
long sys_geteuid(void);
long sys_getgid(void);
long sys_getegid(void);
long sys_getpgrp(void);
long sys_getpgid(long pid);
long sys_setpgid(long pid, long pgid);
long sys_getsid(long pid);
long sys_umask(long mask);
long sys_getrandom(long buf, long len, long flags);
long sys_sched_yield(void);
long sys_sched_getaffinity(long pid, long len, long mask);
long sys_rt_sigaction(long sig, long act, long oldact, long sigsetsize);
long sys_rt_sigprocmask(long how, long set, long oldset, long sigsetsize);
long sys_sigaltstack(long ss, long old_ss);
long sys_futex(long uaddr, long op, long val, long timeout, long uaddr2, long val3);
long sys_kill(long pid, long sig);
long sys_tgkill(long tgid, long tid, long sig);
long sys_getgroups(long size, long list);
long sys_prctl(long option, long a2, long a3, long a4, long a5);
long sys_getrusage(long who, long usage);
long sys_times(long buf);
long sys_wait4(long pid, long status, long options, long rusage);

/* sockets.c */
long sys_socket(long domain, long type, long protocol);
long sys_bind(long fd, long addr, long len);
long sys_listen(long fd, long backlog);
long sys_accept(long fd, long addr, long len);
long sys_accept4(long fd, long addr, long len, long flags);
long sys_connect(long fd, long addr, long len);
long sys_getsockname(long fd, long addr, long len);
long sys_getpeername(long fd, long addr, long len);
long sys_setsockopt(long fd, long level, long name, long val, long len);
long sys_getsockopt(long fd, long level, long name, long val, long len);
long sys_shutdown(long fd, long how);
long sys_sendto(long fd, long buf, long len, long flags, long addr, long addrlen);
long sys_recvfrom(long fd, long buf, long len, long flags, long addr, long addrlen);
long sys_sendmsg(long fd, long msg, long flags);
long sys_recvmsg(long fd, long msg, long flags);

/* poll.c (sys_poll is declared with the files) */
long sys_ppoll(long fds, long nfds, long ts, long sigmask, long sigsetsize);
long sys_select(long n, long rfds, long wfds, long efds, long tv);
long sys_pselect6(long n, long rfds, long wfds, long efds, long ts, long sig);
long sys_epoll_create(long size);
long sys_epoll_create1(long flags);
long sys_epoll_ctl(long epfd, long op, long fd, long event);
long sys_epoll_wait(long epfd, long events, long maxevents, long timeout);
long sys_epoll_pwait(long epfd, long events, long maxevents, long timeout, long sigmask, long sigsetsize);
long sys_eventfd(long initval);
long sys_eventfd2(long initval, long flags);

/* time.c */
long sys_clock_gettime(long clk, long tp);
long sys_clock_getres(long clk, long res);
long sys_clock_nanosleep(long clk, long flags, long req, long rem);
long sys_nanosleep(long req, long rem);
long sys_gettimeofday(long tv, long tz);
long sys_time(long tloc);

#endif
