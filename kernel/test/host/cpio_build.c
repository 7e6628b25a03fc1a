/* Writes cpio "newc" members (110-byte hex header, name, data, each padded to 4 bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpio_build.h"

static uint32_t next_ino = 1000;

static void put(struct cpio *c, const void *p, size_t n)
{
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2 + 256;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

static void pad4(struct cpio *c)
{
    static const char zeros[4];
    put(c, zeros, (4 - c->len % 4) % 4);
}

static void member(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t n,
                   uint32_t mtime, uint32_t ino, uint32_t nlink)
{
    char hdr[111];
    size_t namesize = strlen(name) + 1;
    snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
             ino, mode, 0u, 0u, nlink, mtime, (unsigned)n, 0u, 0u, 0u, 0u,
             (unsigned)namesize, 0u);
    put(c, hdr, 110);
    put(c, name, namesize);
    pad4(c);
    put(c, data, n);
    pad4(c);
}

void cpio_add(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t n,
              uint32_t mtime)
{
    member(c, name, mode, data, n, mtime, next_ino++, (mode & 0170000) == 0040000 ? 2 : 1);
}

void cpio_add_link(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t n,
                   uint32_t ino, uint32_t nlink)
{
    member(c, name, mode, data, n, 1, ino, nlink);
}

void cpio_trailer(struct cpio *c)
{
    member(c, "TRAILER!!!", 0, "", 0, 0, 0, 1);
}

void cpio_free(struct cpio *c)
{
    free(c->buf);
    memset(c, 0, sizeof(*c));
}
