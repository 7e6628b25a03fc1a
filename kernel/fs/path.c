/*
 * Path lookup: absolute and relative paths, "." and "..", symlinks (ELOOP after
 * MAX_SYMLINK_DEPTH), trailing slashes; plus the working directory, getcwd, and the
 * program's own path that /proc/self/exe points at. Iterative: a symlink's target is spliced
 * in front of the rest of the path, so the kernel stack does not grow with link depth.
 */
#include "fsimpl.h"

static struct inode *cwd;
static char exe_path[PATH_MAX_LEN] = "/";

bool name_is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

static struct inode *step(struct inode *dir, const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return dir;
    if (len == 2 && name[0] == '.' && name[1] == '.')
        return dir->parent ? dir->parent : dir;
    struct dentry *d = dir_find(dir, name, len);
    return d ? d->ino : NULL;
}

/* Replaces *buf with target + "/" + rest (rest may be empty). */
static long splice_link(struct inode *link, const char *rest, bool slash, char **buf)
{
    const char *target;
    size_t tlen;
    inode_link_target(link, &target, &tlen);
    if (tlen == 0)
        return -ENOENT;
    size_t rlen = strlen(rest);
    if (tlen + rlen + 2 > PATH_MAX_LEN)
        return -ENAMETOOLONG;
    char *nb = kmalloc(tlen + rlen + 2);
    if (!nb)
        return -ENOMEM;
    memcpy(nb, target, tlen);
    size_t n = tlen;
    if (rlen || slash)
        nb[n++] = '/';
    memcpy(nb + n, rest, rlen + 1);
    kfree(*buf);
    *buf = nb;
    return 0;
}

static char *dup_path(const char *path)
{
    size_t len = strlen(path);
    char *b = kmalloc(len + 1);
    if (b)
        memcpy(b, path, len + 1);
    return b;
}

static long walk(struct inode *cur, char **buf, int flags, struct lookup *out)
{
    char *p = *buf;
    int links = 0;
    if (*p == '/')
        cur = fs_root;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) {
            out->ino = cur;     /* "/" or a symlink to a directory ending in "/" */
            return 0;
        }
        char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        char *rest = p;
        while (*rest == '/')
            rest++;
        bool last = *rest == 0;
        if (len > NAME_MAX_LEN)
            return -ENAMETOOLONG;
        if (!S_ISDIR(cur->mode))
            return -ENOTDIR;
        struct inode *next = step(cur, s, len);
        if (last) {
            out->dir = cur;
            memcpy(out->name, s, len);
            out->name[len] = 0;
            out->slash = *p == '/';
        }
        if (!next) {
            if (!last)
                return -ENOENT;
            out->ino = NULL;
            return 0;
        }
        if (S_ISLNK(next->mode) && (!last || (flags & LOOKUP_FOLLOW) || out->slash)) {
            if (++links > MAX_SYMLINK_DEPTH)
                return -ELOOP;
            long r = splice_link(next, rest, last && out->slash, buf);
            if (r)
                return r;
            p = *buf;
            if (*p == '/')
                cur = fs_root;
            out->dir = NULL;
            out->name[0] = 0;
            continue;
        }
        if (last) {
            out->ino = next;
            return 0;
        }
        cur = next;
        p = rest;
    }
}

long path_lookup(struct inode *base, const char *path, int flags, struct lookup *out)
{
    memset(out, 0, sizeof(*out));
    fs_tree_ready();
    if (!*path)
        return -ENOENT;
    if (strlen(path) >= PATH_MAX_LEN)
        return -ENAMETOOLONG;
    char *buf = dup_path(path);
    if (!buf)
        return -ENOMEM;
    long r = walk(base ? base : cwd, &buf, flags, out);
    kfree(buf);
    if (r == 0 && out->slash && out->ino && !S_ISDIR(out->ino->mode) && !(flags & LOOKUP_ANY_LAST))
        r = -ENOTDIR;
    return r;
}

struct inode *fs_cwd_inode(void)
{
    fs_tree_ready();
    return cwd;
}

long fs_set_cwd(struct inode *dir)
{
    if (!S_ISDIR(dir->mode))
        return -ENOTDIR;
    inode_get(dir);
    if (cwd)
        inode_put(cwd);
    cwd = dir;
    return 0;
}

long fs_chdir_kernel(const char *path)
{
    struct lookup lk;
    long r = path_lookup(fs_root, path, LOOKUP_FOLLOW, &lk);
    if (r)
        return r;
    if (!lk.ino)
        return -ENOENT;
    return fs_set_cwd(lk.ino);
}

/* Writes the absolute path of the working directory with its NUL; returns its length with
 * the NUL, -ERANGE when size is too small, -ENOENT when the directory was removed. */
long fs_getcwd(char *buf, size_t size)
{
    static char tmp[PATH_MAX_LEN];
    size_t pos = sizeof(tmp) - 1;
    tmp[pos] = 0;
    fs_tree_ready();
    if (cwd->nlink == 0)
        return -ENOENT;
    for (struct inode *d = cwd; d != fs_root; d = d->parent) {
        if (!d->dentry || pos < (size_t)d->dentry->len + 1)
            return -ENOENT;
        pos -= d->dentry->len;
        memcpy(tmp + pos, d->dentry->name, d->dentry->len);
        tmp[--pos] = '/';
    }
    if (pos == sizeof(tmp) - 1)
        tmp[--pos] = '/';
    size_t len = sizeof(tmp) - pos;
    if (size < len)
        return -ERANGE;
    memcpy(buf, tmp + pos, len);
    return (long)len;
}

void fs_set_exe_path(const char *path)
{
    size_t n = 0;
    if (path[0] != '/')
        exe_path[n++] = '/';
    size_t len = strnlen(path, sizeof(exe_path) - 2);
    memcpy(exe_path + n, path, len);
    exe_path[n + len] = 0;
}

const char *fs_exe_path(void)
{
    return exe_path;
}
