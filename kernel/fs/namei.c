/*
 * Operations on names: create, open, mkdir, rmdir, unlink, rename and symlink, with the
 * errors Linux gives (EEXIST, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL for moving a
 * directory into itself, ELOOP for O_NOFOLLOW on a symlink).
 */
#include "fsimpl.h"

/* True when dir is `anc` or lies below it. */
static bool is_within(struct inode *dir, struct inode *anc)
{
    for (;;) {
        if (dir == anc)
            return true;
        if (dir == fs_root || !dir->parent)
            return false;
        dir = dir->parent;
    }
}

/* A read-only root (the "ro" flag): names change only under /tmp. */
static bool root_readonly;
void fs_set_readonly_root(bool on) { root_readonly = on; }

long fs_may_change(struct inode *dir)
{
    if (!root_readonly)
        return 0;
    struct dentry *tmp = dir_find(fs_root, "tmp", 3);
    return tmp && dir && is_within(dir, tmp->ino) ? 0 : -EROFS;
}

/* Creates lk->name in lk->dir (the lookup found it missing). */
long fs_mknode(struct lookup *lk, uint32_t mode, struct inode **out)
{
    if (!lk->dir || name_is_dot(lk->name))
        return -EEXIST;
    if (lk->dir->nlink == 0)
        return -ENOENT;   /* the directory was removed */
    long ro = fs_may_change(lk->dir);
    if (ro)
        return ro;
    struct inode *ino = inode_new(mode);
    if (!ino)
        return -ENOSPC;
    long r = dir_add(lk->dir, lk->name, strlen(lk->name), ino, false);
    if (r) {
        inode_drop_link(ino);
        return r;
    }
    if (out)
        *out = ino;
    return 0;
}

long fs_mkdir(struct inode *base, const char *path, uint32_t mode)
{
    struct lookup lk;
    long r = path_lookup(base, path, 0, &lk);
    if (r)
        return r;
    if (lk.ino)
        return -EEXIST;
    return fs_mknode(&lk, S_IFDIR | (mode & 07777 & ~fs_umask_get()), NULL);
}

long fs_symlink(const char *target, struct inode *base, const char *path)
{
    struct lookup lk;
    if (!*target)
        return -ENOENT;
    long r = path_lookup(base, path, 0, &lk);
    if (r)
        return r;
    if (lk.ino)
        return -EEXIST;
    if (lk.slash)
        return -ENOENT;
    struct inode *ino;
    r = fs_mknode(&lk, S_IFLNK | 0777, &ino);
    if (r)
        return r;
    r = inode_write(ino, target, strlen(target), 0);
    return r < 0 ? r : 0;
}

/* Finds the entry a lookup ended on, for removal. */
static struct dentry *entry_of(struct lookup *lk)
{
    return lk->dir ? dir_find(lk->dir, lk->name, strlen(lk->name)) : NULL;
}

long fs_rmdir(struct inode *base, const char *path)
{
    struct lookup lk;
    long r = path_lookup(base, path, 0, &lk);
    if (r)
        return r;
    if (!lk.ino)
        return -ENOENT;
    if (!S_ISDIR(lk.ino->mode))
        return -ENOTDIR;
    if (strcmp(lk.name, ".") == 0)
        return -EINVAL;
    if (!lk.dir || lk.ino == fs_root)
        return -EBUSY;
    if (strcmp(lk.name, "..") == 0)
        return -ENOTEMPTY;
    if (!dir_is_empty(lk.ino))
        return -ENOTEMPTY;
    if ((r = fs_may_change(lk.dir)))
        return r;
    dir_remove(lk.dir, entry_of(&lk));
    inode_drop_link(lk.ino);
    return 0;
}

long fs_unlink(struct inode *base, const char *path)
{
    struct lookup lk;
    long r = path_lookup(base, path, 0, &lk);
    if (r)
        return r;
    if (!lk.ino)
        return -ENOENT;
    if (S_ISDIR(lk.ino->mode))
        return -EISDIR;
    if ((r = fs_may_change(lk.dir)))
        return r;
    dir_remove(lk.dir, entry_of(&lk));
    inode_drop_link(lk.ino);
    return 0;
}

/* Checks whether the source `src` may replace the existing target `dst`. */
static long rename_target_ok(struct inode *src, struct inode *dst)
{
    if (S_ISDIR(src->mode) && !S_ISDIR(dst->mode))
        return -ENOTDIR;
    if (!S_ISDIR(src->mode) && S_ISDIR(dst->mode))
        return -EISDIR;
    if (S_ISDIR(dst->mode) && !dir_is_empty(dst))
        return -ENOTEMPTY;
    return 0;
}

long fs_rename(struct inode *ob, const char *op, struct inode *nb, const char *np, unsigned flags)
{
    struct lookup o, n;
    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return -EINVAL;
    long r = path_lookup(ob, op, 0, &o);
    if (r)
        return r;
    if (!o.ino)
        return -ENOENT;
    r = path_lookup(nb, np, LOOKUP_ANY_LAST, &n);
    if (r)
        return r;
    if (!o.dir || !n.dir || name_is_dot(o.name) || name_is_dot(n.name))
        return -EBUSY;
    if (n.ino == o.ino)
        return (flags & RENAME_NOREPLACE) ? -EEXIST : 0;
    if (S_ISDIR(o.ino->mode) && is_within(n.dir, o.ino))
        return -EINVAL;
    if ((o.slash || n.slash) && !S_ISDIR(o.ino->mode))
        return -ENOTDIR;
    if (n.slash && n.ino && !S_ISDIR(n.ino->mode))
        return -ENOTDIR;
    if (n.ino && (flags & RENAME_NOREPLACE))
        return -EEXIST;
    if (n.ino && (r = rename_target_ok(o.ino, n.ino)))
        return r;
    if (n.dir->nlink == 0)
        return -ENOENT;
    if ((r = fs_may_change(o.dir)) || (r = fs_may_change(n.dir)))
        return r;
    struct inode *moving = o.ino;
    moving->refs++;   /* keep it alive between the two directory updates */
    if (n.ino) {
        struct inode *old = n.ino;
        dir_remove(n.dir, entry_of(&n));
        inode_drop_link(old);
    }
    dir_remove(o.dir, entry_of(&o));
    r = dir_add(n.dir, n.name, strlen(n.name), moving, false);
    if (r)
        moving->nlink = 0;   /* out of memory: the file is lost, as on a full tmpfs */
    moving->ctime = ktime_now();
    inode_put(moving);
    return r;
}

/* Checks an existing file against the open flags. */
static long open_existing(struct inode *ino, int flags)
{
    int acc = flags & O_ACCMODE;
    if ((flags & O_CREAT) && (flags & O_EXCL))
        return -EEXIST;
    if (flags & O_PATH)
        return (flags & O_DIRECTORY) && !S_ISDIR(ino->mode) ? -ENOTDIR : 0;
    if (S_ISLNK(ino->mode))
        return -ELOOP;   /* only reached with O_NOFOLLOW */
    if ((flags & O_DIRECTORY) && !S_ISDIR(ino->mode))
        return -ENOTDIR;
    if (S_ISDIR(ino->mode) && (acc != O_RDONLY || (flags & O_CREAT)))
        return -EISDIR;
    if (!S_ISREG(ino->mode) && !S_ISDIR(ino->mode) && !S_ISCHR(ino->mode))
        return -ENXIO;
    if ((flags & O_TRUNC) && S_ISREG(ino->mode) && acc != O_RDONLY)
        return inode_truncate(ino, 0);
    return 0;
}

static long open_lookup(struct inode *base, const char *path, int flags, uint32_t mode,
                        struct inode **out)
{
    struct lookup lk;
    bool excl = (flags & O_CREAT) && (flags & O_EXCL);
    int lf = (flags & O_NOFOLLOW) || excl ? 0 : LOOKUP_FOLLOW;
    long r = path_lookup(base, path, lf, &lk);
    if (r)
        return r;
    if (lk.ino) {
        *out = lk.ino;
        bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
        if (writes && S_ISREG(lk.ino->mode) && !(flags & O_PATH) && (r = fs_may_change(lk.dir)))
            return r;
        return open_existing(lk.ino, flags);
    }
    if (!(flags & O_CREAT))
        return -ENOENT;
    if (lk.slash)
        return -EISDIR;
    return fs_mknode(&lk, S_IFREG | (mode & 07777 & ~fs_umask_get()), out);
}

long fs_open(struct inode *base, const char *path, int flags, uint32_t mode, struct file **out)
{
    struct inode *ino = NULL;
    if (flags & O_TMPFILE_BIT)
        return -EOPNOTSUPP;
    if ((flags & O_CREAT) && (flags & O_DIRECTORY))
        return -EINVAL;   /* as Linux 6.4 and later */
    long r = open_lookup(base, path, flags, mode, &ino);
    if (r)
        return r;
    uint32_t fl = ((uint32_t)flags & ~(uint32_t)(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC))
                  | O_LARGEFILE;
    enum file_kind kind = FILE_REG;
    if (flags & O_PATH)
        kind = FILE_PATH;
    else if (S_ISDIR(ino->mode))
        kind = FILE_DIR;
    else if (S_ISCHR(ino->mode))
        return dev_open(ino, fl, out);
    *out = file_new(kind, fl, ino);
    return *out ? 0 : -ENOMEM;
}
