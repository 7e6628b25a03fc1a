/*
 * A byte FIFO made of chunks allocated as data arrives and freed as it is consumed, so an idle
 * connection holds no buffer memory. TCP uses one for the send queue (bytes from snd_una on, read
 * again for retransmission) and one for in-order received data.
 */
#include "net_internal.h"

#define BQ_CHUNK_BYTES 2048          /* a chunk's whole allocation, header included */

struct bq_chunk {
    struct bq_chunk *next;
    uint32_t start, end, cap;        /* live bytes are data[start, end) */
    uint8_t data[];
};

static size_t chunk_alloc_size(const struct bq_chunk *c) { return sizeof *c + c->cap; }

size_t bq_append(struct net_stack *st, struct bq *q, const void *src, size_t n) {
    const uint8_t *p = src;
    size_t done = 0;
    while (done < n) {
        struct bq_chunk *t = q->tail;
        if (!t || t->end == t->cap) {
            size_t want = n - done;
            size_t cap = BQ_CHUNK_BYTES - sizeof(struct bq_chunk);
            if (want < cap)
                cap = want < 256 ? 256 : want;
            t = net_alloc(st, sizeof *t + cap);
            if (!t)
                break;
            t->next = NULL;
            t->start = t->end = 0;
            t->cap = (uint32_t)cap;
            if (q->tail)
                q->tail->next = t;
            else
                q->head = t;
            q->tail = t;
        }
        size_t k = MIN(n - done, (size_t)(t->cap - t->end));
        memcpy(t->data + t->end, p + done, k);
        t->end += (uint32_t)k;
        done += k;
    }
    q->len += done;
    return done;
}

void bq_copy(const struct bq *q, size_t off, void *dst, size_t n) {
    uint8_t *d = dst;
    const struct bq_chunk *c = q->head;
    while (c && off >= c->end - c->start) {
        off -= c->end - c->start;
        c = c->next;
    }
    while (c && n) {
        size_t k = MIN(n, (size_t)(c->end - c->start) - off);
        memcpy(d, c->data + c->start + off, k);
        d += k;
        n -= k;
        off = 0;
        c = c->next;
    }
}

void bq_drop(struct net_stack *st, struct bq *q, size_t n) {
    if (n > q->len)
        n = q->len;
    q->len -= n;
    while (n && q->head) {
        struct bq_chunk *c = q->head;
        size_t k = MIN(n, (size_t)(c->end - c->start));
        c->start += (uint32_t)k;
        n -= k;
        if (c->start == c->end) {
            q->head = c->next;
            if (!q->head)
                q->tail = NULL;
            net_free(st, c, chunk_alloc_size(c));
        }
    }
}

void bq_clear(struct net_stack *st, struct bq *q) {
    while (q->head) {
        struct bq_chunk *c = q->head;
        q->head = c->next;
        net_free(st, c, chunk_alloc_size(c));
    }
    q->tail = NULL;
    q->len = 0;
}
