/*
 * The fake link: frames one stack transmits are queued for the other and delivered by
 * link_pump, never from inside the transmit callback (as a real driver would). Impairments are
 * drawn from the link's own deterministic generator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "link.h"
#include "shim.h"

uint64_t link_seed = 0x1234567887654321ull;
int link_trace;

void fq_push(struct fq *q, const void *data, size_t len) {
    struct fq_frame *f = malloc(sizeof *f + len);
    f->next = NULL;
    f->len = len;
    memcpy(f->data, data, len);
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->count++;
}

struct fq_frame *fq_pop(struct fq *q) {
    struct fq_frame *f = q->head;
    if (f) {
        q->head = f->next;
        if (!q->head)
            q->tail = NULL;
        q->count--;
    }
    return f;
}

void fq_clear(struct fq *q) {
    struct fq_frame *f;
    while ((f = fq_pop(q)))
        free(f);
}

static uint32_t lrand(struct link *l) {
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    return (uint32_t)(l->rng >> 11);
}

static int capture_tx(struct netif *nif, const void *frame, size_t len) {
    struct host *h = nif->driver;
    fq_push(&h->captured, frame, len);
    return 0;
}

static int link_tx(struct netif *nif, const void *frame, size_t len) {
    struct host *h = nif->driver;
    struct link *l = h->link;
    if (!l)
        return 0;                       /* the announcement made before the link is joined */
    struct fq *q = &l->q[1 - h->side];
    l->frames++;
    if (link_trace) {
        const uint8_t *f = frame, *ip = f + 14;
        if (len >= 42 && f[12] == 8 && f[13] == 6)
            fprintf(stderr, "t=%.4f %c ARP op=%d dst=%02x sha=%02x:%02x spa=%d.%d.%d.%d tpa=%d.%d.%d.%d\n", (double)shim_now / 1e9,
                    'A' + h->side, ip[7], f[5], ip[12], ip[13], ip[14], ip[15], ip[16], ip[17], ip[24], ip[25], ip[26], ip[27]);
        if (len >= 54 && f[12] == 8 && f[13] == 0 && ip[9] == 6) {
            const uint8_t *t = ip + (ip[0] & 15) * 4;
            unsigned tl = (unsigned)(((ip[2] << 8) | ip[3]) - (ip[0] & 15) * 4);
            fprintf(stderr, "t=%.4f %c seq=%u ack=%u fl=%02x len=%u win=%u\n", (double)shim_now / 1e9, 'A' + h->side,
                    (unsigned)(((unsigned)t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]),
                    (unsigned)(((unsigned)t[8] << 24) | (t[9] << 16) | (t[10] << 8) | t[11]), t[13], tl - (t[12] >> 4) * 4,
                    (unsigned)((t[14] << 8) | t[15]));
        }
    }
    if (l->imp.loss && (int)(lrand(l) % 1000) < l->imp.loss) {
        l->dropped++;
        if (link_trace)
            fprintf(stderr, "  (lost)\n");
        return 0;
    }
    int copies = 1;
    if (l->imp.dup && (int)(lrand(l) % 1000) < l->imp.dup) {
        copies = 2;
        l->duplicated++;
    }
    for (int c = 0; c < copies; c++) {
        fq_push(q, frame, len);
        if (l->imp.corrupt && (int)(lrand(l) % 1000) < l->imp.corrupt) {
            uint8_t *d = q->tail->data;
            d[14 + lrand(l) % (len - 14)] ^= (uint8_t)(1u << (lrand(l) % 8));
            l->corrupted++;
            if (link_trace)
                fprintf(stderr, "  (corrupted)\n");
        }
        if (l->imp.reorder && q->count >= 2 && (int)(lrand(l) % 1000) < l->imp.reorder) {
            /* swap the last two frames' contents */
            struct fq_frame *prev = q->head;
            while (prev->next != q->tail)
                prev = prev->next;
            struct fq_frame *last = q->tail;
            prev->next = NULL;
            q->tail = prev;
            q->count--;
            /* re-insert last before prev */
            struct fq_frame **pp = &q->head;
            while (*pp != prev)
                pp = &(*pp)->next;
            last->next = prev;
            *pp = last;
            q->count++;
            l->reordered++;
        }
    }
    return 0;
}

static void host_setup(struct host *h, uint32_t ip, uint8_t mac_last, int (*tx)(struct netif *, const void *, size_t)) {
    memset(h, 0, sizeof *h);
    uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, mac_last};
    memcpy(h->nif.mac, mac, 6);
    net_default_config(&h->nif);
    if (net_configure(&h->nif, ip, NET_IP(255, 255, 255, 0), (ip & 0xffffff00u) | 254, 0) != 0) {
        fprintf(stderr, "net_configure failed\n");
        exit(2);
    }
    h->nif.transmit = tx;
    h->nif.driver = h;
    h->st = net_create(&h->nif);
}

void host_capture_init(struct host *h, uint32_t ip, uint8_t mac_last) { host_setup(h, ip, mac_last, capture_tx); }

void host_free(struct host *h) {
    net_destroy(h->st);
    h->st = NULL;
    fq_clear(&h->captured);
}

void link_init(struct link *l, uint32_t ipa, uint32_t ipb) {
    memset(l, 0, sizeof *l);
    l->rng = link_seed;
    host_setup(&l->a, ipa, 1, link_tx);
    host_setup(&l->b, ipb, 2, link_tx);
    l->a.link = l->b.link = l;
    l->a.side = 0;
    l->b.side = 1;
}

void link_free(struct link *l) {
    host_free(&l->a);
    host_free(&l->b);
    fq_clear(&l->q[0]);
    fq_clear(&l->q[1]);
}

int link_pump(struct link *l) {
    int n = 0;
    for (int side = 0; side < 2; side++) {
        struct host *h = side ? &l->b : &l->a;
        int count = l->q[side].count;
        while (count-- > 0) {
            struct fq_frame *f = fq_pop(&l->q[side]);
            if (!f)
                break;
            net_input(&h->nif, f->data, f->len);
            free(f);
            n++;
        }
    }
    net_poll(l->a.st, shim_now);
    net_poll(l->b.st, shim_now);
    if (n)
        shim_now += l->latency_ns;
    return n;
}

bool link_run(struct link *l, bool (*step)(void *), void *arg, uint64_t max_ns) {
    uint64_t end = shim_now + max_ns;
    for (;;) {
        if (step && step(arg))
            return true;
        int n = link_pump(l);
        if (n || l->q[0].count || l->q[1].count)
            continue;
        if (step && step(arg))
            return true;
        uint64_t da = net_next_deadline_ns(l->a.st), db = net_next_deadline_ns(l->b.st);
        uint64_t d = da < db ? da : db;
        if (d == UINT64_MAX)
            return step ? step(arg) : true;
        if (d <= shim_now)
            d = shim_now + 1;
        if (d > end)
            return false;
        shim_now = d;
    }
}
