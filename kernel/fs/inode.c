/*
 * Inodes of the RAM filesystem: allocation and lifetime (links + open references), file data
 * (borrowed from the initrd until first written, then owned and grown on demand), timestamps,
 * and the stat/statx views of an inode.
 */
#include "fsimpl.h"

#define MAX_FILE_SIZE (1ULL << 40)   /* EFBIG beyond this */

struct inode *fs_root;
static uint64_t next_ino = 1;
static uint32_t umask_bits = 022;
bool fs_times_frozen;   /* set while the initrd is unpacked: keep the archive's times */

struct ktime ktime_now(void)
{
    uint64_t ns = clock_realtime_ns();
    struct ktime t = { (int64_t)(ns / 1000000000u), (int64_t)(ns % 1000000000u) };
    return t;
}

uint32_t fs_umask_get(void)
{
    return umask_bits;
}

unsigned fs_umask(unsigned mask)
{
    unsigned old = umask_bits;
    umask_bits = mask & 0777;
    return old;
}

struct inode *inode_new(uint32_t mode)
{
    struct inode *ino = kzalloc(sizeof(*ino));
    if (!ino)
        return NULL;
    ino->ino = next_ino++;
    ino->mode = mode;
    ino->nlink = S_ISDIR(mode) ? 2 : 1;
    ino->atime = ino->mtime = ino->ctime = ktime_now();
    ino->dir.next_cookie = 3;   /* 1 and 2 are "." and ".." */
    return ino;
}

static void inode_free(struct inode *ino)
{
    if (ino->cap)
        kfree(ino->data);
    if (S_ISDIR(ino->mode))
        dir_free(ino);
    kfree(ino);
}

void inode_get(struct inode *ino)
{
    ino->refs++;
}

void inode_put(struct inode *ino)
{
    if (--ino->refs == 0 && ino->nlink == 0)
        inode_free(ino);
}

/* One name of ino went away (unlink, rmdir, rename over it). */
void inode_drop_link(struct inode *ino)
{
    if (S_ISDIR(ino->mode))
        ino->nlink = 0;
    else if (ino->nlink)
        ino->nlink--;
    ino->ctime = ktime_now();
    if (ino->nlink == 0 && ino->refs == 0)
        inode_free(ino);
}

void inode_touch_mc(struct inode *ino)
{
    if (fs_times_frozen)
        return;
    ino->mtime = ino->ctime = ktime_now();
}

/* Makes the data owned and able to hold `need` bytes. Bytes past size are not defined. */
static long inode_reserve(struct inode *ino, uint64_t need)
{
    if (need > MAX_FILE_SIZE)
        return -EFBIG;
    if (ino->cap && need <= ino->cap)
        return 0;
    need = MAX(need, ino->size);   /* a borrowed file is copied whole */
    size_t cap = ino->cap ? ino->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *p;
    if (ino->cap) {
        p = krealloc(ino->data, cap);
    } else {
        p = kmalloc(cap);
        if (p && ino->size)
            memcpy(p, ino->data, ino->size);
    }
    if (!p)
        return -ENOSPC;
    ino->data = p;
    ino->cap = cap;
    return 0;
}

/* Sets the size, zero-filling any bytes that appear. */
static long inode_resize(struct inode *ino, uint64_t len)
{
    if (len > ino->size) {
        long r = inode_reserve(ino, len);
        if (r)
            return r;
        memset(ino->data + ino->size, 0, len - ino->size);
    }
    ino->size = len;
    return 0;
}

long inode_write(struct inode *ino, const void *buf, size_t n, uint64_t off)
{
    if (n == 0)
        return 0;
    if (off > MAX_FILE_SIZE || n > MAX_FILE_SIZE - off)
        return -EFBIG;
    long r = inode_reserve(ino, off + n);
    if (r)
        return r;
    if (off > ino->size)
        memset(ino->data + ino->size, 0, off - ino->size);
    memcpy(ino->data + off, buf, n);
    if (off + n > ino->size)
        ino->size = off + n;
    inode_touch_mc(ino);
    return (long)n;
}

size_t inode_read(struct inode *ino, void *buf, size_t n, uint64_t off)
{
    if (off >= ino->size || n == 0)
        return 0;
    size_t len = MIN(n, ino->size - off);
    memcpy(buf, ino->data + off, len);
    return len;
}

long inode_truncate(struct inode *ino, uint64_t len)
{
    if (len > MAX_FILE_SIZE)
        return -EFBIG;
    long r = inode_resize(ino, len);
    if (r == 0)
        inode_touch_mc(ino);
    return r;
}

/* The target of a symlink (not NUL-terminated). */
long inode_link_target(struct inode *ino, const char **target, size_t *len)
{
    if (!S_ISLNK(ino->mode))
        return -EINVAL;
    if (ino->special == SPECIAL_EXE) {
        *target = fs_exe_path();
        *len = strlen(*target);
    } else {
        *target = (const char *)ino->data;
        *len = ino->size;
    }
    return 0;
}

static uint64_t inode_size(const struct inode *ino)
{
    if (ino->special == SPECIAL_EXE)
        return strlen(fs_exe_path());
    if (S_ISDIR(ino->mode))
        return 40 + 20 * dir_visible(ino);   /* what tmpfs reports: 20 bytes a name */
    return ino->size;
}

static uint64_t inode_blocks(const struct inode *ino)
{
    if (S_ISDIR(ino->mode) || !ino->cap)
        return ALIGN_UP(inode_size(ino), 4096) / 512;
    return ALIGN_UP(ino->size, 4096) / 512;
}

void inode_stat(const struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_dev = FS_DEV_ID;
    st->st_ino = ino->ino;
    st->st_nlink = ino->nlink;
    st->st_mode = ino->mode;
    st->st_rdev = ino->rdev;
    st->st_size = (int64_t)inode_size(ino);
    st->st_blksize = 4096;
    st->st_blocks = (int64_t)inode_blocks(ino);
    st->st_atim.tv_sec = ino->atime.sec;
    st->st_atim.tv_nsec = ino->atime.nsec;
    st->st_mtim.tv_sec = ino->mtime.sec;
    st->st_mtim.tv_nsec = ino->mtime.nsec;
    st->st_ctim.tv_sec = ino->ctime.sec;
    st->st_ctim.tv_nsec = ino->ctime.nsec;
}

static struct linux_statx_timestamp statx_time(struct ktime t)
{
    struct linux_statx_timestamp s = { t.sec, (uint32_t)t.nsec, 0 };
    return s;
}

void inode_statx(const struct inode *ino, struct linux_statx *sx)
{
    memset(sx, 0, sizeof(*sx));
    sx->stx_mask = STATX_BASIC_STATS;
    sx->stx_blksize = 4096;
    sx->stx_nlink = ino->nlink;
    sx->stx_mode = (uint16_t)ino->mode;
    sx->stx_ino = ino->ino;
    sx->stx_size = inode_size(ino);
    sx->stx_blocks = inode_blocks(ino);
    sx->stx_atime = statx_time(ino->atime);
    sx->stx_ctime = statx_time(ino->ctime);
    sx->stx_mtime = statx_time(ino->mtime);
    sx->stx_rdev_major = (uint32_t)((ino->rdev >> 8) & 0xfff);
    sx->stx_rdev_minor = (uint32_t)((ino->rdev & 0xff) | ((ino->rdev >> 12) & ~0xffULL));
    sx->stx_dev_major = (uint32_t)((FS_DEV_ID >> 8) & 0xfff);
    sx->stx_dev_minor = (uint32_t)(FS_DEV_ID & 0xff);
}
