/*
 * Pipes: a PIPE_BUF_SIZE ring shared by a read end and a write end. With one thread nothing
 * can change a pipe while a call waits, so no call ever waits. An empty pipe gives -EAGAIN
 * with O_NONBLOCK; without it, end-of-file (0), also while a write end is open: on Linux the
 * one thread would wait forever, and ending the read lets the usual "read until 0" loops
 * finish with the data that was written. A full pipe takes what fits and gives -EAGAIN when
 * nothing fits (blocking or not: waiting would never end); with no reader left, -EPIPE.
 */
#include "fsimpl.h"

struct pipe {
    uint8_t *buf;
    size_t head;     /* index of the oldest byte */
    size_t len;      /* bytes in the ring */
    uint32_t readers, writers;
};

long pipe_create(struct file **rd, struct file **wr, uint32_t flags)
{
    struct pipe *p = kzalloc(sizeof(*p));
    struct inode *ino = inode_new(S_IFIFO | 0600);
    uint8_t *buf = kmalloc(PIPE_BUF_SIZE);
    if (!p || !ino || !buf)
        goto fail;
    ino->nlink = 0;   /* anonymous: freed with its last file */
    p->buf = buf;
    uint32_t nb = flags & O_NONBLOCK;
    *rd = file_new(FILE_PIPE_R, O_RDONLY | nb, ino);
    if (!*rd)
        goto fail;
    *wr = file_new(FILE_PIPE_W, O_WRONLY | nb, ino);
    if (!*wr) {
        (*rd)->pipe = NULL;
        file_put(*rd);
        goto fail_noino;
    }
    (*rd)->pipe = (*wr)->pipe = p;
    p->readers = p->writers = 1;
    return 0;
fail:
    if (ino) {
        ino->nlink = 1;
        inode_drop_link(ino);
    }
fail_noino:
    kfree(buf);
    kfree(p);
    return -ENOMEM;
}

size_t pipe_avail(struct file *f)
{
    return f->pipe->len;
}

long pipe_read(struct file *f, void *buf, size_t n)
{
    struct pipe *p = f->pipe;
    if (n == 0)
        return 0;
    if (p->len == 0)
        return p->writers && (f->flags & O_NONBLOCK) ? -EAGAIN : 0;
    size_t done = 0;
    n = MIN(n, p->len);
    while (done < n) {
        size_t chunk = MIN(n - done, PIPE_BUF_SIZE - p->head);
        memcpy((uint8_t *)buf + done, p->buf + p->head, chunk);
        p->head = (p->head + chunk) % PIPE_BUF_SIZE;
        p->len -= chunk;
        done += chunk;
    }
    return (long)done;
}

long pipe_write(struct file *f, const void *buf, size_t n)
{
    struct pipe *p = f->pipe;
    if (p->readers == 0)
        return -EPIPE;
    if (n == 0)
        return 0;
    size_t space = PIPE_BUF_SIZE - p->len;
    if (space == 0)
        return -EAGAIN;
    n = MIN(n, space);
    size_t done = 0;
    while (done < n) {
        size_t tail = (p->head + p->len) % PIPE_BUF_SIZE;
        size_t chunk = MIN(n - done, PIPE_BUF_SIZE - tail);
        memcpy(p->buf + tail, (const uint8_t *)buf + done, chunk);
        p->len += chunk;
        done += chunk;
    }
    return (long)done;
}

int pipe_poll(struct file *f, int events)
{
    struct pipe *p = f->pipe;
    int rev = 0;
    if (f->kind == FILE_PIPE_R) {
        if (p->len)
            rev |= POLLIN | POLLRDNORM;
        if (!p->writers)
            rev |= POLLHUP;
    } else {
        if (p->len < PIPE_BUF_SIZE)
            rev |= POLLOUT | POLLWRNORM;
        if (!p->readers)
            rev |= POLLERR;
    }
    return rev & (events | POLLHUP | POLLERR);
}

/* One end's last description went away. */
void pipe_close(struct file *f)
{
    struct pipe *p = f->pipe;
    if (!p)
        return;
    if (f->kind == FILE_PIPE_R)
        p->readers--;
    else
        p->writers--;
    if (!p->readers && !p->writers) {
        kfree(p->buf);
        kfree(p);
    }
}
