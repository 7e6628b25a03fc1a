/*
 * The filesystem's surface for the rest of the kernel (kernel/fs/). The tree is a RAM
 * filesystem built from the initrd's cpio archive; /tmp always exists. Files packed in the
 * initrd keep pointing into the initrd until first written (copy on write).
 */
#ifndef FS_H
#define FS_H

#include "kernel.h"

struct file;   /* an open file description (shared by dup'ed descriptors) */
struct inode;

/* Takes the cpio "newc" archive / is made of and checks it. Returns 0 or -errno (-EINVAL:
 * malformed archive, with a "unikit: " line naming the problem). The tree (with /tmp when the
 * archive lacks it) is built on first use; a problem found then (a member under a file, no
 * memory) ends the VM with status 126 and a "unikit: initrd: " line. */
long fs_init(const void *cpio, size_t len);
/* Builds the tree now (once): 0 or -errno after a "unikit: initrd: " line. */
long fs_build(void);

/* fd 0 (reads end-of-file), fd 1 (console stream 1) and fd 2 (console stream 2) are there from
 * the start; this installs them again (for tests that boot more than once). */
void fs_setup_stdio(void);

/* Sets the working directory (cwd= on the command line) and the path /proc/self/exe reads
 * (before fs_init, so that the loader finds the program without building the tree). */
long fs_chdir_kernel(const char *path);
void fs_set_exe_path(const char *path);

/* Reads a whole regular file for the ELF loader: on success *data points at its bytes (valid
 * until the file is next written) and *size is its length. Returns 0 or -errno. */
long fs_map_file(const char *path, const void **data, size_t *size);
/* The same for the program (the path fs_set_exe_path was given), found in the initrd in place
 * when it can be, without building the tree. */
long fs_map_program(const void **data, size_t *size);

/* For mmap of a file: the open file behind fd, or NULL (EBADF). file_read_at() copies up to n
 * bytes at offset off into kernel memory; returns the count or -errno (-EACCES when fd is not
 * a regular file opened for reading, -ENODEV when it is not a regular file). */
struct file *fd_get(int fd);
long file_read_at(struct file *f, void *kbuf, size_t n, uint64_t off);

/* The file-creation mask (umask(2)): sets it and returns the previous one. Starts at 022. */
unsigned fs_umask(unsigned mask);

/* The "ro" flag: files and names change only under /tmp; elsewhere writes fail with EROFS. */
void fs_set_readonly_root(bool on);

/*
 * Descriptors for kernel objects that are not files (sockets, eventfd, epoll). The object
 * supplies its operations; buffers handed to read/write are already checked program memory.
 * read/write honour O_NONBLOCK from file_status_flags(). poll returns POLL* bits ready now.
 */
struct file_ops {
    long (*read)(struct file *f, void *buf, size_t n);
    long (*write)(struct file *f, const void *buf, size_t n);
    unsigned (*poll)(struct file *f);
    void (*release)(struct file *f);
};
/* Installs a new descriptor (lowest free) for the object; mode is its S_IF* type for fstat.
 * Returns the descriptor or -errno (-EMFILE when the table is full). */
long fd_new_object(const struct file_ops *ops, void *priv, uint32_t mode, uint32_t status_flags, bool cloexec);
/* The object behind f when it has these operations, else NULL. */
void *file_object(struct file *f, const struct file_ops *ops);
uint32_t file_status_flags(struct file *f);
/* POLL* bits ready now on any open file (files, pipes, devices, objects). */
unsigned file_ready(struct file *f, unsigned events);
/* A number no other open file description ever had: a freed description's memory may be reused
 * by the next one, so epoll tells "the same open file" by this, not by the pointer. */
uint64_t file_serial(const struct file *f);

#endif
