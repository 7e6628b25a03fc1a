/*
 * ARP (RFC 826) for IPv4 over Ethernet: a small cache of next hops with timeouts, replies to
 * requests for our address, requests (with retries) for unknown next hops while their frames
 * wait in a short queue, cache updates from any ARP naming a known sender (which covers
 * gratuitous ARP), a gratuitous announcement of our own address, and re-resolution of a next
 * hop that upper layers report as not answering (a stale or wrong entry heals itself).
 */
#include "net_internal.h"

#define ARP_LEN 28
enum { ARP_FREE, ARP_PENDING, ARP_OK };

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void send_arp(struct net_stack *st, uint16_t op, const uint8_t tha[6], uint32_t tpa, const uint8_t dst[6]) {
    struct netif *nif = st->nif;
    uint8_t frame[64];
    uint8_t *a = frame + ETH_HLEN;
    wr16(a, 1);
    wr16(a + 2, ETH_P_IPV4);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, op);
    memcpy(a + 8, nif->mac, 6);
    wr32(a + 14, nif->ip);
    memcpy(a + 18, tha, 6);
    wr32(a + 24, tpa);
    eth_output(st, frame, ETH_HLEN + ARP_LEN, dst, ETH_P_ARP);
}

static struct arp_entry *find(struct net_stack *st, uint32_t ip) {
    for (int i = 0; i < NET_ARP_ENTRIES; i++)
        if (st->arp[i].state != ARP_FREE && st->arp[i].ip == ip)
            return &st->arp[i];
    return NULL;
}

static void drop_queue(struct net_stack *st, struct arp_entry *e) {
    for (int i = 0; i < e->nq; i++) {
        net_free(st, e->q[i], e->qlen[i] < 60 ? 60 : e->qlen[i]);
        st->nif->stats.tx_dropped++;
    }
    e->nq = 0;
}

static void release(struct net_stack *st, struct arp_entry *e) {
    drop_queue(st, e);
    memset(e, 0, sizeof *e);
}

/* A free slot, or the one closest to expiring (resolved entries before pending ones). */
static struct arp_entry *slot(struct net_stack *st) {
    struct arp_entry *victim = NULL;
    for (int i = 0; i < NET_ARP_ENTRIES; i++) {
        struct arp_entry *e = &st->arp[i];
        if (e->state == ARP_FREE)
            return e;
        if (!victim || (e->state == ARP_OK && victim->state == ARP_PENDING) ||
            (e->state == victim->state && e->expires < victim->expires))
            victim = e;
    }
    release(st, victim);
    return victim;
}

static void resolved(struct net_stack *st, struct arp_entry *e, const uint8_t mac[6]) {
    memcpy(e->mac, mac, 6);
    e->state = ARP_OK;
    e->tries = 0;
    e->expires = st->now + ARP_REACHABLE;
    net_arm(st, e->expires);
    for (int i = 0; i < e->nq; i++) {
        size_t alloc = e->qlen[i] < 60 ? 60 : e->qlen[i];
        eth_output(st, e->q[i], e->qlen[i], mac, ETH_P_IPV4);
        net_free(st, e->q[i], alloc);
    }
    e->nq = 0;
}

void arp_input(struct net_stack *st, const uint8_t *a, size_t len) {
    struct netif *nif = st->nif;
    if (len < ARP_LEN || rd16(a) != 1 || rd16(a + 2) != ETH_P_IPV4 || a[4] != 6 || a[5] != 4) {
        nif->stats.rx_dropped++;
        return;
    }
    uint16_t op = rd16(a + 6);
    const uint8_t *sha = a + 8;
    uint32_t spa = rd32(a + 14);
    uint32_t tpa = rd32(a + 24);
    if (op != 1 && op != 2) {
        nif->stats.rx_dropped++;
        return;
    }
    if (memcmp(sha, bcast_mac, 6) == 0 || (sha[0] & 1)) {
        nif->stats.rx_dropped++;              /* a multicast sender address is bogus */
        return;
    }
    if (spa == nif->ip && nif->ip) {
        if (memcmp(sha, nif->mac, 6) != 0)
            kprintf("unikit: net: another host (%02x:%02x:%02x:%02x:%02x:%02x) claims our address\n",
                    sha[0], sha[1], sha[2], sha[3], sha[4], sha[5]);
        return;
    }
    bool merged = false;
    if (spa != 0) {
        struct arp_entry *e = find(st, spa);
        if (e) {
            resolved(st, e, sha);             /* RFC 826 merge; gratuitous ARP lands here */
            merged = true;
        }
    }
    if (tpa != nif->ip || !nif->ip)
        return;
    if (!merged && spa != 0) {
        struct arp_entry *e = slot(st);
        e->ip = spa;
        resolved(st, e, sha);
    }
    if (op == 1)
        send_arp(st, 2, sha, spa, sha);
}

void arp_output(struct net_stack *st, uint8_t *frame, size_t len, uint32_t next_hop) {
    struct netif *nif = st->nif;
    uint32_t bcast = nif->ip | ~nif->netmask;
    if (next_hop == NET_IP_BROADCAST || (next_hop == bcast && nif->netmask != 0xffffffffu)) {
        eth_output(st, frame, len, bcast_mac, ETH_P_IPV4);
        return;
    }
    struct arp_entry *e = find(st, next_hop);
    if (e && e->state == ARP_OK) {
        eth_output(st, frame, len, e->mac, ETH_P_IPV4);
        return;
    }
    bool fresh = !e;
    if (!e) {
        e = slot(st);
        e->ip = next_hop;
        e->state = ARP_PENDING;
        e->tries = 1;
        e->expires = st->now + ARP_RETRY;
        net_arm(st, e->expires);
    }
    if (e->nq == NET_ARP_QUEUE) {             /* full: the oldest frame makes room */
        net_free(st, e->q[0], e->qlen[0] < 60 ? 60 : e->qlen[0]);
        nif->stats.tx_dropped++;
        memmove(&e->q[0], &e->q[1], sizeof e->q[0] * (NET_ARP_QUEUE - 1));
        memmove(&e->qlen[0], &e->qlen[1], sizeof e->qlen[0] * (NET_ARP_QUEUE - 1));
        e->nq--;
    }
    size_t alloc = len < 60 ? 60 : len;
    void *copy = net_alloc(st, alloc);
    if (copy) {
        memcpy(copy, frame, len);
        e->q[e->nq] = copy;
        e->qlen[e->nq] = (uint16_t)len;
        e->nq++;
    } else {
        nif->stats.tx_dropped++;
    }
    if (fresh) {
        static const uint8_t zero[6];
        send_arp(st, 1, zero, next_hop, bcast_mac);
    }
}

void arp_suspect(struct net_stack *st, uint32_t ip) {
    struct arp_entry *e = find(st, ip);
    if (e && e->state == ARP_OK)
        release(st, e);                       /* resolved afresh on the next send */
}

void arp_announce(struct net_stack *st) {
    static const uint8_t zero[6];
    if (st->nif && st->nif->ip)
        send_arp(st, 1, zero, st->nif->ip, bcast_mac);   /* gratuitous: target = sender */
}

void arp_timers(struct net_stack *st) {
    static const uint8_t zero[6];
    for (int i = 0; i < NET_ARP_ENTRIES; i++) {
        struct arp_entry *e = &st->arp[i];
        if (e->state == ARP_FREE || e->expires > st->now)
            continue;
        if (e->state == ARP_OK || e->tries >= ARP_TRIES) {
            release(st, e);                   /* stale, or no answer: frames are dropped */
            continue;
        }
        e->tries++;
        e->expires = st->now + ARP_RETRY;
        net_arm(st, e->expires);
        send_arp(st, 1, zero, e->ip, bcast_mac);
    }
}

void arp_clear(struct net_stack *st) {
    for (int i = 0; i < NET_ARP_ENTRIES; i++)
        if (st->arp[i].state != ARP_FREE)
            release(st, &st->arp[i]);
}
