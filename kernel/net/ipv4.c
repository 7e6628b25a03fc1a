/*
 * IPv4 (RFC 791, RFC 1122): validates every received header (version, lengths, checksum),
 * drops fragments (we never reassemble; MF or a non-zero offset means the datagram is dropped
 * whole) and skips options; accepts datagrams for our address, broadcast and (from the
 * loopback) 127/8, and hands them to ICMP, UDP or TCP. On output it fills the header and routes:
 * our own addresses through the loopback, the subnet directly, the rest via the gateway.
 */
#include "net_internal.h"

#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff
#define IP_TTL 64

static void drop(struct net_stack *st) {
    if (st->nif)
        st->nif->stats.rx_dropped++;
}

void ipv4_input(struct net_stack *st, const uint8_t *p, size_t len, bool from_loopback) {
    if (len < IP_HLEN || (p[0] >> 4) != 4)
        return drop(st);
    size_t hlen = (size_t)(p[0] & 0xf) * 4;
    size_t total = rd16(p + 2);
    if (hlen < IP_HLEN || hlen > len || total < hlen || total > len)
        return drop(st);
    len = total;                              /* ignore Ethernet padding */
    if (csum_fold(csum_add(0, p, hlen)) != 0)
        return drop(st);
    uint16_t frag = rd16(p + 6);
    if (frag & (IP_MF | IP_OFFMASK))
        return drop(st);
    uint32_t src = rd32(p + 12), dst = rd32(p + 16);
    struct netif *nif = st->nif;
    bool bcast = false;
    if (dst == NET_IP_BROADCAST) {
        bcast = true;
    } else if (nif && nif->ip && dst == (nif->ip | ~nif->netmask) && nif->netmask != 0xffffffffu) {
        bcast = true;
    } else if (!(nif && nif->ip && dst == nif->ip) && !(from_loopback && (dst >> 24) == 127)) {
        return drop(st);                      /* not for us; we do not forward */
    }
    if (src == NET_IP_BROADCAST || (src >> 28) == 14 || ((src >> 24) == 127 && !from_loopback))
        return drop(st);
    if (bcast && src == 0 && p[9] != IP_PROTO_UDP)
        return drop(st);
    const uint8_t *l4 = p + hlen;
    size_t l4len = len - hlen;
    switch (p[9]) {
    case IP_PROTO_ICMP:
        icmp_input(st, p, len, l4, l4len);
        break;
    case IP_PROTO_UDP:
        udp_input(st, p, len, l4, l4len, bcast);
        break;
    case IP_PROTO_TCP:
        if (bcast)
            return drop(st);
        tcp_input(st, p, len, l4, l4len);
        break;
    default:
        if (!bcast)
            icmp_unreachable(st, p, len, 2);  /* protocol unreachable */
        drop(st);
        break;
    }
}

int ipv4_output(struct net_stack *st, uint8_t *frame, size_t l4len, uint8_t proto, uint32_t src, uint32_t dst) {
    uint8_t *ip = frame + ETH_HLEN;
    size_t total = IP_HLEN + l4len;
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, (uint16_t)total);
    wr16(ip + 4, st->ip_id++);
    wr16(ip + 6, proto == IP_PROTO_TCP ? IP_DF : 0);
    ip[8] = IP_TTL;
    ip[9] = proto;
    wr16(ip + 10, 0);
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    wr16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));

    if (net_is_local_ip(st, dst)) {
        memset(frame, 0, ETH_HLEN);
        loopback_enqueue(st, frame, ETH_HLEN + total);
        return 0;
    }
    struct netif *nif = st->nif;
    if (!nif || !nif->ip)
        return -ENETUNREACH;
    if (total > nif->mtu) {
        nif->stats.tx_dropped++;
        return -EMSGSIZE;
    }
    uint32_t next_hop = dst;
    bool on_link = dst == NET_IP_BROADCAST || (dst & nif->netmask) == (nif->ip & nif->netmask);
    if (!on_link) {
        if (!nif->gateway)
            return -ENETUNREACH;
        next_hop = nif->gateway;
    }
    arp_output(st, frame, ETH_HLEN + total, next_hop);
    return 0;
}

void ipv4_suspect_route(struct net_stack *st, uint32_t dst) {
    struct netif *nif = st->nif;
    if (!nif || !nif->ip || net_is_local_ip(st, dst))
        return;
    bool on_link = (dst & nif->netmask) == (nif->ip & nif->netmask);
    arp_suspect(st, on_link ? dst : nif->gateway);
}
