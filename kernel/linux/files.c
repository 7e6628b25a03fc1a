/*
 * The file syscalls (Linux x86-64): argument checking and the Linux structures, over the RAM
 * filesystem in kernel/fs/. Every user pointer is checked before use (EFAULT), descriptors
 * are resolved first (EBADF), lengths capped. Errors follow Linux, including the order in
 * which they are checked where programs can tell.
 */
#include "syscalls.h"
#include "../fs/fsimpl.h"

#define MAX_SENDFILE_CHUNK 65536
#define NSEC_PER_MSEC 1000000ULL
#define LONG_MAX_COUNT 0x7ffff000L

/* Paths copied from the program; two for the calls that take two. */
static char pathbuf[2][PATH_MAX_LEN];

static long get_path(long upath, int which, char **out)
{
    long r = strncpy_from_user(pathbuf[which], (uint64_t)upath, PATH_MAX_LEN);
    if (r < 0)
        return r;
    *out = pathbuf[which];
    return 0;
}

/* The directory a relative path starts from: the cwd or dirfd's directory. */
static long at_base(long dirfd, const char *path, struct inode **base)
{
    if (path[0] == '/' || (int)dirfd == AT_FDCWD) {
        *base = fs_cwd_inode();   /* builds the tree: fs_root is set after it */
        if (path[0] == '/')
            *base = fs_root;
        return 0;
    }
    struct file *f = fd_get((int)dirfd);
    if (!f)
        return -EBADF;
    if (!S_ISDIR(f->ino->mode))
        return -ENOTDIR;
    *base = f->ino;
    return 0;
}

/* Resolves dirfd + user path to an existing inode; AT_EMPTY_PATH lets "" name dirfd itself. */
static long lookup_at(long dirfd, long upath, int atflags, struct inode **out)
{
    char *path;
    long r = get_path(upath, 0, &path);
    if (r)
        return r;
    if (!*path && (atflags & AT_EMPTY_PATH)) {
        struct file *f = (int)dirfd == AT_FDCWD ? NULL : fd_get((int)dirfd);
        if (!f && (int)dirfd != AT_FDCWD)
            return -EBADF;
        *out = f ? f->ino : fs_cwd_inode();
        return 0;
    }
    struct inode *base;
    if ((r = at_base(dirfd, path, &base)) != 0)
        return r;
    struct lookup lk;
    r = path_lookup(base, path, (atflags & AT_SYMLINK_NOFOLLOW) ? 0 : LOOKUP_FOLLOW, &lk);
    if (r)
        return r;
    if (!lk.ino)
        return -ENOENT;
    *out = lk.ino;
    return 0;
}

static struct file *getf(long fd)
{
    return fd_get((int)fd);
}

/* read, write and friends */

long sys_read(long fd, long buf, long count)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    if (count < 0)
        return -EFAULT;   /* as Linux: no user range is that long */
    return file_read_user(f, (uint64_t)buf, (size_t)count, -1);
}

long sys_write(long fd, long buf, long count)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    if (count < 0)
        return -EFAULT;
    return file_write_user(f, (uint64_t)buf, (size_t)count, -1);
}

static bool seekable(const struct file *f)
{
    if (f->kind == FILE_PIPE_R || f->kind == FILE_PIPE_W)
        return false;
    return !(f->kind == FILE_DEV && f->ino->special == SPECIAL_CONSOLE);
}

/* pread64 and pwrite64: the same checks, in Linux's order, then a transfer at `off`. */
static long positioned_io(long fd, long buf, long count, long off, bool write)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    if (!seekable(f))
        return -ESPIPE;
    if (off < 0)
        return -EINVAL;
    if (count < 0)
        return -EFAULT;
    return write ? file_write_user(f, (uint64_t)buf, (size_t)count, off)
                 : file_read_user(f, (uint64_t)buf, (size_t)count, off);
}

long sys_pread64(long fd, long buf, long count, long off) { return positioned_io(fd, buf, count, off, false); }
long sys_pwrite64(long fd, long buf, long count, long off) { return positioned_io(fd, buf, count, off, true); }

#define SMALL_IOV 8   /* iovec arrays up to this long are copied to the stack (stdio uses 2) */

/* Copies and checks an iovec array into `small` (iovcnt <= SMALL_IOV) or a new allocation;
 * the caller frees *out when it is not `small`. */
static long get_iov(long uiov, long iovcnt, struct linux_iovec *small, struct linux_iovec **out)
{
    if (iovcnt < 0 || iovcnt > MAX_IOV)
        return -EINVAL;
    size_t bytes = (size_t)iovcnt * sizeof(struct linux_iovec);
    struct linux_iovec *iov = iovcnt <= SMALL_IOV ? small : kmalloc(bytes);
    if (!iov)
        return -ENOMEM;
    long r = copy_from_user(iov, (uint64_t)uiov, bytes) ? -EFAULT : 0;
    uint64_t total = 0;
    for (long i = 0; i < iovcnt && !r; i++) {
        total += iov[i].iov_len;
        if ((int64_t)iov[i].iov_len < 0 || (int64_t)total < 0)
            r = -EINVAL;
    }
    if (r && iov != small)
        kfree(iov);
    *out = iov;
    return r;
}

static long vector_io(long fd, long uiov, long iovcnt, bool write)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    struct linux_iovec small[SMALL_IOV], *iov;
    long r = get_iov(uiov, iovcnt, small, &iov);
    if (r)
        return r;
    long total = 0;
    for (long i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        r = write ? file_write_user(f, iov[i].iov_base, len, -1)
                  : file_read_user(f, iov[i].iov_base, len, -1);
        if (r < 0) {
            total = total ? total : r;
            break;
        }
        total += r;
        if ((size_t)r < len)
            break;
    }
    if (iov != small)
        kfree(iov);
    return total;
}

long sys_readv(long fd, long iov, long iovcnt)
{
    return vector_io(fd, iov, iovcnt, false);
}

long sys_writev(long fd, long iov, long iovcnt)
{
    return vector_io(fd, iov, iovcnt, true);
}

/* open, close, lseek */

long sys_openat(long dirfd, long upath, long flags, long mode)
{
    char *path;
    struct inode *base;
    struct file *f;
    long r = get_path(upath, 0, &path);
    if (r || (r = at_base(dirfd, path, &base)) != 0)
        return r;
    if ((r = fs_open(base, path, (int)flags, (uint32_t)mode, &f)) != 0)
        return r;
    int fd = fd_install(f, 0, (flags & O_CLOEXEC) != 0);
    if (fd < 0)
        file_put(f);
    return fd;
}

long sys_open(long path, long flags, long mode)
{
    return sys_openat(AT_FDCWD, path, flags, mode);
}

long sys_creat(long path, long mode)
{
    return sys_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

long sys_close(long fd)
{
    return fd_close((int)fd);
}

long sys_lseek(long fd, long off, long whence)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    return file_lseek(f, off, (int)whence);
}

/* stat and friends */

static long put_stat(struct inode *ino, long ust)
{
    struct linux_stat st;
    inode_stat(ino, &st);
    return copy_to_user((uint64_t)ust, &st, sizeof(st)) ? -EFAULT : 0;
}

long sys_fstat(long fd, long st)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    return put_stat(f->ino, st);
}

long sys_newfstatat(long dirfd, long path, long st, long flags)
{
    if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
        return -EINVAL;
    struct inode *ino;
    long r = lookup_at(dirfd, path, (int)flags, &ino);
    return r ? r : put_stat(ino, st);
}

long sys_stat(long path, long st)
{
    return sys_newfstatat(AT_FDCWD, path, st, 0);
}

long sys_lstat(long path, long st)
{
    return sys_newfstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

long sys_statx(long dirfd, long path, long flags, long mask, long buf)
{
    long ok = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    if ((flags & ~ok) || (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
        return -EINVAL;
    if ((uint32_t)mask & 0x80000000u)   /* STATX__RESERVED */
        return -EINVAL;
    struct inode *ino;
    long r;
    if (path == 0 && (flags & AT_EMPTY_PATH)) {
        struct file *f = getf(dirfd);
        if (!f)
            return -EBADF;
        ino = f->ino;
    } else if ((r = lookup_at(dirfd, path, (int)flags, &ino)) != 0) {
        return r;
    }
    struct linux_statx sx;
    inode_statx(ino, &sx);
    return copy_to_user((uint64_t)buf, &sx, sizeof(sx)) ? -EFAULT : 0;
}

long sys_getdents64(long fd, long dirp, long count)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    return file_getdents(f, (uint64_t)dirp, (uint32_t)count);
}

/* access */

long sys_faccessat2(long dirfd, long path, long mode, long flags)
{
    if (mode & ~(long)(R_OK | W_OK | X_OK))
        return -EINVAL;
    if (flags & ~(long)(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct inode *ino;
    long r = lookup_at(dirfd, path, (int)flags, &ino);
    if (r)
        return r;
    /* One root user: reading and writing are allowed, executing needs an x bit. */
    if ((mode & X_OK) && !S_ISDIR(ino->mode) && !(ino->mode & S_IXUGO))
        return -EACCES;
    return 0;
}

long sys_faccessat(long dirfd, long path, long mode)
{
    return sys_faccessat2(dirfd, path, mode, 0);
}

long sys_access(long path, long mode)
{
    return sys_faccessat2(AT_FDCWD, path, mode, 0);
}

/* readlink, getcwd, chdir */

long sys_readlinkat(long dirfd, long path, long buf, long size)
{
    if (size <= 0)
        return -EINVAL;
    struct inode *ino;
    long r = lookup_at(dirfd, path, AT_SYMLINK_NOFOLLOW, &ino);
    if (r)
        return r;
    const char *target;
    size_t len;
    if (inode_link_target(ino, &target, &len))
        return -EINVAL;
    len = MIN(len, (size_t)size);
    return copy_to_user((uint64_t)buf, target, len) ? -EFAULT : (long)len;
}

long sys_readlink(long path, long buf, long size)
{
    return sys_readlinkat(AT_FDCWD, path, buf, size);
}

long sys_getcwd(long buf, long size)
{
    static char kbuf[PATH_MAX_LEN];
    long r = fs_getcwd(kbuf, MIN((size_t)size, sizeof(kbuf)));
    if (r < 0)
        return r;
    return copy_to_user((uint64_t)buf, kbuf, (size_t)r) ? -EFAULT : r;
}

long sys_chdir(long path)
{
    struct inode *ino;
    long r = lookup_at(AT_FDCWD, path, 0, &ino);
    return r ? r : fs_set_cwd(ino);
}

long sys_fchdir(long fd)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    return fs_set_cwd(f->ino);
}

/* fcntl, dup, pipe, ioctl */

static long dup_from(struct file *f, long min, bool cloexec)
{
    if (min < 0 || min >= MAX_FDS)
        return -EINVAL;
    file_get(f);
    int fd = fd_install(f, (int)min, cloexec);
    if (fd < 0)
        file_put(f);
    return fd;
}

static long fcntl_lock(int cmd, long arg)
{
    struct linux_flock fl;
    if (copy_from_user(&fl, (uint64_t)arg, sizeof(fl)))
        return -EFAULT;
    if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK)
        return -EINVAL;
    if (cmd != F_GETLK && cmd != F_OFD_GETLK)
        return 0;   /* one process: every lock is granted */
    fl.l_type = F_UNLCK;
    return copy_to_user((uint64_t)arg, &fl, sizeof(fl)) ? -EFAULT : 0;
}

static long fcntl_pipe_size(struct file *f, int cmd, long arg)
{
    if (f->kind != FILE_PIPE_R && f->kind != FILE_PIPE_W)
        return -EBADF;
    if (cmd == F_SETPIPE_SZ && (arg < 0 || (unsigned long)arg > PIPE_BUF_SIZE))
        return -EPERM;
    return PIPE_BUF_SIZE;
}

long sys_fcntl(long fd, long cmd, long arg)
{
    struct file *f = getf(fd);
    uint32_t settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    if (!f)
        return -EBADF;
    switch ((int)cmd) {
    case F_DUPFD:
        return dup_from(f, arg, false);
    case F_DUPFD_CLOEXEC:
        return dup_from(f, arg, true);
    case F_GETFD:
        return fd_cloexec((int)fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
        fd_set_cloexec((int)fd, (arg & FD_CLOEXEC) != 0);
        return 0;
    case F_GETFL:
        return f->flags;
    case F_SETFL:
        f->flags = (f->flags & ~settable) | ((uint32_t)arg & settable);
        return 0;
    case F_GETLK: case F_SETLK: case F_SETLKW:
    case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
        return fcntl_lock((int)cmd, arg);
    case F_GETOWN: case F_SETOWN:
        return 0;
    case F_GETPIPE_SZ: case F_SETPIPE_SZ:
        return fcntl_pipe_size(f, (int)cmd, arg);
    default:
        return -EINVAL;
    }
}

long sys_dup(long fd)
{
    struct file *f = getf(fd);
    return f ? dup_from(f, 0, false) : -EBADF;
}

long sys_dup2(long oldfd, long newfd)
{
    if (!getf(oldfd))
        return -EBADF;
    if ((int)oldfd == (int)newfd)
        return (int)newfd;
    return fd_dup_to((int)oldfd, (int)newfd, false);
}

long sys_dup3(long oldfd, long newfd, long flags)
{
    if (flags & ~(long)O_CLOEXEC)
        return -EINVAL;
    if ((int)oldfd == (int)newfd)
        return -EINVAL;
    return fd_dup_to((int)oldfd, (int)newfd, (flags & O_CLOEXEC) != 0);
}

long sys_pipe2(long fds, long flags)
{
    if (flags & ~(long)(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
        return -EINVAL;
    if (!user_range_ok((uint64_t)fds, 2 * sizeof(int32_t), true))
        return -EFAULT;
    struct file *rd, *wr;
    long r = pipe_create(&rd, &wr, (uint32_t)flags);
    if (r)
        return r;
    bool cloexec = (flags & O_CLOEXEC) != 0;
    int32_t pair[2] = { fd_install(rd, 0, cloexec), -1 };
    if (pair[0] >= 0)
        pair[1] = fd_install(wr, 0, cloexec);
    if (pair[1] < 0) {
        if (pair[0] >= 0)
            fd_close(pair[0]);
        else
            file_put(rd);
        file_put(wr);
        return -EMFILE;
    }
    return copy_to_user((uint64_t)fds, pair, sizeof(pair)) ? -EFAULT : 0;
}

long sys_pipe(long fds)
{
    return sys_pipe2(fds, 0);
}

long sys_ioctl(long fd, long req, long arg)
{
    struct file *f = getf(fd);
    int32_t v;
    if (!f)
        return -EBADF;
    switch ((uint32_t)req) {
    case FIONREAD:
        v = (int32_t)MIN(file_nread(f), 0x7fffffffL);
        return copy_to_user((uint64_t)arg, &v, sizeof(v)) ? -EFAULT : 0;
    case FIONBIO:
        if (copy_from_user(&v, (uint64_t)arg, sizeof(v)))
            return -EFAULT;
        f->flags = v ? (f->flags | O_NONBLOCK) : (f->flags & ~(uint32_t)O_NONBLOCK);
        return 0;
    case FIOCLEX:
    case FIONCLEX:
        fd_set_cloexec((int)fd, (uint32_t)req == FIOCLEX);
        return 0;
    default:
        return -ENOTTY;   /* TCGETS, TIOCGWINSZ, TIOCGPGRP...: nothing here is a terminal */
    }
}

/* names: mkdir, rmdir, unlink, rename, symlink */

long sys_mkdirat(long dirfd, long upath, long mode)
{
    char *path;
    struct inode *base;
    long r = get_path(upath, 0, &path);
    if (r || (r = at_base(dirfd, path, &base)) != 0)
        return r;
    return fs_mkdir(base, path, (uint32_t)mode);
}

long sys_mkdir(long path, long mode)
{
    return sys_mkdirat(AT_FDCWD, path, mode);
}

long sys_unlinkat(long dirfd, long upath, long flags)
{
    char *path;
    struct inode *base;
    if (flags & ~(long)AT_REMOVEDIR)
        return -EINVAL;
    long r = get_path(upath, 0, &path);
    if (r || (r = at_base(dirfd, path, &base)) != 0)
        return r;
    return (flags & AT_REMOVEDIR) ? fs_rmdir(base, path) : fs_unlink(base, path);
}

long sys_unlink(long path)
{
    return sys_unlinkat(AT_FDCWD, path, 0);
}

long sys_rmdir(long path)
{
    return sys_unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

long sys_renameat2(long olddirfd, long oldpath, long newdirfd, long newpath, long flags)
{
    char *op, *np;
    struct inode *ob, *nb;
    if (flags & ~(long)RENAME_NOREPLACE)
        return -EINVAL;
    long r = get_path(oldpath, 0, &op);
    if (r || (r = get_path(newpath, 1, &np)) != 0)
        return r;
    if ((r = at_base(olddirfd, op, &ob)) != 0 || (r = at_base(newdirfd, np, &nb)) != 0)
        return r;
    return fs_rename(ob, op, nb, np, (unsigned)flags);
}

long sys_renameat(long olddirfd, long oldpath, long newdirfd, long newpath)
{
    return sys_renameat2(olddirfd, oldpath, newdirfd, newpath, 0);
}

long sys_rename(long oldpath, long newpath)
{
    return sys_renameat2(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

long sys_symlink(long utarget, long linkpath)
{
    char *target, *path;
    long r = get_path(utarget, 1, &target);
    if (r || (r = get_path(linkpath, 0, &path)) != 0)
        return r;
    struct inode *base;
    if ((r = at_base(AT_FDCWD, path, &base)) != 0)
        return r;
    return fs_symlink(target, base, path);
}

/* sizes, sync, sendfile */

long sys_ftruncate(long fd, long len)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    if (len < 0 || f->kind != FILE_REG || !file_writable(f))
        return -EINVAL;
    return inode_truncate(f->ino, (uint64_t)len);
}

long sys_truncate(long path, long len)
{
    if (len < 0)
        return -EINVAL;
    char *p;
    long r = get_path(path, 0, &p);
    if (r)
        return r;
    struct lookup lk;
    if ((r = path_lookup(fs_cwd_inode(), p, LOOKUP_FOLLOW, &lk)))
        return r;
    struct inode *ino = lk.ino;
    if (!ino)
        return -ENOENT;
    if ((r = fs_may_change(lk.dir)))
        return r;
    if (S_ISDIR(ino->mode))
        return -EISDIR;
    if (!S_ISREG(ino->mode))
        return -EINVAL;
    return inode_truncate(ino, (uint64_t)len);
}

long sys_fsync(long fd)
{
    struct file *f = getf(fd);
    if (!f)
        return -EBADF;
    return f->kind == FILE_PIPE_R || f->kind == FILE_PIPE_W ? -EINVAL : 0;
}

long sys_fdatasync(long fd)
{
    return sys_fsync(fd);
}

static long sendfile_check(struct file *out, struct file *in)
{
    if (!file_readable(in) || !file_writable(out))
        return -EBADF;
    if (in->kind != FILE_REG || (out->flags & O_APPEND))
        return -EINVAL;
    return 0;
}

/* Copies through a bounce buffer: in and out may be the same file. */
static long sendfile_copy(struct file *out, struct file *in, uint64_t *pos, size_t count)
{
    size_t bsize = MIN(count, (size_t)MAX_SENDFILE_CHUNK);
    uint8_t *bounce = kmalloc(bsize ? bsize : 1);
    long done = 0;
    if (!bounce)
        return -ENOMEM;
    while ((size_t)done < count) {
        long n = file_read(in, bounce, MIN(count - (size_t)done, bsize), pos);
        if (n <= 0)
            break;
        long w = file_write(out, bounce, (size_t)n, &out->pos);
        if (w < 0) {
            *pos -= (uint64_t)n;
            done = done ? done : w;
            break;
        }
        done += w;
        if (w < n) {
            *pos -= (uint64_t)(n - w);
            break;
        }
    }
    kfree(bounce);
    return done;
}

long sys_sendfile(long out_fd, long in_fd, long offp, long count)
{
    struct file *in = getf(in_fd), *out = getf(out_fd);
    if (!in || !out)
        return -EBADF;
    long r = sendfile_check(out, in);
    if (r)
        return r;
    if (count < 0)
        count = LONG_MAX_COUNT;   /* a size_t: capped like any other count */
    if (!offp)
        return sendfile_copy(out, in, &in->pos, (size_t)count);
    int64_t off;
    if (copy_from_user(&off, (uint64_t)offp, sizeof(off)))
        return -EFAULT;
    if (off < 0)
        return -EINVAL;
    uint64_t pos = (uint64_t)off;
    r = sendfile_copy(out, in, &pos, (size_t)count);
    off = (int64_t)pos;
    if (copy_to_user((uint64_t)offp, &off, sizeof(off)))
        return -EFAULT;
    return r;
}

/* attributes: chmod, utimensat */

static void set_mode(struct inode *ino, long mode)
{
    ino->mode = (ino->mode & S_IFMT) | ((uint32_t)mode & S_IALLUGO);
    ino->ctime = ktime_now();
}

long sys_chmod(long path, long mode)
{
    struct inode *ino;
    long r = lookup_at(AT_FDCWD, path, 0, &ino);
    if (r == 0)
        set_mode(ino, mode);
    return r;
}

long sys_fchmod(long fd, long mode)
{
    struct file *f = getf(fd);
    if (!f || f->kind == FILE_PATH)
        return -EBADF;
    set_mode(f->ino, mode);
    return 0;
}

/* Applies one utimensat timespec to *t; -EINVAL for a bad nanosecond field. */
static long apply_time(struct ktime *t, const struct linux_timespec *ts, struct ktime now)
{
    if (ts->tv_nsec == UTIME_OMIT)
        return 0;
    if (ts->tv_nsec == UTIME_NOW) {
        *t = now;
        return 0;
    }
    if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -EINVAL;
    t->sec = ts->tv_sec;
    t->nsec = ts->tv_nsec;
    return 0;
}

static long utimens_target(long dirfd, long path, long flags, struct inode **ino)
{
    if (path)
        return lookup_at(dirfd, path, (int)flags, ino);
    if ((int)dirfd == AT_FDCWD)
        return -EFAULT;
    struct file *f = getf(dirfd);
    if (!f)
        return -EBADF;
    *ino = f->ino;
    return 0;
}

long sys_utimensat(long dirfd, long path, long times, long flags)
{
    struct linux_timespec ts[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
    struct ktime now = ktime_now();
    struct inode *ino;
    if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    if (times && copy_from_user(ts, (uint64_t)times, sizeof(ts)))
        return -EFAULT;
    long r = utimens_target(dirfd, path, flags, &ino);
    if (r)
        return r;
    struct ktime a = ino->atime, m = ino->mtime;
    if ((r = apply_time(&a, &ts[0], now)) != 0 || (r = apply_time(&m, &ts[1], now)) != 0)
        return r;
    ino->atime = a;
    ino->mtime = m;
    ino->ctime = now;
    return 0;
}

/* statfs: a RAM filesystem as large as the machine's memory. */

static long put_statfs(long ubuf)
{
    struct linux_statfs s;
    memset(&s, 0, sizeof(s));
    s.f_type = TMPFS_MAGIC;
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_blocks = mm_total_pages();
    s.f_bfree = s.f_bavail = mm_free_pages();
    s.f_files = s.f_blocks;
    s.f_ffree = s.f_bfree;
    s.f_namelen = NAME_MAX_LEN;
    s.f_flags = 0x20;   /* ST_VALID */
    return copy_to_user((uint64_t)ubuf, &s, sizeof(s)) ? -EFAULT : 0;
}

long sys_statfs(long path, long buf)
{
    struct inode *ino;
    long r = lookup_at(AT_FDCWD, path, 0, &ino);
    return r ? r : put_statfs(buf);
}

long sys_fstatfs(long fd, long buf)
{
    return getf(fd) ? put_statfs(buf) : -EBADF;
}

/* close_range (poll and its family are in poll.c) */

long sys_close_range(long first, long last, long flags)
{
    uint32_t lo = (uint32_t)first, hi = (uint32_t)last;
    if (flags & ~(long)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))
        return -EINVAL;
    if (lo > hi)
        return -EINVAL;
    for (uint32_t fd = lo; fd < MAX_FDS && fd <= hi; fd++) {
        if (!fd_get((int)fd))
            continue;
        if (flags & CLOSE_RANGE_CLOEXEC)
            fd_set_cloexec((int)fd, true);
        else
            fd_close((int)fd);
    }
    return 0;
}
