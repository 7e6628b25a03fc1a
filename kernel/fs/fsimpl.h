/*
 * The inside of the filesystem (kernel/fs/), shared by its files and the syscall layer
 * (kernel/linux/files.c): inodes, directory entries, path lookup, open file descriptions, the
 * descriptor table, pipes and devices. The rest of the kernel uses fs.h only.
 */
#ifndef FSIMPL_H
#define FSIMPL_H

#include "../include/fs.h"
#include "../include/linux_fs.h"

#define FS_DEV_ID LINUX_MKDEV(0, 21)   /* st_dev of every file: one RAM filesystem */

struct ktime {
    int64_t sec;
    int64_t nsec;
};

/* What a character device inode is (inode.special) and the /proc/self/exe link. */
enum special {
    SPECIAL_NONE,
    SPECIAL_NULL,
    SPECIAL_ZERO,
    SPECIAL_RANDOM,
    SPECIAL_URANDOM,
    SPECIAL_CONSOLE,     /* rdev minor 1: stdout, 2: stderr */
    SPECIAL_FD_ALIAS,    /* /dev/stdin, stdout, stderr: opening dups fd `alias_fd` */
    SPECIAL_EXE,         /* /proc/self/exe: a symlink to the program's path */
};

/* One name in a directory. Cookies grow in insertion order and are getdents64 offsets. */
struct dentry {
    struct dentry *hnext;
    struct inode *ino;
    uint64_t cookie;
    uint32_t hash;
    bool hidden;          /* made by the kernel (/dev, /proc): found by lookup, not listed */
    uint16_t len;
    char name[];
};

struct dirtab {
    struct dentry **ents;     /* ordered by cookie */
    size_t n, cap;
    size_t nhidden;           /* entries not listed (and not counted in nlink or size) */
    struct dentry **buckets;  /* hash chains; nbuckets is a power of two */
    size_t nbuckets;
    uint64_t next_cookie;
};

struct inode {
    uint64_t ino;
    uint32_t mode;
    uint32_t nlink;
    uint32_t refs;            /* open files and the working directory */
    enum special special;
    int alias_fd;
    uint64_t rdev;
    uint64_t size;
    struct ktime atime, mtime, ctime;
    uint8_t *data;            /* regular files, symlinks: the bytes */
    size_t cap;               /* 0: data is borrowed (the initrd) and must be copied to write */
    struct dirtab dir;        /* directories */
    struct inode *parent;     /* directories: ".." (the root is its own parent) */
    struct dentry *dentry;    /* directories: their entry in the parent (NULL for the root) */
};

/* inode.c */
extern struct inode *fs_root;   /* NULL until the tree is built: see fs_tree_ready */
extern bool fs_times_frozen;
struct ktime ktime_now(void);
struct inode *inode_new(uint32_t mode);
void inode_get(struct inode *ino);
void inode_put(struct inode *ino);
void inode_drop_link(struct inode *ino);
long inode_write(struct inode *ino, const void *buf, size_t n, uint64_t off);
size_t inode_read(struct inode *ino, void *buf, size_t n, uint64_t off);
long inode_truncate(struct inode *ino, uint64_t len);
void inode_touch_mc(struct inode *ino);
long inode_link_target(struct inode *ino, const char **target, size_t *len);
void inode_stat(const struct inode *ino, struct linux_stat *st);
void inode_statx(const struct inode *ino, struct linux_statx *sx);
uint32_t fs_umask_get(void);

/* cpio.c: builds the tree if it is not yet (ending the VM if that fails). Everything that
 * reads fs_root or the working directory without a lookup calls it first. */
void fs_tree_ready(void);
/* The program's bytes (the file fs_set_exe_path named before fs_init) found in place while the
 * tree is not built, when the archive has no links; false: look it up. */
bool fs_program_in_place(const void **data, size_t *size);

/* dir.c */
struct dentry *dir_find(struct inode *dir, const char *name, size_t len);
long dir_add(struct inode *dir, const char *name, size_t len, struct inode *child, bool hidden);
void dir_remove(struct inode *dir, struct dentry *d);
struct dentry *dir_next(struct inode *dir, uint64_t cookie);
bool dir_is_empty(struct inode *dir);
size_t dir_visible(const struct inode *dir);
void dir_free(struct inode *dir);

/* path.c: lookup. Returns 0 when every directory on the way exists: then `ino` is what the
 * path names, or NULL when only its last component is missing (dir and name say where it
 * would go). `dir` is NULL for "/" (and paths that end there). */
#define LOOKUP_FOLLOW 1
#define LOOKUP_ANY_LAST 2   /* a trailing '/' on a non-directory is the caller's to judge */
struct lookup {
    struct inode *dir;
    struct inode *ino;
    bool slash;                       /* the path ended with '/' */
    char name[NAME_MAX_LEN + 1];
};
long path_lookup(struct inode *base, const char *path, int flags, struct lookup *out);
long fs_may_change(struct inode *dir);   /* namei.c: -EROFS outside /tmp under a read-only root */
struct inode *fs_cwd_inode(void);
long fs_set_cwd(struct inode *dir);
long fs_getcwd(char *buf, size_t size);
const char *fs_exe_path(void);
bool name_is_dot(const char *name);

/* namei.c: operations on names; base is where a relative path starts. */
long fs_mknode(struct lookup *lk, uint32_t mode, struct inode **out);
long fs_mkdir(struct inode *base, const char *path, uint32_t mode);
long fs_rmdir(struct inode *base, const char *path);
long fs_unlink(struct inode *base, const char *path);
long fs_rename(struct inode *ob, const char *op, struct inode *nb, const char *np, unsigned flags);
long fs_symlink(const char *target, struct inode *base, const char *path);
long fs_open(struct inode *base, const char *path, int flags, uint32_t mode, struct file **out);

/* file.c: open file descriptions and the descriptor table. */
enum file_kind { FILE_REG, FILE_DIR, FILE_DEV, FILE_PIPE_R, FILE_PIPE_W, FILE_PATH, FILE_OBJECT };
struct pipe;
struct file {
    enum file_kind kind;
    uint32_t refs;
    uint32_t flags;           /* as F_GETFL reports them */
    uint64_t pos;             /* regular files: offset; directories: getdents cookie */
    struct inode *ino;
    struct pipe *pipe;
    const struct file_ops *ops;   /* FILE_OBJECT: a socket, eventfd or epoll (see fs.h) */
    void *priv;
    uint64_t serial;          /* unique for the kernel's life (file_serial) */
};
struct file *file_new(enum file_kind kind, uint32_t flags, struct inode *ino);
void file_get(struct file *f);
void file_put(struct file *f);
bool file_readable(const struct file *f);
bool file_writable(const struct file *f);
long file_read(struct file *f, void *buf, size_t n, uint64_t *pos);
long file_write(struct file *f, const void *buf, size_t n, uint64_t *pos);
size_t file_read_len(struct file *f, size_t n, uint64_t pos);
long file_read_user(struct file *f, uint64_t ubuf, size_t n, int64_t off);
long file_write_user(struct file *f, uint64_t ubuf, size_t n, int64_t off);
long file_lseek(struct file *f, int64_t off, int whence);
long file_getdents(struct file *f, uint64_t ubuf, size_t n);
int file_poll(struct file *f, int events);
long file_nread(struct file *f);
int fd_install(struct file *f, int min, bool cloexec);
long fd_close(int fd);
long fd_dup_to(int oldfd, int newfd, bool cloexec);
bool fd_cloexec(int fd);
void fd_set_cloexec(int fd, bool on);

/* pipe.c */
long pipe_create(struct file **rd, struct file **wr, uint32_t flags);
long pipe_read(struct file *f, void *buf, size_t n);
long pipe_write(struct file *f, const void *buf, size_t n);
size_t pipe_avail(struct file *f);
int pipe_poll(struct file *f, int events);
void pipe_close(struct file *f);

/* dev.c */
void dev_make_nodes(void);
long dev_open(struct inode *ino, uint32_t flags, struct file **out);
long dev_read(struct file *f, void *buf, size_t n);
long dev_write(struct file *f, const void *buf, size_t n);
extern struct inode stdio_inodes[3];   /* /dev/null (fd 0), the consoles of fds 1 and 2 */

#endif
