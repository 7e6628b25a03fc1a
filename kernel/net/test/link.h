/* A fake Ethernet link between two stacks, with deterministic loss, duplication, reordering
 * and corruption; and a capture interface that records what one stack transmits. */
#ifndef LINK_H
#define LINK_H
#include <stdbool.h>
#include "net.h"

struct fq_frame {
    struct fq_frame *next;
    size_t len;
    uint8_t data[];
};
struct fq {
    struct fq_frame *head, *tail;
    int count;
};

struct host {
    struct netif nif;
    struct net_stack *st;
    struct link *link;
    int side;                 /* 0 = a, 1 = b */
    struct fq captured;       /* capture mode: transmitted frames land here */
};

struct impair {
    int loss, dup, reorder, corrupt;   /* per mille */
};

struct link {
    struct host a, b;
    struct fq q[2];           /* q[i]: frames on their way to side i */
    struct impair imp;
    uint64_t rng;
    uint64_t latency_ns;      /* added per delivery round */
    uint64_t frames, dropped, duplicated, reordered, corrupted;
};

extern uint64_t link_seed;
extern int link_trace;          /* print every TCP segment sent */     /* the impairment generator's seed for new links */
void host_capture_init(struct host *h, uint32_t ip, uint8_t mac_last);
void host_free(struct host *h);
void link_init(struct link *l, uint32_t ipa, uint32_t ipb);
void link_free(struct link *l);
/* Delivers the frames in flight (once) and polls both stacks. Returns frames delivered. */
int link_pump(struct link *l);
/* Calls step() and pumps until step returns true; when the link is idle, time jumps to the
 * next stack deadline. false if max_ns of fake time passed or nothing can happen any more. */
bool link_run(struct link *l, bool (*step)(void *), void *arg, uint64_t max_ns);
void fq_push(struct fq *q, const void *data, size_t len);
struct fq_frame *fq_pop(struct fq *q);
void fq_clear(struct fq *q);
#endif
