/*
 * Directory contents: named entries in a hash table for lookup, and an array ordered by
 * cookie for getdents64, so that listing continues correctly across calls even while
 * entries are added or removed (as `rm -r` does).
 */
#include "fsimpl.h"

static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h;
}

struct dentry *dir_find(struct inode *dir, const char *name, size_t len)
{
    struct dirtab *t = &dir->dir;
    if (!t->nbuckets)
        return NULL;
    uint32_t h = name_hash(name, len);
    for (struct dentry *d = t->buckets[h & (t->nbuckets - 1)]; d; d = d->hnext)
        if (d->hash == h && d->len == len && memcmp(d->name, name, len) == 0)
            return d;
    return NULL;
}

static void bucket_insert(struct dirtab *t, struct dentry *d)
{
    struct dentry **head = &t->buckets[d->hash & (t->nbuckets - 1)];
    d->hnext = *head;
    *head = d;
}

/* Keeps chains short: at most two entries a bucket on average. */
static long dir_rehash(struct dirtab *t)
{
    if (t->nbuckets && t->n < t->nbuckets * 2)
        return 0;
    size_t nb = t->nbuckets ? t->nbuckets * 4 : 8;
    struct dentry **b = kzalloc(nb * sizeof(*b));
    if (!b)
        return -ENOMEM;
    kfree(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    for (size_t i = 0; i < t->n; i++)
        bucket_insert(t, t->ents[i]);
    return 0;
}

static long dir_grow(struct dirtab *t)
{
    if (t->n < t->cap)
        return 0;
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct dentry **e = krealloc(t->ents, cap * sizeof(*e));
    if (!e)
        return -ENOMEM;
    t->ents = e;
    t->cap = cap;
    return 0;
}

/* Adds name -> child. The caller has checked the name is not there. Links child. */
long dir_add(struct inode *dir, const char *name, size_t len, struct inode *child, bool hidden)
{
    struct dirtab *t = &dir->dir;
    if (dir_grow(t) || dir_rehash(t))
        return -ENOMEM;
    struct dentry *d = kzalloc(sizeof(*d) + len + 1);
    if (!d)
        return -ENOMEM;
    memcpy(d->name, name, len);
    d->len = (uint16_t)len;
    d->hash = name_hash(name, len);
    d->ino = child;
    d->hidden = hidden;
    d->cookie = t->next_cookie++;
    t->ents[t->n++] = d;
    t->nhidden += hidden;
    bucket_insert(t, d);
    if (S_ISDIR(child->mode)) {
        child->parent = dir;
        child->dentry = d;
        dir->nlink += !hidden;
    }
    inode_touch_mc(dir);
    return 0;
}

/* Index in ents of the first entry with a cookie greater than `cookie`. */
static size_t dir_index_after(struct dirtab *t, uint64_t cookie)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ents[mid]->cookie <= cookie)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Removes the entry (not the inode: the caller drops the link). */
void dir_remove(struct inode *dir, struct dentry *d)
{
    struct dirtab *t = &dir->dir;
    struct dentry **pp = &t->buckets[d->hash & (t->nbuckets - 1)];
    while (*pp != d)
        pp = &(*pp)->hnext;
    *pp = d->hnext;
    size_t i = dir_index_after(t, d->cookie) - 1;
    memmove(&t->ents[i], &t->ents[i + 1], (t->n - i - 1) * sizeof(*t->ents));
    t->n--;
    t->nhidden -= d->hidden;
    if (S_ISDIR(d->ino->mode)) {
        dir->nlink -= !d->hidden;
        d->ino->dentry = NULL;
    }
    inode_touch_mc(dir);
    kfree(d);
}

/* The next visible entry after `cookie`, or NULL. */
struct dentry *dir_next(struct inode *dir, uint64_t cookie)
{
    struct dirtab *t = &dir->dir;
    for (size_t i = dir_index_after(t, cookie); i < t->n; i++)
        if (!t->ents[i]->hidden)
            return t->ents[i];
    return NULL;
}

bool dir_is_empty(struct inode *dir)
{
    return dir->dir.n == 0;
}

size_t dir_visible(const struct inode *dir)
{
    return dir->dir.n - dir->dir.nhidden;
}

void dir_free(struct inode *dir)
{
    struct dirtab *t = &dir->dir;
    for (size_t i = 0; i < t->n; i++)
        kfree(t->ents[i]);
    kfree(t->ents);
    kfree(t->buckets);
    memset(t, 0, sizeof(*t));
}
