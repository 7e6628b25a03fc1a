/*
 * UDP (RFC 768): checksummed datagrams to and from sockets. Each socket has a receive queue of
 * whole datagrams bounded in bytes by SO_RCVBUF (datagrams that do not fit are dropped, as
 * on Linux). Datagrams to a port nobody holds get an ICMP port unreachable. We never fragment,
 * so a datagram must fit the MTU (-EMSGSIZE otherwise).
 */
#include "net_internal.h"

struct net_socket *udp_find(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    struct net_socket *best = NULL;
    int best_score = -1;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->port_hash[lport % PORT_HASH_SIZE]) {
        struct net_socket *s = container_of(pos, struct net_socket, hash);
        if (s->type != NET_SOCK_DGRAM || !s->bound || s->dead || s->local.port != lport)
            continue;
        if (s->local.ip != NET_IP_ANY && s->local.ip != lip)
            continue;
        int score = s->local.ip != NET_IP_ANY;
        if (s->connected) {
            if (s->remote.ip != rip || s->remote.port != rport)
                continue;
            score += 2;
        }
        if (score > best_score) {
            best = s;
            best_score = score;
        }
    }
    return best;
}

void udp_input(struct net_stack *st, const uint8_t *ip, size_t iplen, const uint8_t *u, size_t len, bool bcast) {
    size_t ulen = len >= UDP_HLEN ? rd16(u + 4) : 0;
    if (len < UDP_HLEN || ulen < UDP_HLEN || ulen > len)
        goto bad;
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    if (rd16(u + 6) != 0) {
        uint32_t sum = csum_pseudo(src, dst, IP_PROTO_UDP, (uint16_t)ulen);
        if (csum_fold(csum_add(sum, u, ulen)) != 0)
            goto bad;
    }
    uint16_t sport = rd16(u), dport = rd16(u + 2);
    if (sport == 0 && !bcast)
        goto bad;
    struct net_socket *s = udp_find(st, dst, dport, src, sport);
    if (!s) {
        if (!bcast)
            icmp_unreachable(st, ip, iplen, 3);
        return;
    }
    size_t n = ulen - UDP_HLEN;
    if (s->rd_shut || s->rq_bytes + n > s->rcvbuf)
        return;                               /* full: dropped */
    struct udp_dgram *d = net_alloc(st, sizeof *d + n);
    if (!d)
        return;
    d->next = NULL;
    d->from.ip = src;
    d->from.port = sport;
    d->len = (uint32_t)n;
    memcpy(d->data, u + UDP_HLEN, n);
    if (s->rq_tail)
        s->rq_tail->next = d;
    else
        s->rq_head = d;
    s->rq_tail = d;
    s->rq_bytes += n;
    net_changed(st);
    return;
bad:
    if (st->nif)
        st->nif->stats.rx_dropped++;
}

void udp_icmp_error(struct net_stack *st, const uint8_t *inner, size_t len, int err) {
    size_t ihl = (size_t)(inner[0] & 0xf) * 4;
    if (len < ihl + 8)
        return;
    const uint8_t *u = inner + ihl;
    uint32_t src = rd32(inner + 12), dst = rd32(inner + 16);
    struct net_socket *s = udp_find(st, src, rd16(u), dst, rd16(u + 2));
    if (s && s->connected) {                  /* unconnected sockets ignore it, as Linux does */
        s->error = err;
        net_changed(st);
    }
}

long udp_sendto(struct net_socket *s, const void *buf, size_t len, const struct net_addr *to) {
    struct net_stack *st = s->st;
    struct net_addr dst;
    if (to)
        dst = *to;
    else if (s->connected)
        dst = s->remote;
    else
        return -EDESTADDRREQ;
    if (s->wr_shut)
        return -EPIPE;
    if (dst.port == 0 || dst.ip == NET_IP_ANY)
        return -EINVAL;
    int denied = policy_egress(s, &dst, "send");
    if (denied)
        return denied;
    if (len > UDP_MAX_PAYLOAD)
        return -EMSGSIZE;
    uint16_t mtu = st->nif ? st->nif->mtu : NET_MTU;
    if (len > (size_t)(mtu - IP_HLEN - UDP_HLEN) && !net_is_local_ip(st, dst.ip))
        return -EMSGSIZE;                     /* we do not fragment */
    if (len > (size_t)(NET_MTU - IP_HLEN - UDP_HLEN))
        return -EMSGSIZE;
    struct netif *nif = st->nif;
    bool bcast = dst.ip == NET_IP_BROADCAST ||
                 (nif && nif->netmask != 0xffffffffu && dst.ip == (nif->ip | ~nif->netmask));
    if (bcast && !s->broadcast)
        return -EACCES;
    if (!s->bound) {
        int r = sock_autobind(s);
        if (r < 0)
            return r;
    }
    uint32_t src = s->local.ip != NET_IP_ANY ? s->local.ip : net_source_ip(st, dst.ip);
    uint8_t *f = st->tx;
    uint8_t *u = f + L4_OFF;
    size_t ulen = UDP_HLEN + len;
    wr16(u, s->local.port);
    wr16(u + 2, dst.port);
    wr16(u + 4, (uint16_t)ulen);
    wr16(u + 6, 0);
    memcpy(u + UDP_HLEN, buf, len);
    uint16_t c = csum_fold(csum_add(csum_pseudo(src, dst.ip, IP_PROTO_UDP, (uint16_t)ulen), u, ulen));
    wr16(u + 6, c ? c : 0xffff);
    int r = ipv4_output(st, f, ulen, IP_PROTO_UDP, src, dst.ip);
    return r < 0 ? r : (long)len;
}

long udp_recvfrom(struct net_socket *s, void *buf, size_t len, int flags, struct net_addr *from) {
    if (s->error) {
        int e = s->error;
        s->error = 0;
        return -e;
    }
    struct udp_dgram *d = s->rq_head;
    if (!d)
        return s->rd_shut ? 0 : -EAGAIN;
    size_t n = MIN(len, (size_t)d->len);
    if (n)
        memcpy(buf, d->data, n);
    if (from)
        *from = d->from;
    long ret = (flags & NET_MSG_TRUNC) ? (long)d->len : (long)n;
    if (!(flags & NET_MSG_PEEK)) {
        s->rq_head = d->next;
        if (!s->rq_head)
            s->rq_tail = NULL;
        s->rq_bytes -= d->len;
        net_free(s->st, d, sizeof *d + d->len);
    }
    return ret;
}

void udp_free_queue(struct net_socket *s) {
    while (s->rq_head) {
        struct udp_dgram *d = s->rq_head;
        s->rq_head = d->next;
        net_free(s->st, d, sizeof *d + d->len);
    }
    s->rq_tail = NULL;
    s->rq_bytes = 0;
}
