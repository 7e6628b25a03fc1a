/*
 * Open file descriptions (shared by dup'ed descriptors: offset, status flags) and the
 * descriptor table (lowest free number, FD_CLOEXEC per descriptor). Reads and writes are
 * dispatched here by kind: regular file, directory, device, pipe end, O_PATH handle.
 */
#include "fsimpl.h"

#define MAX_RW_COUNT 0x7ffff000UL   /* Linux caps one read or write at this */

/* fds 0, 1 and 2 as a program starts with them, made statically so that booting runs no code
 * for them; each holds a reference of its own and is never freed. */
static struct file stdio_files[3] = {
    {.kind = FILE_DEV, .refs = 2, .flags = O_RDONLY | O_LARGEFILE, .ino = &stdio_inodes[0], .serial = 1},
    {.kind = FILE_DEV, .refs = 2, .flags = O_WRONLY | O_LARGEFILE, .ino = &stdio_inodes[1], .serial = 2},
    {.kind = FILE_DEV, .refs = 2, .flags = O_WRONLY | O_LARGEFILE, .ino = &stdio_inodes[2], .serial = 3},
};
static uint64_t next_serial = 3;

static struct {
    struct file *f;
    bool cloexec;
} fdtab[MAX_FDS] = {{&stdio_files[0], false}, {&stdio_files[1], false}, {&stdio_files[2], false}};

struct file *file_new(enum file_kind kind, uint32_t flags, struct inode *ino)
{
    struct file *f = kzalloc(sizeof(*f));
    if (!f)
        return NULL;
    f->serial = ++next_serial;
    f->kind = kind;
    f->refs = 1;
    f->flags = flags;
    f->ino = ino;
    if (ino)
        inode_get(ino);
    return f;
}

uint64_t file_serial(const struct file *f)
{
    return f->serial;
}

void file_get(struct file *f)
{
    f->refs++;
}

void file_put(struct file *f)
{
    if (--f->refs)
        return;
    if (f->kind == FILE_PIPE_R || f->kind == FILE_PIPE_W)
        pipe_close(f);
    if (f->kind == FILE_OBJECT && f->ops->release)
        f->ops->release(f);
    if (f->ino)
        inode_put(f->ino);
    kfree(f);
}

bool file_readable(const struct file *f)
{
    return f->kind != FILE_PATH && (f->flags & O_ACCMODE) != O_WRONLY;
}

bool file_writable(const struct file *f)
{
    int acc = f->flags & O_ACCMODE;
    return f->kind != FILE_PATH && (acc == O_WRONLY || acc == O_RDWR);
}

/* How many bytes a read of up to n at pos transfers now: only those need a user check. */
size_t file_read_len(struct file *f, size_t n, uint64_t pos)
{
    switch (f->kind) {
    case FILE_REG:
        return pos >= f->ino->size ? 0 : MIN(n, f->ino->size - pos);
    case FILE_PIPE_R:
        return MIN(n, pipe_avail(f));
    case FILE_DEV: {
        enum special s = f->ino->special;
        return s == SPECIAL_ZERO || s == SPECIAL_RANDOM || s == SPECIAL_URANDOM ? n : 0;
    }
    default:
        return 0;
    }
}

static long read_check(const struct file *f)
{
    if (f->kind == FILE_DIR)
        return file_readable(f) ? -EISDIR : -EBADF;
    return file_readable(f) ? 0 : -EBADF;
}

/* Reads into kernel-visible memory at *pos (regular files), advancing *pos. */
long file_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    long r = read_check(f);
    if (r)
        return r;
    n = MIN(n, MAX_RW_COUNT);
    switch (f->kind) {
    case FILE_REG:
        r = (long)inode_read(f->ino, buf, n, *pos);
        *pos += (uint64_t)r;
        return r;
    case FILE_PIPE_R:
        return pipe_read(f, buf, n);
    case FILE_DEV:
        return dev_read(f, buf, n);
    case FILE_OBJECT:
        return f->ops->read ? f->ops->read(f, buf, n) : -EINVAL;
    default:
        return -EINVAL;
    }
}

/* Writes at *pos (regular files; O_APPEND moves it to the end first), advancing *pos. */
long file_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    if (!file_writable(f))
        return -EBADF;
    if (n == 0)
        return 0;   /* as Linux, even on a pipe without readers */
    n = MIN(n, MAX_RW_COUNT);
    long r;
    switch (f->kind) {
    case FILE_REG:
        if ((f->flags & O_APPEND) && pos == &f->pos)
            *pos = f->ino->size;
        r = inode_write(f->ino, buf, n, *pos);
        if (r > 0)
            *pos += (uint64_t)r;
        return r;
    case FILE_PIPE_W:
        return pipe_write(f, buf, n);
    case FILE_DEV:
        return dev_write(f, buf, n);
    case FILE_OBJECT:
        return f->ops->write ? f->ops->write(f, buf, n) : -EINVAL;
    default:
        return -EINVAL;
    }
}

/* read/pread from user memory: off < 0 means "at the file's offset". */
long file_read_user(struct file *f, uint64_t ubuf, size_t n, int64_t off)
{
    long r = read_check(f);
    if (r)
        return r;
    uint64_t local = (uint64_t)off;
    uint64_t *pos = off < 0 ? &f->pos : &local;
    if (f->kind == FILE_OBJECT) {
        /* How much a socket delivers is only known once it arrives: check the whole buffer. */
        n = MIN(n, MAX_RW_COUNT);
        if (n && !user_range_ok(ubuf, n, true))
            return -EFAULT;
        return file_read(f, (void *)ubuf, n, pos);
    }
    size_t len = file_read_len(f, MIN(n, MAX_RW_COUNT), *pos);
    if (len && !user_range_ok(ubuf, len, true))
        return -EFAULT;
    if (len == 0 && n && f->kind == FILE_PIPE_R)
        return pipe_read(f, NULL, n);   /* empty: end-of-file or -EAGAIN, copies nothing */
    return file_read(f, (void *)ubuf, len, pos);
}

long file_write_user(struct file *f, uint64_t ubuf, size_t n, int64_t off)
{
    if (!file_writable(f))
        return -EBADF;
    uint64_t local = (uint64_t)off;
    uint64_t *pos = off < 0 ? &f->pos : &local;
    n = MIN(n, MAX_RW_COUNT);
    if (n && !user_range_ok(ubuf, n, false))
        return -EFAULT;
    return file_write(f, (const void *)ubuf, n, pos);
}

static long seek_reg(struct file *f, int64_t off, int whence)
{
    int64_t size = (int64_t)f->ino->size, base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)f->pos; break;
    case SEEK_END: base = size; break;
    case SEEK_DATA:
    case SEEK_HOLE:
        if (off < 0 || off >= size)
            return -ENXIO;
        return (long)(f->pos = (uint64_t)(whence == SEEK_DATA ? off : size));
    default: return -EINVAL;
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -EINVAL;
    f->pos = (uint64_t)(base + off);
    return (long)f->pos;
}

long file_lseek(struct file *f, int64_t off, int whence)
{
    switch (f->kind) {
    case FILE_REG:
        return seek_reg(f, off, whence);
    case FILE_DIR:   /* positions are entry cookies; SEEK_END means nothing (as tmpfs) */
        if (whence == SEEK_CUR)
            off += (int64_t)f->pos;
        if ((whence != SEEK_SET && whence != SEEK_CUR) || off < 0)
            return -EINVAL;
        return (long)(f->pos = (uint64_t)off);
    case FILE_DEV:
        return f->ino->special == SPECIAL_CONSOLE ? -ESPIPE : 0;
    case FILE_PATH:
        return -EBADF;
    default:
        return -ESPIPE;
    }
}

/* The entry after cookie `pos`: ".", "..", then the directory's own. */
static bool next_dirent(struct inode *dir, uint64_t pos, const char **name, size_t *len,
                        struct inode **ino, uint64_t *cookie)
{
    if (pos < 2) {
        *name = pos == 0 ? "." : "..";
        *len = pos + 1;
        *ino = pos == 0 ? dir : (dir->parent ? dir->parent : dir);
        *cookie = pos + 1;
        return true;
    }
    struct dentry *d = dir_next(dir, pos);
    if (!d)
        return false;
    *name = d->name;
    *len = d->len;
    *ino = d->ino;
    *cookie = d->cookie;
    return true;
}

/* Fills the program's buffer at ubuf with linux_dirent64 records, each checked as it is
 * written (like Linux, only the bytes written must be mapped). */
long file_getdents(struct file *f, uint64_t ubuf, size_t n)
{
    if (f->kind == FILE_PATH)
        return -EBADF;
    if (f->kind != FILE_DIR)
        return -ENOTDIR;
    if (f->ino->nlink == 0)
        return 0;   /* removed: empty, like Linux */
    uint8_t rec[sizeof(struct linux_dirent64) + NAME_MAX_LEN + 8];
    size_t used = 0;
    const char *name;
    size_t len;
    struct inode *ino;
    uint64_t cookie;
    while (next_dirent(f->ino, f->pos, &name, &len, &ino, &cookie)) {
        size_t reclen = ALIGN_UP(offsetof(struct linux_dirent64, d_name) + len + 1, 8);
        if (used + reclen > n)
            return used ? (long)used : -EINVAL;
        struct linux_dirent64 *d = (struct linux_dirent64 *)rec;
        memset(rec, 0, reclen);
        d->d_ino = ino->ino;
        d->d_off = (int64_t)cookie;
        d->d_reclen = (uint16_t)reclen;
        d->d_type = (uint8_t)IFTODT(ino->mode);
        memcpy(d->d_name, name, len);
        if (copy_to_user(ubuf + used, rec, reclen))
            return used ? (long)used : -EFAULT;
        used += reclen;
        f->pos = cookie;
    }
    return (long)used;
}

int file_poll(struct file *f, int events)
{
    if (f->kind == FILE_PIPE_R || f->kind == FILE_PIPE_W)
        return pipe_poll(f, events);
    if (f->kind == FILE_OBJECT) {
        /* Errors and hang-ups are reported whether asked for or not, as Linux does. */
        unsigned r = f->ops->poll ? f->ops->poll(f) : 0;
        return (int)(r & ((unsigned)events | POLLERR | POLLHUP));
    }
    if (f->kind == FILE_PATH)
        return POLLNVAL;
    return (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM) & events;
}

unsigned file_ready(struct file *f, unsigned events) { return (unsigned)file_poll(f, (int)events); }

uint32_t file_status_flags(struct file *f) { return f->flags; }

void *file_object(struct file *f, const struct file_ops *ops) {
    return f && f->kind == FILE_OBJECT && f->ops == ops ? f->priv : NULL;
}

long fd_new_object(const struct file_ops *ops, void *priv, uint32_t mode, uint32_t status_flags, bool cloexec)
{
    struct inode *ino = inode_new(mode);   /* anonymous: in no directory, for fstat */
    if (!ino)
        return -ENOMEM;
    ino->nlink = 0;   /* freed with the last file that holds it */
    struct file *f = file_new(FILE_OBJECT, status_flags | O_RDWR, ino);
    if (!f) {
        inode_get(ino);
        inode_put(ino);
        return -ENOMEM;
    }
    f->ops = ops;
    f->priv = priv;
    int fd = fd_install(f, 0, cloexec);
    if (fd < 0) {
        f->ops = NULL;   /* the caller still owns priv: do not release it */
        f->kind = FILE_REG;
        file_put(f);
    }
    return fd;
}

/* FIONREAD: bytes a read would return now. */
long file_nread(struct file *f)
{
    if (f->kind == FILE_REG)
        return f->pos >= f->ino->size ? 0 : (long)(f->ino->size - f->pos);
    if (f->kind == FILE_PIPE_R)
        return (long)pipe_avail(f);
    return 0;
}

/* The descriptor table. */

int fd_install(struct file *f, int min, bool cloexec)
{
    for (int fd = min < 0 ? 0 : min; fd < MAX_FDS; fd++) {
        if (!fdtab[fd].f) {
            fdtab[fd].f = f;
            fdtab[fd].cloexec = cloexec;
            return fd;
        }
    }
    return -EMFILE;
}

struct file *fd_get(int fd)
{
    return fd >= 0 && fd < MAX_FDS ? fdtab[fd].f : NULL;
}

long fd_close(int fd)
{
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    fdtab[fd].f = NULL;
    fdtab[fd].cloexec = false;
    file_put(f);
    return 0;
}

long fd_dup_to(int oldfd, int newfd, bool cloexec)
{
    struct file *f = fd_get(oldfd);
    if (!f || newfd < 0 || newfd >= MAX_FDS)
        return -EBADF;
    if (oldfd != newfd) {
        file_get(f);
        if (fdtab[newfd].f)
            fd_close(newfd);
        fdtab[newfd].f = f;
    }
    fdtab[newfd].cloexec = cloexec;
    return newfd;
}

bool fd_cloexec(int fd)
{
    return fdtab[fd].cloexec;
}

void fd_set_cloexec(int fd, bool on)
{
    fdtab[fd].cloexec = on;
}

/* Kernel entry points (fs.h). */

void fs_setup_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fdtab[fd].f)
            fd_close(fd);
        file_get(&stdio_files[fd]);
        fdtab[fd].f = &stdio_files[fd];
    }
}

long fs_map_program(const void **data, size_t *size)
{
    return fs_program_in_place(data, size) ? 0 : fs_map_file(fs_exe_path(), data, size);
}

long fs_map_file(const char *path, const void **data, size_t *size)
{
    fs_tree_ready();
    struct lookup lk;
    long r = path_lookup(fs_root, path, LOOKUP_FOLLOW, &lk);
    if (r)
        return r;
    if (!lk.ino)
        return -ENOENT;
    if (!S_ISREG(lk.ino->mode))
        return -EACCES;
    *data = lk.ino->data ? (const void *)lk.ino->data : (const void *)"";
    *size = lk.ino->size;
    return 0;
}

long file_read_at(struct file *f, void *kbuf, size_t n, uint64_t off)
{
    if (!f)
        return -EBADF;
    if (f->kind != FILE_REG)
        return -ENODEV;
    if (!file_readable(f))
        return -EACCES;
    return (long)inode_read(f->ino, kbuf, n, off);
}
