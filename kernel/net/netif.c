/*
 * The stack as a whole: creating and destroying it, the interface's address configuration
 * (QEMU user-network defaults, command-line parsing), the entry points a driver and the
 * syscall loop call (net_input, net_poll, net_next_deadline_ns), the loopback, and the
 * counted allocator every other file uses so tests can prove memory returns to its baseline.
 */
#include "net_internal.h"

struct net_stack *net_kernel;

void *net_alloc(struct net_stack *st, size_t n) {
    void *p = kmalloc(n);
    if (p)
        st->mem_bytes += n;
    return p;
}

void net_free(struct net_stack *st, void *p, size_t n) {
    if (!p)
        return;
    st->mem_bytes -= n;
    kfree(p);
}

void net_arm(struct net_stack *st, uint64_t deadline) {
    if (deadline && deadline < st->next_deadline)
        st->next_deadline = deadline;
}

void net_changed(struct net_stack *st) { st->generation++; }

void net_enter(struct net_stack *st) {
    uint64_t now = clock_monotonic_ns();
    if (now > st->now)
        st->now = now;
}

bool net_is_local_ip(const struct net_stack *st, uint32_t ip) {
    if ((ip >> 24) == 127)
        return true;
    return st->nif && st->nif->ip && ip == st->nif->ip;
}

uint32_t net_source_ip(const struct net_stack *st, uint32_t dst) {
    if ((dst >> 24) == 127 || !st->nif)
        return NET_IP_LOOPBACK;
    return st->nif->ip;
}

void net_default_config(struct netif *nif) {
    nif->ip = NET_IP(10, 0, 2, 15);
    nif->netmask = NET_IP(255, 255, 255, 0);
    nif->gateway = NET_IP(10, 0, 2, 2);
    nif->dns = NET_IP(10, 0, 2, 3);
    nif->mtu = NET_MTU;
}

int net_configure(struct netif *nif, uint32_t ip, uint32_t netmask, uint32_t gateway, uint32_t dns) {
    uint32_t inv = ~netmask;
    if ((inv & (inv + 1)) != 0 || netmask == 0)
        return -EINVAL;                       /* not contiguous ones */
    if (ip == 0 || ip == NET_IP_BROADCAST || (ip >> 24) == 127 || (ip >> 28) == 14)
        return -EINVAL;
    nif->ip = ip;
    nif->netmask = netmask;
    nif->gateway = gateway;
    nif->dns = dns;
    if (!nif->mtu)
        nif->mtu = NET_MTU;
    if (nif->stack)
        arp_announce(nif->stack);
    return 0;
}

/* Parses one decimal octet; advances *s. */
static bool octet(const char **s, uint32_t *v) {
    const char *p = *s;
    uint32_t n = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        n = n * 10 + (uint32_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || digits > 3 || n > 255)
        return false;
    *v = n;
    *s = p;
    return true;
}

static bool parse_ipv4_prefix(const char **s, uint32_t *ip) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t o;
        if (!octet(s, &o))
            return false;
        v = (v << 8) | o;
        if (i < 3) {
            if (**s != '.')
                return false;
            (*s)++;
        }
    }
    *ip = v;
    return true;
}

bool net_parse_ipv4(const char *s, uint32_t *ip) {
    uint32_t v;
    if (!s || !parse_ipv4_prefix(&s, &v) || *s)
        return false;
    *ip = v;
    return true;
}

bool net_parse_cidr(const char *s, uint32_t *ip, uint32_t *netmask) {
    uint32_t v, len;
    if (!s || !parse_ipv4_prefix(&s, &v) || *s != '/')
        return false;
    s++;
    if (!octet(&s, &len) || *s || len < 1 || len > 32)
        return false;
    *ip = v;
    *netmask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
    return true;
}

struct net_stack *net_create(struct netif *nif) {
    struct net_stack *st = kzalloc(sizeof *st);
    if (!st)
        return NULL;
    st->nif = nif;
    st->next_deadline = UINT64_MAX;
    st->now = clock_monotonic_ns();
    list_init(&st->sockets);
    list_init(&st->time_wait);
    for (int i = 0; i < TCP_HASH_SIZE; i++)
        list_init(&st->tcp_hash[i]);
    for (int i = 0; i < PORT_HASH_SIZE; i++)
        list_init(&st->port_hash[i]);
    uint16_t r;
    random_bytes(&r, sizeof r);
    st->ip_id = r;
    st->next_port = (uint16_t)(49152 + r % 16384);
    if (nif) {
        if (!nif->mtu || nif->mtu > NET_MTU)
            nif->mtu = NET_MTU;
        nif->stack = st;
        if (nif->ip)
            arp_announce(st);
    }
    return st;
}

void net_destroy(struct net_stack *st) {
    if (!st)
        return;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *s = container_of(pos, struct net_socket, all);
        sock_free(s);
    }
    arp_clear(st);
    while (st->lo_head) {
        struct lo_frame *f = st->lo_head;
        st->lo_head = f->next;
        net_free(st, f, sizeof *f + f->len);
    }
    if (st->nif)
        st->nif->stack = NULL;
    kfree(st);
}

void net_input(struct netif *nif, const void *frame, size_t len) {
    struct net_stack *st = nif ? nif->stack : NULL;
    if (!st)
        return;
    st->now = clock_monotonic_ns();
    nif->stats.rx_frames++;
    nif->stats.rx_bytes += len;
    if (!frame || len < ETH_HLEN || len > NET_FRAME_MAX + 4) {   /* +4: a driver leaving VLAN room */
        nif->stats.rx_dropped++;
        return;
    }
    eth_input(st, frame, len);
    net_reap(st);
}

void loopback_enqueue(struct net_stack *st, const uint8_t *frame, size_t len) {
    if (st->lo_count >= NET_LOOPBACK_QUEUE)
        return;                               /* dropped like a full queue; TCP retransmits */
    struct lo_frame *f = net_alloc(st, sizeof *f + len);
    if (!f)
        return;
    f->next = NULL;
    f->len = len;
    memcpy(f->data, frame, len);
    if (st->lo_tail)
        st->lo_tail->next = f;
    else
        st->lo_head = f;
    st->lo_tail = f;
    st->lo_count++;
    st->next_deadline = 0;
}

void net_poll(struct net_stack *st, uint64_t now_ns) {
    st->now = now_ns;
    if (now_ns < st->next_deadline && !st->lo_head)
        return;                               /* every armed timer lowers next_deadline */
    /* Loopback: deliver what is queued now (frames queued while delivering wait for the next
     * round, so one call is bounded). */
    int n = st->lo_count;
    while (n-- > 0 && st->lo_head) {
        struct lo_frame *f = st->lo_head;
        st->lo_head = f->next;
        if (!st->lo_head)
            st->lo_tail = NULL;
        st->lo_count--;
        ipv4_input(st, f->data + ETH_HLEN, f->len - ETH_HLEN, true);
        net_free(st, f, sizeof *f + f->len);
    }
    if (st->nif)
        arp_timers(st);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *s = container_of(pos, struct net_socket, all);
        if (s->type == NET_SOCK_STREAM && !s->dead)
            tcp_timers(s);
    }
    net_reap(st);
    /* Recompute the earliest deadline exactly. */
    uint64_t d = st->lo_head ? now_ns : UINT64_MAX;
    for (int i = 0; i < NET_ARP_ENTRIES; i++)
        if (st->arp[i].state && st->arp[i].expires < d)
            d = st->arp[i].expires;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *s = container_of(pos, struct net_socket, all);
        if (s->type == NET_SOCK_STREAM) {
            uint64_t t = tcp_next_deadline(s);
            if (t < d)
                d = t;
        }
    }
    st->next_deadline = d;
}

uint64_t net_next_deadline_ns(const struct net_stack *st) { return st->next_deadline; }
uint64_t net_generation(const struct net_stack *st) { return st->generation; }
size_t net_memory_bytes(const struct net_stack *st) { return st->mem_bytes; }
int net_socket_count(const struct net_stack *st) { return st->nsockets; }

bool net_output_pending(struct net_stack *st) {
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *s = container_of(pos, struct net_socket, all);
        bool synchronized = s->state >= TCP_ESTABLISHED && s->state != TCP_FIN_WAIT_2 && s->state != TCP_TIME_WAIT;
        if (s->type == NET_SOCK_STREAM && synchronized && (s->sndq.len || s->snd_una != s->snd_max))
            return true;
    }
    return false;
}

void net_reap(struct net_stack *st) {
    if (!st->ndead)
        return;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *s = container_of(pos, struct net_socket, all);
        if (s->dead)
            sock_free(s);
    }
    st->ndead = 0;
}
