/*
 * The root directory from the initrd, a cpio "newc" archive (see docs/guest-abi.md).
 * fs_init checks every header, name and data length against the archive's end at boot; a
 * malformed archive is rejected with one "unikit: initrd: " line. The tree itself is built on
 * first use (fs_tree_ready): under TCG each new code path costs microseconds, and a program
 * that never names a file (hello) should not pay for building one. The loader finds the
 * program in the archive in place (fs_map_program). File data is not copied: inodes borrow it from
 * the initrd until first written.
 */
#include "fsimpl.h"
#include "unikit_abi.h"

#define HDR_LEN 110
#define MAX_HARDLINKS 64

struct cpio_hdr {
    uint32_t ino, mode, nlink, mtime, filesize, namesize;
};

/* Archive members with nlink > 1 seen so far, by their cpio inode number. */
static struct {
    uint32_t cpio_ino;
    struct inode *ino;
} hardlinks[MAX_HARDLINKS];
static size_t nhardlinks;

/* The archive fs_init checked; the tree is built from it when fs_root is first needed. */
static const uint8_t *archive;
static size_t archive_len;
/* No symlinks and no hard links: a regular file is exactly the last member of its name. */
static bool archive_plain;
/* The program's member (the last named as fs_exe_path says), noted by fs_init's check. */
static bool exe_in_place;
static const uint8_t *exe_data;
static size_t exe_size;

static long bad(const char *what, size_t off)
{
    kprintf("unikit: initrd: %s at byte %lu\n", what, (unsigned long)off);
    return -EINVAL;
}

static bool hex8(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* Fields: magic(6) ino mode uid gid nlink mtime filesize devmaj devmin rdevmaj rdevmin namesize check */
static bool parse_hdr(const char *p, struct cpio_hdr *h)
{
    uint32_t f[13];
    if (memcmp(p, "070701", 6) != 0 && memcmp(p, "070702", 6) != 0)
        return false;
    for (int i = 0; i < 13; i++)
        if (!hex8(p + 6 + 8 * i, &f[i]))
            return false;
    h->ino = f[0];
    h->mode = f[1];
    h->nlink = f[4];
    h->mtime = f[5];
    h->filesize = f[6];
    h->namesize = f[11];
    return true;
}

/* A member under a symlink to a directory (lib -> usr/lib, then lib/x) goes into the target. */
static struct inode *follow_dir(struct inode *dir, const char *name)
{
    struct lookup lk;
    if (path_lookup(dir, name, LOOKUP_FOLLOW, &lk) || !lk.ino || !S_ISDIR(lk.ino->mode))
        return NULL;
    return lk.ino;
}

/* Walks (and creates) the directories of `path`, leaving the last component in *name. */
static long make_parents(char *path, struct inode **dir, const char **name)
{
    struct inode *cur = fs_root;
    char *s = path;
    for (char *p = path; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (*s && strcmp(s, ".") != 0) {
            struct dentry *d = dir_find(cur, s, strlen(s));
            struct inode *next = d ? d->ino : NULL;
            if (!next) {
                next = inode_new(S_IFDIR | 0755);
                if (!next || dir_add(cur, s, strlen(s), next, false))
                    return -ENOMEM;
            } else if (!S_ISDIR(next->mode)) {
                next = follow_dir(cur, s);
                if (!next)
                    return -ENOTDIR;
            }
            cur = next;
        }
        s = p + 1;
    }
    *dir = cur;
    *name = s;
    return 0;
}

/* Normalizes an archive name in place: no leading "./" or "/", no trailing "/". */
static char *clean_name(char *name)
{
    for (;;) {
        if (name[0] == '/')
            name++;
        else if (name[0] == '.' && name[1] == '/')
            name += 2;
        else
            break;
    }
    size_t len = strlen(name);
    while (len && name[len - 1] == '/')
        name[--len] = 0;
    return name;
}

static bool has_dotdot(const char *name)
{
    const char *p = name;
    while (*p) {
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == 0))
            return true;
        while (*p && *p != '/')
            p++;
        while (*p == '/')
            p++;
    }
    return false;
}

static struct inode *find_hardlink(uint32_t cpio_ino)
{
    for (size_t i = 0; i < nhardlinks; i++)
        if (hardlinks[i].cpio_ino == cpio_ino)
            return hardlinks[i].ino;
    return NULL;
}

static void remember_hardlink(uint32_t cpio_ino, struct inode *ino)
{
    if (nhardlinks < MAX_HARDLINKS) {
        hardlinks[nhardlinks].cpio_ino = cpio_ino;
        hardlinks[nhardlinks++].ino = ino;
    }
}

static void forget_hardlink(struct inode *ino)
{
    for (size_t i = 0; i < nhardlinks; i++)
        if (hardlinks[i].ino == ino)
            hardlinks[i] = hardlinks[--nhardlinks];
}

static void set_times(struct inode *ino, uint32_t mtime)
{
    ino->atime.sec = ino->mtime.sec = ino->ctime.sec = mtime;
    ino->atime.nsec = ino->mtime.nsec = ino->ctime.nsec = 0;
}

/* Attaches the member's inode (new, or a hard link to one seen earlier). */
static long add_member(struct inode *dir, const char *name, const struct cpio_hdr *h,
                       const uint8_t *data)
{
    size_t len = strlen(name);
    struct dentry *old = dir_find(dir, name, len);
    if (old && S_ISDIR(old->ino->mode) && S_ISDIR(h->mode)) {
        old->ino->mode = h->mode;
        set_times(old->ino, h->mtime);
        return 0;
    }
    if (old) {   /* a later member replaces an earlier one */
        struct inode *o = old->ino;
        dir_remove(dir, old);
        if (o->nlink <= 1)
            forget_hardlink(o);
        inode_drop_link(o);
    }
    struct inode *ino = S_ISREG(h->mode) && h->nlink > 1 ? find_hardlink(h->ino) : NULL;
    if (ino) {
        ino->nlink++;
    } else {
        ino = inode_new(h->mode);
        if (!ino)
            return -ENOMEM;
        if (S_ISREG(h->mode) && h->nlink > 1)
            remember_hardlink(h->ino, ino);
    }
    if (h->filesize) {   /* newc puts a hard link set's data on its last member */
        ino->data = (uint8_t *)data;
        ino->size = h->filesize;
    }
    set_times(ino, h->mtime);
    return dir_add(dir, name, len, ino, false);
}

static bool supported_type(uint32_t mode)
{
    return S_ISREG(mode) | S_ISDIR(mode) | S_ISLNK(mode);
}

/* Copies a member's name and normalizes it; NULL when it does not fit. */
static char *member_name(const char *raw, size_t namelen)
{
    static char buf[PATH_MAX_LEN];
    if (namelen >= sizeof(buf))
        return NULL;
    memcpy(buf, raw, namelen);
    buf[namelen] = 0;
    return clean_name(buf);
}

/* Checks one member (build false) or adds it to the tree (build true). Names are copied since
 * make_parents cuts them into pieces. */
static long add_entry(const char *raw, size_t namelen, const struct cpio_hdr *h,
                      const uint8_t *data, size_t off, bool build)
{
    /* The check reads a plain name (no leading "/" or ".", no trailing "/") where it lies; the
     * build cuts names into pieces, so it works on a normalized copy. */
    bool plain = !build & (namelen < PATH_MAX_LEN) & (raw[0] != '/') & (raw[0] != '.') &
                 (raw[namelen ? namelen - 1 : 0] != '/');
    char *copy = plain ? NULL : member_name(raw, namelen);
    const char *name = plain ? raw : copy;
    if (!name)
        return bad("name too long", off);
    if (has_dotdot(name))
        return bad("name with \"..\"", off);
    bool root = !*name || strcmp(name, ".") == 0;
    if (!build) {
        /* Joined with & and |: one branch each (each branch taken is translation work under
         * TCG, and this runs at every boot). */
        bool supported = supported_type(h->mode);
        if (!root & !supported)
            kprintf("unikit: initrd: skipping \"%s\" (mode %o: not a file, directory or symlink)\n",
                    name, h->mode);
        archive_plain &= !S_ISLNK(h->mode) & !(S_ISREG(h->mode) & (h->nlink > 1));
        if (!root & supported && strcmp(name, fs_exe_path() + 1) == 0) {
            exe_in_place = S_ISREG(h->mode);
            exe_data = h->filesize ? data : (const uint8_t *)"";
            exe_size = h->filesize;
        }
        return 0;
    }
    if (root) {   /* the root itself */
        if (S_ISDIR(h->mode)) {
            fs_root->mode = h->mode;
            set_times(fs_root, h->mtime);
        }
        return 0;
    }
    if (!supported_type(h->mode))
        return 0;
    struct inode *dir;
    const char *last;
    long r = make_parents(copy, &dir, &last);
    if (r == -ENOTDIR)
        return bad("a parent of a member is not a directory", off);
    if (r == 0)
        r = add_member(dir, last, h, data);
    if (r == -ENOMEM)
        kprintf("unikit: initrd: out of memory\n");
    return r;
}

/* Parses the member at *off and checks or adds it; sets *done at the trailer. */
static long parse_member(const uint8_t *base, size_t len, size_t *off, bool *done, bool build)
{
    size_t at = *off;
    struct cpio_hdr h;
    if (len - at < HDR_LEN)
        return bad("truncated header", at);
    if (!parse_hdr((const char *)base + at, &h))
        return bad("bad magic or header (not cpio newc)", at);
    size_t name_at = at + HDR_LEN;
    if (h.namesize == 0 || h.namesize > len - name_at)
        return bad("truncated name", name_at);
    const char *name = (const char *)base + name_at;
    if (name[h.namesize - 1] != 0)
        return bad("name not terminated", name_at);
    size_t data_at = ALIGN_UP(name_at + h.namesize, 4);
    if (data_at > len || h.filesize > len - data_at)
        return bad("truncated data", data_at);
    *off = ALIGN_UP(data_at + h.filesize, 4);
    if (*off > len)
        *off = len;
    if (strcmp(name, "TRAILER!!!") == 0) {
        *done = true;
        return 0;
    }
    return add_entry(name, h.namesize - 1, &h, base + data_at, at, build);
}

/* One pass over the whole archive: checks it, or builds the tree from it. */
static long walk_archive(bool build)
{
    size_t off = 0;
    bool done = archive_len == 0;   /* no initrd: an empty root */
    long r = 0;
    while (!done && r == 0) {
        if (off >= archive_len)
            return bad("archive ends without a TRAILER!!! member", off);
        r = parse_member(archive, archive_len, &off, &done, build);
    }
    return r;
}

static long make_root(void)
{
    fs_root = inode_new(S_IFDIR | 0755);
    if (!fs_root)
        return -ENOMEM;
    fs_root->parent = fs_root;
    fs_root->nlink = 2;
    return fs_set_cwd(fs_root);
}

static long make_tmp(void)
{
    struct dentry *d = dir_find(fs_root, "tmp", 3);
    if (d)
        return 0;
    struct inode *tmp = inode_new(S_IFDIR | 01777);
    if (!tmp)
        return -ENOMEM;
    return dir_add(fs_root, "tmp", 3, tmp, false);
}

long fs_init(const void *cpio, size_t len)
{
    archive = cpio;
    archive_len = len;
    archive_plain = true;
    exe_in_place = false;
    fs_root = NULL;
    return walk_archive(false);
}

long fs_build(void)
{
    if (fs_root)
        return 0;
    long r = make_root();
    if (r)
        return r;
    nhardlinks = 0;
    fs_times_frozen = true;
    r = walk_archive(true);
    if (r == 0)
        r = make_tmp();
    if (r == 0)
        dev_make_nodes();
    fs_times_frozen = false;
    return r;
}

void fs_tree_ready(void)
{
    if (!fs_root && fs_build())
        vm_exit(UNIKIT_STATUS_LOAD_ERROR, UNIKIT_EXIT_REASON_LOAD);
}

bool fs_program_in_place(const void **data, size_t *size)
{
    if (fs_root || !archive_plain || !exe_in_place)
        return false;
    *data = exe_data;
    *size = exe_size;
    return true;
}
