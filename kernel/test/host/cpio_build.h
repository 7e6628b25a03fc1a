/* Builds cpio "newc" archives in memory for the tests (no cpio tool needed). */
#ifndef CPIO_BUILD_H
#define CPIO_BUILD_H

#include <stddef.h>
#include <stdint.h>

struct cpio {
    unsigned char *buf;
    size_t len, cap;
};

void cpio_add(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t n,
              uint32_t mtime);
void cpio_add_link(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t n,
                   uint32_t ino, uint32_t nlink);
void cpio_trailer(struct cpio *c);
void cpio_free(struct cpio *c);

#endif
