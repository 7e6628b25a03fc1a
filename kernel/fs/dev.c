/*
 * Character devices: /dev/null, /dev/zero, /dev/random, /dev/urandom, /dev/stdin|stdout|stderr
 * (opening one dups that descriptor), the console behind fds 1 and 2; and /proc/self/exe and
 * /proc/mounts (one line: the RAM filesystem at /, which df and mount read).
 * The kernel adds /dev and /proc as hidden entries: found by lookup even when the initrd
 * lacks them, but not listed by getdents64, so `ls /` shows what the image holds. Inside
 * them the nodes are listed; added to a /dev the initrd brings, they are hidden too.
 */
#include "fsimpl.h"


/* Finds or makes the directory `name` in dir (hidden when `hide`); *ours says it was made. */
static struct inode *kernel_dir(struct inode *dir, const char *name, bool hide, bool *ours)
{
    struct dentry *d = dir ? dir_find(dir, name, strlen(name)) : NULL;
    *ours = !d && dir;
    if (d || !dir)
        return d && S_ISDIR(d->ino->mode) ? d->ino : NULL;
    struct inode *ino = inode_new(S_IFDIR | 0755);
    if (ino && dir_add(dir, name, strlen(name), ino, hide)) {
        inode_drop_link(ino);
        return NULL;
    }
    return ino;
}

static bool dir_ours;   /* the directory add_node fills was made by the kernel */

static void add_node(struct inode *dir, const char *name, uint32_t mode, enum special sp,
                     uint64_t rdev, int arg)
{
    if (!dir || dir_find(dir, name, strlen(name)))
        return;
    struct inode *ino = sp == SPECIAL_NULL ? &stdio_inodes[0] : inode_new(mode);
    if (!ino)
        return;
    ino->special = sp;
    ino->rdev = rdev;
    ino->alias_fd = arg;
    if (dir_add(dir, name, strlen(name), ino, !dir_ours))
        inode_drop_link(ino);
}

static void add_mounts(struct inode *proc)
{
    static const char mounts[] = "tmpfs / tmpfs rw 0 0\n";
    add_node(proc, "mounts", S_IFREG | 0444, SPECIAL_NONE, 0, 0);
    struct dentry *d = proc ? dir_find(proc, "mounts", 6) : NULL;
    if (d && !d->ino->size) {
        d->ino->data = (uint8_t *)mounts;   /* borrowed, like initrd data */
        d->ino->size = sizeof(mounts) - 1;
    }
}

void dev_make_nodes(void)
{
    struct inode *dev = kernel_dir(fs_root, "dev", true, &dir_ours);
    add_node(dev, "null", S_IFCHR | 0666, SPECIAL_NULL, LINUX_MKDEV(1, 3), 0);
    add_node(dev, "zero", S_IFCHR | 0666, SPECIAL_ZERO, LINUX_MKDEV(1, 5), 0);
    add_node(dev, "random", S_IFCHR | 0666, SPECIAL_RANDOM, LINUX_MKDEV(1, 8), 0);
    add_node(dev, "urandom", S_IFCHR | 0666, SPECIAL_URANDOM, LINUX_MKDEV(1, 9), 0);
    add_node(dev, "stdin", S_IFCHR | 0600, SPECIAL_FD_ALIAS, LINUX_MKDEV(5, 1), 0);
    add_node(dev, "stdout", S_IFCHR | 0600, SPECIAL_FD_ALIAS, LINUX_MKDEV(5, 1), 1);
    add_node(dev, "stderr", S_IFCHR | 0600, SPECIAL_FD_ALIAS, LINUX_MKDEV(5, 1), 2);
    bool proc_ours;
    struct inode *proc = kernel_dir(fs_root, "proc", true, &proc_ours);
    struct inode *self = kernel_dir(proc, "self", !proc_ours, &dir_ours);
    add_node(self, "exe", S_IFLNK | 0777, SPECIAL_EXE, 0, 0);
    dir_ours = proc_ours;
    add_mounts(proc);
}

/* fd 0's /dev/null and the consoles of fds 1 and 2: made statically, so that booting runs no
 * code for them, and never freed (each holds a reference of its own). /dev/null in the tree is
 * the same inode. Their numbers lie far above the tree's. */
struct inode stdio_inodes[3] = {
    {.ino = 1ULL << 32, .mode = S_IFCHR | 0666, .nlink = 1, .refs = 1, .special = SPECIAL_NULL,
     .rdev = LINUX_MKDEV(1, 3)},
    {.ino = (1ULL << 32) + 1, .mode = S_IFCHR | 0620, .nlink = 1, .refs = 1, .special = SPECIAL_CONSOLE,
     .rdev = LINUX_MKDEV(5, 1), .alias_fd = 1},
    {.ino = (1ULL << 32) + 2, .mode = S_IFCHR | 0620, .nlink = 1, .refs = 1, .special = SPECIAL_CONSOLE,
     .rdev = LINUX_MKDEV(5, 1), .alias_fd = 2},
};

long dev_open(struct inode *ino, uint32_t flags, struct file **out)
{
    if (ino->special == SPECIAL_FD_ALIAS) {
        struct file *f = fd_get(ino->alias_fd);
        if (!f)
            return -ENOENT;
        file_get(f);
        *out = f;
        return 0;
    }
    if (ino->special == SPECIAL_NONE)
        return -ENXIO;
    *out = file_new(FILE_DEV, flags, ino);
    return *out ? 0 : -ENOMEM;
}

long dev_read(struct file *f, void *buf, size_t n)
{
    switch (f->ino->special) {
    case SPECIAL_ZERO:
        memset(buf, 0, n);
        return (long)n;
    case SPECIAL_RANDOM:
    case SPECIAL_URANDOM:
        random_bytes(buf, n);
        return (long)n;
    default:
        return 0;   /* null and the console read end-of-file */
    }
}

long dev_write(struct file *f, const void *buf, size_t n)
{
    if (f->ino->special == SPECIAL_CONSOLE)
        console_write(f->ino->alias_fd, buf, n);
    return (long)n;
}
