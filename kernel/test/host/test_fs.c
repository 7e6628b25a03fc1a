/*
 * Host unit tests of the RAM filesystem and the file syscalls. Calls the sys_* handlers
 * directly with the test's own memory as "user" memory (see shim.c), over an initrd built in
 * memory. Prints PASS/FAIL per test and exits non-zero when any check fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../linux/syscalls.h"
#include "../../fs/fsimpl.h"
#include "cpio_build.h"
#include "shim.h"

static bool test_ok;
static int failed;

#define L(p) ((long)(uintptr_t)(p))
#define EQ(expr, want)                                                                   \
    do {                                                                                 \
        long got_ = (long)(expr), want_ = (long)(want);                                  \
        if (got_ != want_) {                                                             \
            printf("  %s:%d: %s is %ld, want %ld\n", __FILE__, __LINE__, #expr, got_,   \
                   want_);                                                               \
            test_ok = false;                                                             \
        }                                                                                \
    } while (0)
#define OK(cond)                                                                         \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            printf("  %s:%d: not true: %s\n", __FILE__, __LINE__, #cond);               \
            test_ok = false;                                                             \
        }                                                                                \
    } while (0)

static struct cpio initrd;
static const char hello_text[] = "hello, world\n";

static void build_initrd(void)
{
    struct cpio *c = &initrd;
    cpio_add(c, ".", 0040755, "", 0, 1000);
    cpio_add(c, "hello", 0100755, hello_text, strlen(hello_text), 1234);
    cpio_add(c, "etc/x", 0100644, "x-data", 6, 1);           /* no entry for etc */
    cpio_add(c, "./dir2/file", 0100644, "two", 3, 1);         /* "./" prefix */
    cpio_add(c, "bin", 0040700, "", 0, 1);
    cpio_add(c, "bin/tool", 0100755, "#!", 2, 1);
    cpio_add(c, "link", 0120777, "hello", 5, 1);
    cpio_add(c, "abs", 0120777, "/etc/x", 6, 1);
    cpio_add(c, "dirlink", 0120777, "etc", 3, 1);
    cpio_add(c, "loop1", 0120777, "loop2", 5, 1);
    cpio_add(c, "loop2", 0120777, "loop1", 5, 1);
    cpio_add(c, "dangling", 0120777, "tmp/made", 8, 1);
    cpio_add(c, "empty", 0100644, "", 0, 1);
    cpio_add(c, "noexec", 0100644, "data", 4, 1);
    cpio_add_link(c, "h1", 0100644, "", 0, 77, 2);            /* newc: data on the last link */
    cpio_add_link(c, "h2", 0100644, "hard", 4, 77, 2);
    cpio_add(c, "usr/lib/a", 0100644, "a", 1, 1);
    cpio_add(c, "lib", 0120777, "usr/lib", 7, 1);
    cpio_add(c, "lib/b", 0100644, "b", 1, 1);                 /* through the symlink */
    static char large[10000];
    memset(large, 'L', sizeof(large));
    cpio_add(c, "large", 0100644, large, sizeof(large), 1);
    cpio_trailer(c);
}

static void boot_fs(void)
{
    EQ(fs_init(initrd.buf, initrd.len), 0);
    fs_setup_stdio();
    fs_set_exe_path("hello");
    shim_console_reset();
    shim_clear_ranges();
}

static long xopen(const char *path, long flags, long mode)
{
    return sys_open(L(path), flags, mode);
}

/* Reads a whole file into a static buffer (NUL-terminated); NULL on error. */
static const char *slurp(const char *path)
{
    static char buf[8192];
    long fd = xopen(path, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    long n = sys_read(fd, L(buf), sizeof(buf) - 1);
    sys_close(fd);
    if (n < 0)
        return NULL;
    buf[n] = 0;
    return buf;
}

static long put_file(const char *path, const char *text)
{
    long fd = xopen(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fd;
    long n = sys_write(fd, L(text), (long)strlen(text));
    sys_close(fd);
    return n;
}

static struct linux_stat st_of(const char *path, bool follow)
{
    struct linux_stat st;
    memset(&st, 0xff, sizeof(st));
    long r = follow ? sys_stat(L(path), L(&st)) : sys_lstat(L(path), L(&st));
    if (r)
        st.st_mode = 0;
    return st;
}

/* Lists a directory through getdents64 with a buffer of bufsize; returns the entry count
 * and appends "name/" for each to names (when non-NULL). */
static long list_dir(const char *path, size_t bufsize, char *names, size_t cap)
{
    static char buf[65536];
    long fd = xopen(path, O_RDONLY | O_DIRECTORY, 0);
    long count = 0;
    if (fd < 0)
        return fd;
    if (names)
        names[0] = 0;
    for (;;) {
        long n = sys_getdents64(fd, L(buf), (long)bufsize);
        if (n <= 0) {
            count = n < 0 ? n : count;
            break;
        }
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (names && strlen(names) + strlen(d->d_name) + 2 < cap) {
                strcat(names, d->d_name);
                strcat(names, "/");
            }
            count++;
            off += d->d_reclen;
        }
    }
    sys_close(fd);
    return count;
}

/* The tests. */

static void t_lookup_and_read(void)
{
    struct linux_stat st = st_of("/hello", true);
    EQ(st.st_mode, 0100755);
    EQ(st.st_size, strlen(hello_text));
    EQ(st.st_mtim.tv_sec, 1234);
    EQ(st.st_nlink, 1);
    EQ(st_of("etc", true).st_mode & S_IFMT, S_IFDIR);     /* made as a missing parent */
    EQ(st_of("dir2/file", true).st_size, 3);
    EQ(st_of("/bin", true).st_mode, 0040700);
    EQ(st_of("/", true).st_mtim.tv_sec, 1000);
    EQ(st_of("/tmp", true).st_mode, 0041777);
    EQ(st_of("h1", true).st_nlink, 2);
    OK(st_of("h1", true).st_ino == st_of("h2", true).st_ino);
    OK(slurp("h1") && strcmp(slurp("h1"), "hard") == 0);
    OK(slurp("/./etc/../hello") && strcmp(slurp("/./etc/../hello"), hello_text) == 0);
    OK(slurp("/../../etc/x") && strcmp(slurp("/../../etc/x"), "x-data") == 0);

    char buf[64];
    long fd = xopen("hello", O_RDONLY, 0);
    OK(fd >= 3);
    EQ(sys_read(fd, L(buf), 5), 5);
    OK(memcmp(buf, "hello", 5) == 0);
    EQ(sys_read(fd, L(buf), 1L << 40), (long)strlen(hello_text) - 5);   /* huge count */
    EQ(sys_read(fd, L(buf), sizeof(buf)), 0);                           /* EOF */
    EQ(sys_pread64(fd, L(buf), 5, 7), 5);
    OK(memcmp(buf, "world", 5) == 0);
    EQ(sys_pread64(fd, L(buf), 5, 1000), 0);
    EQ(sys_pread64(fd, L(buf), 5, -1), -EINVAL);
    EQ(sys_read(fd, L(buf), -1), -EFAULT);                             /* as Linux */
    EQ(sys_read(fd, 16, 3), 0);                   /* at EOF nothing is copied: no fault */
    EQ(sys_lseek(fd, 0, SEEK_CUR), strlen(hello_text));
    EQ(sys_lseek(fd, -3, SEEK_END), strlen(hello_text) - 3);
    EQ(sys_lseek(fd, -100, SEEK_CUR), -EINVAL);
    EQ(sys_lseek(fd, 0, 99), -EINVAL);
    EQ(sys_write(fd, L("x"), 1), -EBADF);                              /* read-only fd */
    EQ(sys_close(fd), 0);
    EQ(sys_close(fd), -EBADF);

    const void *data;
    size_t size;
    EQ(fs_map_file("hello", &data, &size), 0);
    EQ(size, strlen(hello_text));
    OK((const unsigned char *)data > initrd.buf &&
       (const unsigned char *)data < initrd.buf + initrd.len);          /* not copied */
    EQ(fs_map_file("etc", &data, &size), -EACCES);
    EQ(fs_map_file("nope", &data, &size), -ENOENT);
}

static void t_write_cow(void)
{
    OK(strcmp(slurp("/usr/lib/b"), "b") == 0);
    EQ(st_of("/lib", false).st_mode & S_IFMT, S_IFLNK);
    long lfd = xopen("large", O_WRONLY, 0);                  /* a small write at the start */
    EQ(sys_write(lfd, L("s"), 1), 1);
    sys_close(lfd);
    const char *large = slurp("large");
    OK(large && large[0] == 's' && large[1] == 'L' && strlen(large) == 8191);   /* slurp's cap */
    EQ(st_of("large", true).st_size, 10000);
    const void *before, *after;
    size_t size;
    fs_map_file("etc/x", &before, &size);
    long fd = xopen("/etc/x", O_RDWR, 0);
    EQ(sys_lseek(fd, 2, SEEK_SET), 2);
    EQ(sys_write(fd, L("Z"), 1), 1);
    OK(memcmp(before, "x-data", 6) == 0);                   /* the initrd is untouched */
    EQ(fs_map_file("etc/x", &after, &size), 0);
    OK(after != before);
    OK(memcmp(after, "x-Zata", 6) == 0);
    EQ(sys_pwrite64(fd, L("END"), 3, 10), 3);               /* past the end: a zero gap */
    EQ(sys_fstat(fd, L(&(struct linux_stat){0})), 0);
    EQ(st_of("etc/x", true).st_size, 13);
    char buf[16];
    EQ(sys_pread64(fd, L(buf), 16, 0), 13);
    OK(memcmp(buf, "x-Zata\0\0\0\0END", 13) == 0);
    EQ(sys_ftruncate(fd, 4), 0);
    EQ(st_of("etc/x", true).st_size, 4);
    EQ(sys_ftruncate(fd, 8), 0);
    EQ(sys_pread64(fd, L(buf), 16, 0), 8);
    OK(memcmp(buf, "x-Za\0\0\0\0", 8) == 0);
    EQ(sys_ftruncate(fd, -1), -EINVAL);
    sys_close(fd);
    fd = xopen("etc/x", O_RDONLY, 0);
    EQ(sys_ftruncate(fd, 0), -EINVAL);
    sys_close(fd);
    EQ(sys_truncate(L("etc/x"), 2), 0);
    EQ(st_of("etc/x", true).st_size, 2);
    EQ(sys_truncate(L("etc"), 2), -EISDIR);
}

static void t_create_trunc_append(void)
{
    EQ(put_file("/tmp/a", "0123456789"), 10);
    struct linux_stat st = st_of("/tmp/a", true);
    EQ(st.st_mode, 0100644);
    OK(st.st_mtim.tv_sec > 1600000000);                     /* new files: the clock's time */
    long fd = xopen("/tmp/a", O_WRONLY | O_APPEND, 0);
    EQ(sys_lseek(fd, 0, SEEK_SET), 0);
    EQ(sys_write(fd, L("ab"), 2), 2);                       /* appends anyway */
    EQ(sys_lseek(fd, 0, SEEK_CUR), 12);
    EQ(sys_fcntl(fd, F_GETFL, 0), O_WRONLY | O_APPEND | O_LARGEFILE);
    EQ(sys_read(fd, L(&st), 1), -EBADF);
    sys_close(fd);
    OK(strcmp(slurp("/tmp/a"), "0123456789ab") == 0);
    EQ(xopen("/tmp/a", O_CREAT | O_EXCL | O_WRONLY, 0600), -EEXIST);
    fd = xopen("/tmp/a", O_RDWR | O_TRUNC, 0);
    EQ(st_of("/tmp/a", true).st_size, 0);
    sys_close(fd);
    EQ(xopen("/tmp/new/", O_CREAT | O_WRONLY, 0600), -EISDIR);
    EQ(xopen("/nodir/new", O_CREAT | O_WRONLY, 0600), -ENOENT);
    fd = sys_creat(L("/tmp/c"), 0777);
    EQ(st_of("/tmp/c", true).st_mode, 0100755);             /* umask 022 */
    EQ(sys_fcntl(fd, F_GETFL, 0) & O_ACCMODE, O_WRONLY);
    sys_close(fd);
    /* O_CREAT through a dangling symlink creates its target */
    fd = xopen("dangling", O_CREAT | O_WRONLY, 0644);
    OK(fd >= 0);
    sys_close(fd);
    EQ(st_of("/tmp/made", true).st_mode, 0100644);
    EQ(xopen("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644), -EEXIST);
    /* a big file grows in steps */
    fd = xopen("/tmp/big", O_CREAT | O_RDWR, 0644);
    static char chunk[4096];
    memset(chunk, 'q', sizeof(chunk));
    for (int i = 0; i < 300; i++)
        EQ(sys_write(fd, L(chunk), sizeof(chunk)), sizeof(chunk));
    EQ(st_of("/tmp/big", true).st_size, 300 * 4096);
    EQ(sys_lseek(fd, 0, SEEK_END), 300 * 4096);
    sys_close(fd);
}

static void t_errors(void)
{
    EQ(xopen("missing", O_RDONLY, 0), -ENOENT);
    EQ(xopen("hello/x", O_RDONLY, 0), -ENOTDIR);
    EQ(xopen("hello/", O_RDONLY, 0), -ENOTDIR);
    EQ(xopen("etc", O_WRONLY, 0), -EISDIR);
    EQ(xopen("etc", O_RDWR, 0), -EISDIR);
    EQ(xopen("hello", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
    EQ(xopen("", O_RDONLY, 0), -ENOENT);
    EQ(sys_stat(L("missing/x"), L(&(struct linux_stat){0})), -ENOENT);
    EQ(sys_read(77, L(&(char){0}), 1), -EBADF);
    EQ(sys_read(-1, L(&(char){0}), 1), -EBADF);
    EQ(sys_write(MAX_FDS + 5, L("x"), 1), -EBADF);
    EQ(sys_fstat(99, L(&(struct linux_stat){0})), -EBADF);
    EQ(sys_lseek(99, 0, SEEK_SET), -EBADF);
    long fd = xopen("etc", O_RDONLY, 0);
    char b[8];
    EQ(sys_read(fd, L(b), sizeof(b)), -EISDIR);
    EQ(sys_write(fd, L(b), 1), -EBADF);
    sys_close(fd);
    char longname[300];
    memset(longname, 'n', sizeof(longname));
    longname[299] = 0;
    EQ(xopen(longname, O_RDONLY, 0), -ENAMETOOLONG);
    char *huge = malloc(PATH_MAX_LEN + 10);
    memset(huge, 'a', PATH_MAX_LEN + 9);
    huge[PATH_MAX_LEN + 9] = 0;
    EQ(xopen(huge, O_RDONLY, 0), -ENAMETOOLONG);
    free(huge);
}

static void t_efault(void)
{
    static char bad[256];
    static char ro[64] = "read-only";
    shim_bad_range(bad, sizeof(bad));
    shim_readonly_range(ro, sizeof(ro));
    long fd = xopen("hello", O_RDONLY, 0);
    EQ(sys_read(fd, 16, 5), -EFAULT);
    EQ(sys_read(fd, L(bad), 5), -EFAULT);
    EQ(sys_read(fd, L(ro), 5), -EFAULT);                  /* read-only destination */
    EQ(sys_lseek(fd, 0, SEEK_CUR), 0);                      /* nothing consumed */
    EQ(sys_read(fd, 0, 0), 0);
    EQ(sys_fstat(fd, 8), -EFAULT);
    EQ(sys_write(1, L(bad) + 10, 3), -EFAULT);
    EQ(sys_write(1, L(ro), 3), 3);                         /* reading from it is fine */
    EQ(sys_open(L(bad), O_RDONLY, 0), -EFAULT);
    EQ(sys_open(0, O_RDONLY, 0), -EFAULT);
    EQ(sys_stat(L("hello"), L(bad)), -EFAULT);
    EQ(sys_getcwd(L(bad), 100), -EFAULT);
    EQ(sys_pipe(L(bad)), -EFAULT);
    EQ(sys_readlink(L("link"), L(bad), 10), -EFAULT);
    EQ(sys_getdents64(xopen("/", O_RDONLY, 0), L(bad), 200), -EFAULT);
    struct linux_iovec iov[2] = { { (uint64_t)(uintptr_t)ro, 2 }, { (uint64_t)(uintptr_t)bad, 4 } };
    EQ(sys_readv(fd, L(bad), 1), -EFAULT);
    EQ(sys_writev(1, L(iov), 2), 2);                       /* partial, then the fault */
    EQ(sys_poll(L(bad), 1, 0), -EFAULT);
    EQ(sys_fcntl(fd, F_GETLK, L(bad)), -EFAULT);
    EQ(sys_ioctl(fd, FIONREAD, 4), -EFAULT);
    long offp = 5;
    EQ(sys_sendfile(1, fd, L(bad), 3), -EFAULT);
    EQ(sys_sendfile(1, fd, L(&offp), 3), 3);
    EQ(offp, 8);
    shim_clear_ranges();
    sys_close(fd);
}

static bool has_name(const char *names, const char *name)
{
    char pat[300];
    snprintf(pat, sizeof(pat), "/%s/", name);
    char all[70000];
    snprintf(all, sizeof(all), "/%s", names);
    return strstr(all, pat) != NULL;
}

static void t_getdents(void)
{
    static char names[70000];
    long n = list_dir("/", 4096, names, sizeof(names));
    OK(strncmp(names, "./../", 5) == 0);
    OK(has_name(names, "hello") && has_name(names, "etc") && has_name(names, "tmp"));
    OK(!has_name(names, "dev") && !has_name(names, "proc"));   /* hidden */
    EQ(list_dir("/", 32, NULL, 0), n);                         /* one entry per call */
    EQ(list_dir("/", 16, NULL, 0), -EINVAL);                   /* too small for any */
    EQ(list_dir("/hello", 4096, NULL, 0), -ENOTDIR);
    EQ(list_dir("/", 0xffffffffu, NULL, 0), n);                /* count larger than the buffer */

    /* d_type and d_off */
    static char buf[4096];
    long fd = xopen("/", O_RDONLY | O_DIRECTORY, 0);
    long len = sys_getdents64(fd, L(buf), sizeof(buf));
    OK(len > 0);
    int seen = 0;
    for (long off = 0; off < len;) {
        struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
        if (strcmp(d->d_name, "hello") == 0 && (seen |= 1))
            EQ(d->d_type, DT_REG);
        if (strcmp(d->d_name, "etc") == 0 && (seen |= 2))
            EQ(d->d_type, DT_DIR);
        if (strcmp(d->d_name, "link") == 0 && (seen |= 4))
            EQ(d->d_type, DT_LNK);
        EQ(d->d_reclen % 8, 0);
        off += d->d_reclen;
    }
    EQ(seen, 7);
    EQ(sys_getdents64(fd, L(buf), sizeof(buf)), 0);
    EQ(sys_lseek(fd, 0, SEEK_SET), 0);                          /* rewinddir */
    EQ(sys_getdents64(fd, L(buf), sizeof(buf)), len);
    sys_close(fd);

    /* a directory of a few hundred entries, listed while removing them */
    EQ(sys_mkdir(L("/tmp/many"), 0755), 0);
    char path[64];
    for (int i = 0; i < 400; i++) {
        snprintf(path, sizeof(path), "/tmp/many/f%03d", i);
        EQ(put_file(path, "x"), 1);
    }
    EQ(list_dir("/tmp/many", 4096, NULL, 0), 402);
    fd = xopen("/tmp/many", O_RDONLY | O_DIRECTORY, 0);
    long removed = 0;
    for (;;) {
        len = sys_getdents64(fd, L(buf), 512);
        if (len <= 0)
            break;
        for (long off = 0; off < len;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (d->d_name[0] != '.') {
                snprintf(path, sizeof(path), "/tmp/many/%s", d->d_name);
                removed += sys_unlink(L(path)) == 0;
            }
            off += d->d_reclen;
        }
    }
    sys_close(fd);
    EQ(removed, 400);
    EQ(list_dir("/tmp/many", 4096, NULL, 0), 2);
    EQ(sys_rmdir(L("/tmp/many")), 0);
}

static void t_names(void)
{
    EQ(sys_mkdir(L("/tmp/d"), 0755), 0);
    EQ(sys_mkdir(L("/tmp/d"), 0755), -EEXIST);
    EQ(sys_mkdir(L("/tmp/d/"), 0755), -EEXIST);
    EQ(sys_mkdir(L("/tmp/x/y"), 0755), -ENOENT);
    EQ(sys_mkdir(L("/hello/y"), 0755), -ENOTDIR);
    EQ(sys_mkdir(L("/tmp/e/"), 0700), 0);                   /* trailing slash is fine */
    EQ(st_of("/tmp/d", true).st_nlink, 2);
    long tmp_links = (long)st_of("/tmp", true).st_nlink;
    EQ(put_file("/tmp/d/f", "data"), 4);
    EQ(sys_rmdir(L("/tmp/d")), -ENOTEMPTY);
    EQ(sys_unlink(L("/tmp/d")), -EISDIR);
    EQ(sys_rmdir(L("/tmp/d/f")), -ENOTDIR);
    EQ(sys_unlink(L("/tmp/d/f/")), -ENOTDIR);
    EQ(sys_rmdir(L("/tmp/d/.")), -EINVAL);
    EQ(sys_rmdir(L("/")), -EBUSY);
    EQ(sys_rmdir(L("/tmp/d/..")), -ENOTEMPTY);
    EQ(sys_rename(L("/tmp/d/."), L("/tmp/z")), -EBUSY);
    EQ(xopen("/tmp/d", O_RDONLY | O_CREAT | O_DIRECTORY, 0), -EINVAL);
    EQ(xopen("/tmp/d", O_RDONLY | O_CREAT, 0), -EISDIR);

    /* rename: file over file, into another directory, NOREPLACE, dir into itself */
    EQ(put_file("/tmp/r1", "one"), 3);
    EQ(put_file("/tmp/r2", "two"), 3);
    EQ(sys_renameat2(AT_FDCWD, L("/tmp/r1"), AT_FDCWD, L("/tmp/r2"), RENAME_NOREPLACE), -EEXIST);
    EQ(sys_rename(L("/tmp/r1"), L("/tmp/r2")), 0);
    OK(strcmp(slurp("/tmp/r2"), "one") == 0);
    EQ(xopen("/tmp/r1", O_RDONLY, 0), -ENOENT);
    EQ(sys_rename(L("/tmp/r2"), L("/tmp/d/r3")), 0);
    OK(strcmp(slurp("/tmp/d/r3"), "one") == 0);
    EQ(sys_rename(L("/tmp/d"), L("/tmp/d/sub")), -EINVAL);
    EQ(sys_rename(L("/tmp/e"), L("/tmp/d")), -ENOTEMPTY);
    EQ(sys_rename(L("/tmp/d"), L("/tmp/e")), 0);              /* over an empty directory */
    EQ(xopen("/tmp/d", O_RDONLY, 0), -ENOENT);
    EQ(st_of("/tmp/e/r3", true).st_size, 3);
    EQ(sys_rename(L("/tmp/e/r3"), L("/tmp/e/r4/")), -ENOTDIR);
    EQ(sys_rename(L("/tmp/e"), L("/tmp/e/sub/")), -EINVAL);
    EQ(sys_rename(L("/tmp/e"), L("/tmp/e/f/")), -EINVAL);    /* checked before the slash */
    EQ(sys_rename(L("/tmp/e/f"), L("/tmp/nf/")), -ENOTDIR);
    EQ(sys_mkdir(L("/tmp/d"), 0755), 0);
    EQ(sys_rename(L("/tmp/missing"), L("/tmp/zz")), -ENOENT);
    EQ(sys_renameat2(AT_FDCWD, L("/tmp/e"), AT_FDCWD, L("/tmp/f"), RENAME_EXCHANGE), -EINVAL);
    EQ(put_file("/tmp/plain", "p"), 1);
    EQ(sys_rename(L("/tmp/e"), L("/tmp/plain")), -ENOTDIR);
    EQ(sys_rename(L("/tmp/plain"), L("/tmp/e")), -EISDIR);
    /* getcwd follows a renamed directory */
    EQ(sys_chdir(L("/tmp/e")), 0);
    EQ(sys_rename(L("/tmp/e"), L("/tmp/g")), 0);
    char cwd[64];
    EQ(sys_getcwd(L(cwd), sizeof(cwd)), 7);
    OK(strcmp(cwd, "/tmp/g") == 0);
    EQ(sys_getcwd(L(cwd), 3), -ERANGE);
    EQ(sys_unlink(L("r3")), 0);                              /* relative to the cwd */
    EQ(sys_unlink(L("./f")), 0);
    EQ(sys_rmdir(L("/tmp/g")), 0);
    EQ(sys_getcwd(L(cwd), sizeof(cwd)), -ENOENT);            /* removed under us */
    EQ(put_file("nowhere", "x"), -ENOENT);
    EQ(sys_chdir(L("/")), 0);
    EQ(st_of("/tmp", true).st_nlink, tmp_links - 1);         /* e is gone */
    EQ(sys_rmdir(L("/tmp/d")), 0);

    /* unlinked but open: the data lives until close */
    long fd = xopen("/tmp/plain", O_RDWR, 0);
    EQ(sys_unlink(L("/tmp/plain")), 0);
    EQ(sys_write(fd, L("more"), 4), 4);
    char b[8] = { 0 };
    EQ(sys_pread64(fd, L(b), 8, 0), 4);
    OK(strcmp(b, "more") == 0);
    sys_close(fd);

    /* the *at forms with a directory descriptor */
    long dfd = xopen("/etc", O_RDONLY | O_DIRECTORY, 0);
    EQ(sys_mkdirat(dfd, L("sub"), 0755), 0);
    fd = sys_openat(dfd, L("sub/f"), O_CREAT | O_WRONLY, 0600);
    OK(fd >= 0);
    sys_close(fd);
    EQ(sys_renameat(dfd, L("sub/f"), AT_FDCWD, L("/tmp/moved")), 0);
    EQ(sys_unlinkat(dfd, L("sub"), 0), -EISDIR);
    EQ(sys_unlinkat(dfd, L("sub"), AT_REMOVEDIR), 0);
    EQ(sys_unlinkat(dfd, L("sub"), 0x1), -EINVAL);
    EQ(sys_openat(1, L("x"), O_RDONLY, 0), -ENOTDIR);
    EQ(sys_openat(55, L("x"), O_RDONLY, 0), -EBADF);
    EQ(sys_openat(55, L("/hello"), O_RDONLY, 0) >= 0, 1);    /* absolute: dirfd ignored */
    EQ(sys_fchdir(dfd), 0);
    OK(strcmp(slurp("x"), "x-") == 0);
    EQ(sys_chdir(L("/")), 0);
    EQ(sys_chdir(L("/hello")), -ENOTDIR);
    sys_close(dfd);
}

static void t_symlinks(void)
{
    struct linux_stat st = st_of("link", false);
    EQ(st.st_mode, 0120777);
    EQ(st.st_size, 5);
    EQ(st_of("link", true).st_mode, 0100755);
    OK(strcmp(slurp("abs"), "x-") == 0);
    OK(strcmp(slurp("dirlink/x"), "x-") == 0);
    EQ(st_of("dirlink/", false).st_mode & S_IFMT, S_IFDIR);   /* slash follows */
    char b[64];
    EQ(sys_readlink(L("abs"), L(b), sizeof(b)), 6);
    OK(memcmp(b, "/etc/x", 6) == 0);
    EQ(sys_readlink(L("abs"), L(b), 3), 3);
    EQ(sys_readlink(L("hello"), L(b), sizeof(b)), -EINVAL);
    EQ(sys_readlink(L("abs"), L(b), 0), -EINVAL);
    EQ(xopen("loop1", O_RDONLY, 0), -ELOOP);
    EQ(sys_stat(L("loop1"), L(&st)), -ELOOP);
    EQ(sys_lstat(L("loop1"), L(&st)), 0);
    EQ(xopen("link", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
    long fd = xopen("link", O_RDONLY | O_NOFOLLOW | O_PATH, 0);
    OK(fd >= 0);
    EQ(sys_read(fd, L(b), 1), -EBADF);
    EQ(sys_fstat(fd, L(&st)), 0);
    EQ(st.st_mode, 0120777);
    sys_close(fd);
    EQ(sys_newfstatat(AT_FDCWD, L("link"), L(&st), AT_SYMLINK_NOFOLLOW), 0);
    EQ(st.st_mode, 0120777);

    /* a chain: 40 links resolve, 41 give ELOOP */
    char name[32], target[32];
    for (int i = 0; i <= 40; i++) {
        snprintf(name, sizeof(name), "/tmp/l%d", i);
        snprintf(target, sizeof(target), i == 40 ? "/hello" : "l%d", i + 1);
        EQ(sys_symlink(L(target), L(name)), 0);
    }
    EQ(st_of("/tmp/l1", true).st_mode, 0100755);
    EQ(sys_stat(L("/tmp/l0"), L(&st)), -ELOOP);
    EQ(sys_symlink(L("x"), L("/tmp/l0")), -EEXIST);
    EQ(sys_symlink(L(""), L("/tmp/lx")), -ENOENT);
    EQ(sys_unlink(L("/tmp/l0")), 0);                         /* removes the link only */
    EQ(st_of("/tmp/l1", true).st_mode, 0100755);

    /* /proc/self/exe */
    EQ(sys_readlink(L("/proc/self/exe"), L(b), sizeof(b)), 6);
    OK(memcmp(b, "/hello", 6) == 0);
    OK(strcmp(slurp("/proc/self/exe"), hello_text) == 0);
    OK(strncmp(slurp("/proc/mounts"), "tmpfs / tmpfs", 13) == 0);
    EQ(list_dir("/dev", 4096, NULL, 0), 2 + 7);               /* listed inside /dev */
    EQ(list_dir("/proc", 4096, NULL, 0), 2 + 2);              /* self, mounts */
    EQ(st_of("/", true).st_nlink, 2 + 5);     /* etc, dir2, bin, usr, tmp; not dev, proc */
}

static void t_dup_fcntl(void)
{
    long fd = xopen("hello", O_RDONLY, 0);
    long fd2 = sys_dup(fd);
    OK(fd2 > fd);
    char b[8];
    EQ(sys_read(fd, L(b), 3), 3);
    EQ(sys_lseek(fd2, 0, SEEK_CUR), 3);                       /* shared offset */
    EQ(sys_fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
    EQ(sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
    EQ(sys_fcntl(fd2, F_GETFD, 0), 0);                        /* per descriptor */
    EQ(sys_fcntl(fd, F_SETFL, O_NONBLOCK | O_RDWR), 0);
    EQ(sys_fcntl(fd2, F_GETFL, 0), O_RDONLY | O_NONBLOCK | O_LARGEFILE);  /* per description */
    EQ(sys_dup2(fd, 50), 50);
    EQ(sys_fcntl(50, F_GETFD, 0), 0);
    EQ(sys_dup2(50, 50), 50);
    EQ(sys_dup2(77, 50), -EBADF);
    EQ(sys_dup2(fd, MAX_FDS), -EBADF);
    EQ(sys_dup3(fd, 50, O_CLOEXEC), 50);
    EQ(sys_fcntl(50, F_GETFD, 0), FD_CLOEXEC);
    EQ(sys_dup3(50, 50, 0), -EINVAL);
    EQ(sys_dup3(fd, 51, 1), -EINVAL);
    EQ(sys_fcntl(fd, F_DUPFD, 40), 40);
    EQ(sys_fcntl(fd, F_DUPFD_CLOEXEC, 40), 41);
    EQ(sys_fcntl(41, F_GETFD, 0), FD_CLOEXEC);
    EQ(sys_fcntl(fd, F_DUPFD, -1), -EINVAL);
    EQ(sys_fcntl(fd, F_DUPFD, MAX_FDS), -EINVAL);
    EQ(sys_fcntl(fd, 12345, 0), -EINVAL);
    struct linux_flock fl = { F_WRLCK, SEEK_SET, 0, 0, 0 };
    EQ(sys_fcntl(fd, F_SETLK, L(&fl)), 0);
    EQ(sys_fcntl(fd, F_GETLK, L(&fl)), 0);
    EQ(fl.l_type, F_UNLCK);
    EQ(sys_ioctl(fd, FIOCLEX, 0), 0);
    EQ(sys_fcntl(fd2, F_GETFD, 0), 0);
    EQ(sys_ioctl(fd2, FIOCLEX, 0), 0);
    EQ(sys_fcntl(fd2, F_GETFD, 0), FD_CLOEXEC);
    int32_t avail = -1;
    EQ(sys_ioctl(fd, FIONREAD, L(&avail)), 0);
    EQ(avail, strlen(hello_text) - 3);
    EQ(sys_close_range(40, 51, CLOSE_RANGE_CLOEXEC), 0);
    EQ(sys_fcntl(40, F_GETFD, 0), FD_CLOEXEC);
    EQ(sys_close_range(40, ~0U, 0), 0);
    EQ(sys_fcntl(40, F_GETFD, 0), -EBADF);
    EQ(sys_fcntl(50, F_GETFD, 0), -EBADF);
    EQ(sys_close_range(5, 4, 0), -EINVAL);
    sys_close(fd2);
    EQ(sys_dup(fd), fd2);                                     /* lowest free */
    sys_close(fd2);
    sys_close(fd);
}

static void t_pipes(void)
{
    int32_t p[2];
    EQ(sys_pipe2(L(p), O_CLOEXEC), 0);
    EQ(sys_fcntl(p[0], F_GETFD, 0), FD_CLOEXEC);
    EQ(sys_fcntl(p[1], F_GETFL, 0), O_WRONLY);
    struct linux_stat st;
    EQ(sys_fstat(p[0], L(&st)), 0);
    EQ(st.st_mode & S_IFMT, S_IFIFO);
    char b[16];
    EQ(sys_write(p[1], L("abc"), 3), 3);
    int32_t avail;
    EQ(sys_ioctl(p[0], FIONREAD, L(&avail)), 0);
    EQ(avail, 3);
    struct linux_pollfd pf[3] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 }, { 999, POLLIN, 0 } };
    EQ(sys_poll(L(pf), 3, 0), 3);
    EQ(pf[0].revents, POLLIN);
    EQ(pf[1].revents, POLLOUT);
    EQ(pf[2].revents, POLLNVAL);
    EQ(sys_read(p[0], L(b), sizeof(b)), 3);
    OK(memcmp(b, "abc", 3) == 0);
    EQ(sys_lseek(p[0], 0, SEEK_CUR), -ESPIPE);
    EQ(sys_pread64(p[0], L(b), 1, 0), -ESPIPE);
    EQ(sys_read(p[1], L(b), 1), -EBADF);
    EQ(sys_write(p[0], L(b), 1), -EBADF);
    /* empty with a writer: EAGAIN when non-blocking, end-of-file otherwise (see pipe.c) */
    EQ(sys_read(p[0], L(b), 1), 0);
    EQ(sys_fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    EQ(sys_read(p[0], L(b), 1), -EAGAIN);
    pf[0].revents = 7;
    EQ(sys_poll(L(pf), 1, 0), 0);
    EQ(pf[0].revents, 0);
    EQ(sys_poll(L(pf), 1, 25), 0);                             /* sleeps, then times out */
    OK(shim_slept_until > 0);
    /* wrap around the ring and fill it */
    static char big[PIPE_BUF_SIZE + 10];
    memset(big, 'w', sizeof(big));
    EQ(sys_write(p[1], L(big), 100), 100);
    EQ(sys_read(p[0], L(big), 60), 60);
    EQ(sys_write(p[1], L(big), sizeof(big)), PIPE_BUF_SIZE - 40);
    EQ(sys_write(p[1], L(big), 1), -EAGAIN);
    EQ(sys_poll(L(&pf[1]), 1, 0), 0);
    EQ(sys_read(p[0], L(big), sizeof(big)), PIPE_BUF_SIZE);
    /* writer closed: end-of-file and POLLHUP; reader closed: EPIPE */
    EQ(sys_write(p[1], L("z"), 1), 1);
    sys_close(p[1]);
    EQ(sys_read(p[0], L(b), sizeof(b)), 1);
    EQ(sys_read(p[0], L(b), sizeof(b)), 0);
    pf[0].events = POLLIN;
    EQ(sys_poll(L(pf), 1, 0), 1);
    EQ(pf[0].revents, POLLHUP);
    sys_close(p[0]);
    EQ(sys_pipe(L(p)), 0);
    sys_close(p[0]);
    EQ(sys_write(p[1], L("z"), 1), -EPIPE);
    sys_close(p[1]);
    EQ(sys_pipe2(L(p), 0x1), -EINVAL);
    /* sendfile into a pipe */
    EQ(sys_pipe(L(p)), 0);
    long fd = xopen("hello", O_RDONLY, 0);
    EQ(sys_sendfile(p[1], fd, 0, 100), strlen(hello_text));
    EQ(sys_lseek(fd, 0, SEEK_CUR), strlen(hello_text));
    EQ(sys_read(p[0], L(b), 5), 5);
    OK(memcmp(b, "hello", 5) == 0);
    EQ(sys_sendfile(fd, p[0], 0, 1), -EBADF);                 /* fd is read-only */
    EQ(sys_sendfile(p[1], p[0], 0, 1), -EINVAL);              /* in must be a file */
    sys_close(fd);
    sys_close(p[0]);
    sys_close(p[1]);
}

static void t_console_and_devices(void)
{
    shim_console_reset();
    EQ(sys_write(1, L("out\n"), 4), 4);
    EQ(sys_write(2, L("err\n"), 4), 4);
    struct linux_iovec iov[2] = { { (uint64_t)(uintptr_t)"a", 1 }, { (uint64_t)(uintptr_t)"bc", 2 } };
    EQ(sys_writev(1, L(iov), 2), 3);
    EQ(sys_writev(1, L(iov), MAX_IOV + 1), -EINVAL);
    EQ(sys_writev(1, L(iov), -1), -EINVAL);
    EQ(sys_writev(1, L(iov), 0), 0);
    EQ(shim_console_len[1], 7);
    OK(memcmp(shim_console[1], "out\nabc", 7) == 0);
    OK(memcmp(shim_console[2], "err\n", 4) == 0);
    char b[8];
    EQ(sys_read(0, L(b), sizeof(b)), 0);                      /* stdin: end-of-file */
    EQ(sys_read(1, L(b), sizeof(b)), -EBADF);
    struct linux_stat st;
    EQ(sys_fstat(1, L(&st)), 0);
    EQ(st.st_mode & S_IFMT, S_IFCHR);
    struct linux_termios t;
    struct linux_winsize ws;
    EQ(sys_ioctl(1, TCGETS, L(&t)), -ENOTTY);
    EQ(sys_ioctl(1, TIOCGWINSZ, L(&ws)), -ENOTTY);
    EQ(sys_ioctl(0, TIOCGPGRP, L(&ws)), -ENOTTY);
    EQ(sys_ioctl(1, 0x12345, 0), -ENOTTY);
    EQ(sys_ioctl(99, TCGETS, L(&t)), -EBADF);
    EQ(sys_lseek(1, 0, SEEK_CUR), -ESPIPE);
    EQ(sys_fsync(1), 0);
    long fd = xopen("hello", O_RDONLY, 0);
    long off = 7;
    EQ(sys_sendfile(1, fd, L(&off), 6), 6);                   /* offset pointer: fd's own */
    EQ(off, 13);                                              /* position is untouched */
    EQ(sys_lseek(fd, 0, SEEK_CUR), 0);
    OK(memcmp(shim_console[1] + 7, "world\n", 6) == 0);
    sys_close(fd);

    fd = xopen("/dev/null", O_RDWR, 0);
    EQ(sys_write(fd, L("gone"), 4), 4);
    EQ(sys_read(fd, L(b), sizeof(b)), 0);
    EQ(sys_fstat(fd, L(&st)), 0);
    EQ(st.st_rdev, LINUX_MKDEV(1, 3));
    sys_close(fd);
    fd = xopen("/dev/zero", O_RDONLY, 0);
    memset(b, 1, sizeof(b));
    EQ(sys_read(fd, L(b), sizeof(b)), sizeof(b));
    EQ(b[0] | b[7], 0);
    sys_close(fd);
    fd = xopen("/dev/urandom", O_RDONLY, 0);
    EQ(sys_read(fd, L(b), sizeof(b)), sizeof(b));
    sys_close(fd);
    fd = xopen("/dev/stdout", O_WRONLY, 0);
    EQ(sys_write(fd, L("!"), 1), 1);
    EQ(shim_console[1][13], '!');
    sys_close(fd);
    EQ(xopen("/dev/nothing", O_RDONLY, 0), -ENOENT);
}

static void t_stat_family(void)
{
    struct linux_stat st;
    long fd = xopen("/bin", O_RDONLY | O_DIRECTORY, 0);
    EQ(sys_newfstatat(fd, L("tool"), L(&st), 0), 0);
    EQ(st.st_size, 2);
    EQ(sys_newfstatat(fd, L(""), L(&st), AT_EMPTY_PATH), 0);
    EQ(st.st_mode, 0040700);
    EQ(sys_newfstatat(fd, L(""), L(&st), 0), -ENOENT);
    EQ(sys_newfstatat(fd, L("tool"), L(&st), 0x4), -EINVAL);
    struct linux_statx sx;
    EQ(sys_statx(AT_FDCWD, L("hello"), 0, STATX_BASIC_STATS, L(&sx)), 0);
    EQ(sx.stx_size, strlen(hello_text));
    EQ(sx.stx_mode, 0100755);
    EQ(sx.stx_mtime.tv_sec, 1234);
    EQ(sx.stx_mask & STATX_SIZE, STATX_SIZE);
    EQ(sys_statx(fd, 0, AT_EMPTY_PATH, STATX_BASIC_STATS, L(&sx)), 0);
    EQ(sx.stx_mode, 0040700);
    sys_close(fd);

    EQ(sys_access(L("hello"), X_OK), 0);
    EQ(sys_access(L("noexec"), X_OK), -EACCES);
    EQ(sys_access(L("noexec"), R_OK | W_OK), 0);
    EQ(sys_access(L("etc"), X_OK), 0);
    EQ(sys_access(L("nope"), F_OK), -ENOENT);
    EQ(sys_access(L("hello"), 8), -EINVAL);
    EQ(sys_faccessat2(AT_FDCWD, L("loop1"), F_OK, AT_SYMLINK_NOFOLLOW), 0);
    EQ(sys_faccessat(AT_FDCWD, L("loop1"), F_OK), -ELOOP);

    EQ(sys_chmod(L("noexec"), 0751), 0);
    EQ(sys_access(L("noexec"), X_OK), 0);
    EQ(st_of("noexec", true).st_mode, 0100751);
    fd = xopen("noexec", O_RDONLY, 0);
    EQ(sys_fchmod(fd, 0600), 0);
    EQ(st_of("noexec", true).st_mode, 0100600);
    struct linux_timespec ts[2] = { { 5, 0 }, { 77, 123 } };
    EQ(sys_utimensat(AT_FDCWD, L("noexec"), L(ts), 0), 0);
    st = st_of("noexec", true);
    EQ(st.st_atim.tv_sec, 5);
    EQ(st.st_mtim.tv_sec, 77);
    EQ(st.st_mtim.tv_nsec, 123);
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_NOW;
    EQ(sys_utimensat(fd, 0, L(ts), 0), 0);                    /* futimens */
    st = st_of("noexec", true);
    EQ(st.st_atim.tv_sec, 5);
    OK(st.st_mtim.tv_sec > 1600000000);
    ts[0].tv_nsec = 2000000000;
    EQ(sys_utimensat(fd, 0, L(ts), 0), -EINVAL);
    EQ(sys_utimensat(AT_FDCWD, 0, 0, 0), -EFAULT);
    sys_close(fd);

    struct linux_statfs sf;
    EQ(sys_statfs(L("/tmp"), L(&sf)), 0);
    EQ(sf.f_type, TMPFS_MAGIC);
    EQ(sf.f_bsize, 4096);
    EQ(sys_fstatfs(1, L(&sf)), 0);
    EQ(sys_fstatfs(99, L(&sf)), -EBADF);
    EQ(sys_statfs(L("/nope"), L(&sf)), -ENOENT);
    EQ(sys_fsync(99), -EBADF);
    EQ(sys_fdatasync(0), 0);

    /* readv across two buffers */
    fd = xopen("hello", O_RDONLY, 0);
    char a[5], b[32];
    struct linux_iovec iov[2] = { { (uint64_t)(uintptr_t)a, 5 }, { (uint64_t)(uintptr_t)b, 32 } };
    EQ(sys_readv(fd, L(iov), 2), strlen(hello_text));
    OK(memcmp(a, "hello", 5) == 0 && memcmp(b, ", world", 7) == 0);
    sys_close(fd);
    EQ(sys_readv(99, L(iov), 2), -EBADF);
}

static void t_file_read_at(void)
{
    long fd = xopen("hello", O_RDONLY, 0);
    char b[8];
    EQ(file_read_at(fd_get((int)fd), b, 5, 7), 5);
    OK(memcmp(b, "world", 5) == 0);
    EQ(file_read_at(fd_get(1), b, 5, 0), -ENODEV);
    EQ(file_read_at(fd_get(999), b, 5, 0), -EBADF);
    sys_close(fd);
    fd = xopen("/tmp/wo", O_CREAT | O_WRONLY, 0644);
    EQ(file_read_at(fd_get((int)fd), b, 5, 0), -EACCES);
    sys_close(fd);
    EQ(fs_chdir_kernel("/etc"), 0);
    OK(strcmp(slurp("x"), "x-") == 0);
    EQ(fs_chdir_kernel("/hello"), -ENOTDIR);
    EQ(fs_chdir_kernel("/"), 0);
}

/* Malformed archives: each is rejected with -EINVAL and a "unikit: initrd: " line, by
 * fs_init's check or, for what only the tree shows (a member under a file), by its build. */
static void expect_bad(const void *buf, size_t len, const char *words)
{
    shim_klog[0] = 0;
    long r = fs_init(buf, len);
    EQ(r == 0 ? fs_build() : r, -EINVAL);
    if (strncmp(shim_klog, "unikit: initrd: ", 16) != 0 || !strstr(shim_klog, words)) {
        printf("  log line \"%s\" lacks \"%s\"\n", shim_klog, words);
        test_ok = false;
    }
}

static void t_malformed_cpio(void)
{
    struct cpio c = { 0 };
    cpio_add(&c, "file", 0100644, "0123456789", 10, 1);
    size_t one = c.len;
    cpio_trailer(&c);
    unsigned char *b = malloc(c.len);

    memcpy(b, c.buf, c.len);
    b[0] = '1';
    expect_bad(b, c.len, "magic");
    expect_bad(c.buf, 50, "truncated header");
    expect_bad(c.buf, 112, "truncated name");
    expect_bad(c.buf, 120, "truncated data");
    expect_bad(c.buf, one, "TRAILER");
    memcpy(b, c.buf, c.len);
    memcpy(b + 6 + 8 * 6, "0000FFFF", 8);                    /* filesize past the end */
    expect_bad(b, c.len, "truncated data");
    memcpy(b, c.buf, c.len);
    memcpy(b + 6 + 8 * 11, "0000000G", 8);                   /* not hex */
    expect_bad(b, c.len, "header");
    memcpy(b, c.buf, c.len);
    b[110 + 4] = 'X';                                         /* name not terminated */
    expect_bad(b, c.len, "name");

    struct cpio d = { 0 };
    cpio_add(&d, "../escape", 0100644, "x", 1, 1);
    cpio_trailer(&d);
    expect_bad(d.buf, d.len, "..");
    cpio_free(&d);
    cpio_add(&d, "f", 0100644, "x", 1, 1);
    cpio_add(&d, "f/g", 0100644, "x", 1, 1);
    cpio_trailer(&d);
    expect_bad(d.buf, d.len, "not a directory");
    cpio_free(&d);

    /* an empty initrd is an empty root with /tmp */
    EQ(fs_init(NULL, 0), 0);
    EQ(st_of("/tmp", true).st_mode, 0041777);
    EQ(list_dir("/", 4096, NULL, 0), 3);
    free(b);
    cpio_free(&c);
}

/* Random damage to a valid archive: every outcome is 0 or -EINVAL, never a crash (ASan). */
static void t_cpio_fuzz(void)
{
    unsigned char *b = malloc(initrd.len);
    const char *env = getenv("FUZZ_ITERS");   /* more rounds on demand */
    int iters = env ? atoi(env) : 3000;
    uint32_t seed = env && getenv("FUZZ_SEED") ? (uint32_t)atoi(getenv("FUZZ_SEED")) : 12345;
    int rejected = 0;
    shim_quiet = true;
    for (int i = 0; i < iters; i++) {
        memcpy(b, initrd.buf, initrd.len);
        size_t len = initrd.len;
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            static const char fodder[] = "0123456789ABCDEFx/.";
            b[at] = k == 0 ? (unsigned char)fodder[(seed >> 3) % 19] : (unsigned char)(seed >> 16);
        }
        if (i % 3 == 0)
            len = (seed >> 4) % len;
        long r = fs_init(b, len);
        if (r == 0)
            r = fs_build();
        OK(r == 0 || r == -EINVAL);
        rejected += r == -EINVAL;
    }
    shim_quiet = false;
    OK(rejected > iters / 3);
    free(b);
    boot_fs();
}

/* Random syscalls with random arguments: any result is fine as long as nothing crashes and
 * the descriptors and tree stay usable. */
static uint32_t rng_state = 777;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* Paths the fuzzer uses, copied into user memory it cannot overwrite. */
static char fuzz_paths[512];
static size_t fuzz_path_at[16];
static size_t fuzz_npaths;

static void fuzz_paths_init(void)
{
    static const char *paths[] = { "/tmp/fz", "/tmp/fz/a", "/tmp/fz/b/", "hello", "/etc",
                                   "link", "loop1", "/dev/null", "/proc/self/exe", "..", "",
                                   "/tmp/fz/s", "/tmp" };
    size_t at = 0;
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        fuzz_path_at[i] = at;
        memcpy(fuzz_paths + at, paths[i], strlen(paths[i]) + 1);
        at += strlen(paths[i]) + 1;
    }
    fuzz_npaths = ARRAY_LEN(paths);
}

static long rnd_ptr(void *good, size_t goodlen, const void *bad)
{
    switch (rnd(6)) {
    case 0: return 0;
    case 1: return 16;
    case 2: return L(bad);
    case 3: return L(fuzz_paths + fuzz_path_at[rnd((uint32_t)fuzz_npaths)]);
    default: return L((char *)good + rnd((uint32_t)goodlen));
    }
}

static long rnd_num(void)
{
    static const long nums[] = { 0, 1, 2, 3, 4, 5, 7, 64, 4096, 65536, -1, -100, 1L << 40,
                                 0x7fffffff, O_CREAT | O_RDWR, O_DIRECTORY, AT_EMPTY_PATH,
                                 O_APPEND | O_WRONLY, 1000000 };
    return rnd(4) ? nums[rnd(ARRAY_LEN(nums))] : (long)rnd(1u << 31) - (1L << 30);
}

#define NCALLS 39
static long call_one(int which, const long *a)
{
    switch (which) {
    case 0: return sys_read(a[0], a[1], a[2]);
    case 1: return sys_write(a[0], a[1], a[2]);
    case 2: return sys_readv(a[0], a[1], a[2]);
    case 3: return sys_writev(a[0], a[1], a[2]);
    case 4: return sys_pread64(a[0], a[1], a[2], a[3]);
    case 5: return sys_pwrite64(a[0], a[1], a[2], a[3]);
    case 6: return sys_open(a[0], a[1], a[2]);
    case 7: return sys_openat(a[0], a[1], a[2], a[3]);
    case 8: return sys_lseek(a[0], a[1], a[2]);
    case 9: return sys_fstat(a[0], a[1]);
    case 10: return sys_stat(a[0], a[1]);
    case 11: return sys_lstat(a[0], a[1]);
    case 12: return sys_newfstatat(a[0], a[1], a[2], a[3]);
    case 13: return sys_statx(a[0], a[1], a[2], a[3], a[4]);
    case 14: return sys_getdents64(a[0], a[1], a[2]);
    case 15: return sys_access(a[0], a[1]);
    case 16: return sys_faccessat2(a[0], a[1], a[2], a[3]);
    case 17: return sys_readlinkat(a[0], a[1], a[2], a[3]);
    case 18: return sys_getcwd(a[0], a[1]);
    case 19: return sys_fcntl(a[0], a[1], a[2]);
    case 20: return sys_dup(a[0]);
    case 21: return sys_dup3(a[0], a[1], a[2]);
    case 22: return sys_pipe2(a[0], a[1]);
    case 23: return sys_ioctl(a[0], a[1], a[2]);
    case 24: return sys_mkdirat(a[0], a[1], a[2]);
    case 25: return sys_unlinkat(a[0], a[1], a[2]);
    case 26: return sys_renameat2(a[0], a[1], a[2], a[3], a[4]);
    case 27: return sys_ftruncate(a[0], a[1]);
    case 28: return sys_truncate(a[0], a[1]);
    case 29: return sys_sendfile(a[0], a[1], a[2], a[3]);
    case 30: return sys_symlink(a[0], a[1]);
    case 31: return sys_chmod(a[0], a[1]);
    case 32: return sys_utimensat(a[0], a[1], a[2], a[3]);
    case 33: return sys_statfs(a[0], a[1]);
    case 34: return sys_poll(a[0], a[1], a[2] & 1);
    case 35: return sys_close(a[0]);
    case 36: return sys_chdir(a[0]);
    case 37: return sys_fchdir(a[0]);
    default: return sys_creat(a[0], a[1]);
    }
}

static void t_syscall_fuzz(void)
{
    static char good[8192];
    static char bad[64];
    const char *env = getenv("FUZZ_ITERS");
    int iters = env ? atoi(env) : 20000;
    fuzz_paths_init();
    shim_good_range(good, sizeof(good));
    shim_good_range(fuzz_paths, sizeof(fuzz_paths));
    shim_readonly_range(fuzz_paths, sizeof(fuzz_paths));
    shim_quiet = true;
    EQ(sys_mkdir(L(fuzz_paths), 0755), 0);
    for (int i = 0; i < iters; i++) {
        long a[6];
        for (int k = 0; k < 6; k++)
            a[k] = rnd(2) ? rnd_ptr(good, sizeof(good), bad) : rnd_num();
        if (rnd(2))
            a[0] = (long)rnd(12) - 1;   /* mostly small descriptors */
        call_one((int)rnd(NCALLS), a);
        if (!fd_get(1) || !fd_get(2))
            fs_setup_stdio();
    }
    shim_quiet = false;
    shim_clear_ranges();
    sys_close_range(3, ~0U, 0);
    OK(bad[0] == 0);
    EQ(sys_chdir(L("/")), 0);
    OK(slurp("/hello") != NULL);
    EQ(sys_write(1, L("ok"), 2), 2);
}

/* The tree is built on first use; until then the program is found in the archive in place. */
static void t_lazy_tree(void)
{
    struct cpio c = { 0 };
    cpio_add(&c, "prog", 0100755, "PROGRAM", 7, 1);
    cpio_add(&c, "./etc/conf", 0100644, "c", 1, 1);
    cpio_trailer(&c);
    const void *data;
    size_t size;
    fs_set_exe_path("/prog");
    EQ(fs_init(c.buf, c.len), 0);
    EQ(fs_map_program(&data, &size), 0);
    EQ(size, 7);
    OK(data > (const void *)c.buf && data < (const void *)(c.buf + c.len));   /* not copied */
    OK(fs_root == NULL);                                      /* and no tree yet */
    EQ(sys_write(1, L("x"), 1), 1);                           /* fds 0-2 need none */
    OK(strcmp(slurp("/etc/conf"), "c") == 0);                 /* the first lookup builds it */
    OK(fs_root != NULL);
    EQ(fs_map_program(&data, &size), 0);                      /* now through the tree */
    EQ(size, 7);

    /* A link in the archive: the program is looked up in the tree (here through a symlink). */
    struct cpio d = { 0 };
    cpio_add(&d, "real", 0100755, "REAL", 4, 1);
    cpio_add(&d, "prog", 0120777, "real", 4, 1);
    cpio_trailer(&d);
    EQ(fs_init(d.buf, d.len), 0);
    EQ(fs_map_program(&data, &size), 0);
    EQ(size, 4);
    OK(memcmp(data, "REAL", 4) == 0);
    OK(fs_root != NULL);
    cpio_free(&c);
    cpio_free(&d);
    boot_fs();
}

static void run(const char *name, void (*fn)(void))
{
    test_ok = true;
    fn();
    printf("%s %s\n", test_ok ? "PASS" : "FAIL", name);
    failed += !test_ok;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    build_initrd();
    boot_fs();
    run("lookup and read", t_lookup_and_read);
    run("write copies on write and grows", t_write_cow);
    run("create, O_TRUNC, O_APPEND, O_EXCL", t_create_trunc_append);
    run("ENOENT, ENOTDIR, EISDIR, EBADF, ENAMETOOLONG", t_errors);
    run("EFAULT on bad user memory", t_efault);
    run("getdents64", t_getdents);
    run("mkdir, rename, unlink, rmdir, getcwd", t_names);
    run("symlinks, ELOOP, /proc/self/exe", t_symlinks);
    run("dup, dup2, dup3, fcntl, close_range", t_dup_fcntl);
    run("pipes and poll", t_pipes);
    run("console and devices", t_console_and_devices);
    run("stat, statx, access, chmod, utimensat, statfs, readv", t_stat_family);
    run("file_read_at and fs_chdir_kernel", t_file_read_at);
    run("the tree is built on first use; the program is found in place", t_lazy_tree);
    run("malformed initrd rejected", t_malformed_cpio);
    run("damaged initrds: rejected or accepted, never a crash", t_cpio_fuzz);
    run("random syscalls: never a crash", t_syscall_fuzz);
    printf("%s: %d test(s) failed\n", failed ? "FAIL" : "PASS", failed);
    cpio_free(&initrd);
    return failed ? 1 : 0;
}
