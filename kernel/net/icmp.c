/*
 * ICMP (RFC 792): answers echo requests, sends destination-unreachable for datagrams nobody
 * takes (UDP port unreachable, protocol unreachable), and passes unreachable messages about
 * our own UDP datagrams to the socket that sent them (ECONNREFUSED on a connected socket).
 */
#include "net_internal.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_ECHO 8

void icmp_input(struct net_stack *st, const uint8_t *ip, size_t iplen, const uint8_t *icmp, size_t len) {
    (void)iplen;
    if (len < 8 || csum_fold(csum_add(0, icmp, len)) != 0) {
        if (st->nif)
            st->nif->stats.rx_dropped++;
        return;
    }
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    if (icmp[0] == ICMP_ECHO && icmp[1] == 0) {
        if (!net_is_local_ip(st, dst))
            return;                           /* no replies to broadcast pings */
        if (len > NET_MTU - IP_HLEN)
            return;
        uint8_t *f = st->tx;
        uint8_t *r = f + L4_OFF;
        memcpy(r, icmp, len);
        r[0] = ICMP_ECHO_REPLY;
        wr16(r + 2, 0);
        wr16(r + 2, csum_fold(csum_add(0, r, len)));
        ipv4_output(st, f, len, IP_PROTO_ICMP, dst, src);
    } else if (icmp[0] == ICMP_UNREACH && len >= 8 + IP_HLEN + 8) {
        const uint8_t *inner = icmp + 8;
        size_t ihl = (size_t)(inner[0] & 0xf) * 4;
        if ((inner[0] >> 4) != 4 || ihl < IP_HLEN || 8 + ihl + 8 > len)
            return;
        if (inner[9] == IP_PROTO_UDP && (icmp[1] == 3 || icmp[1] == 1 || icmp[1] == 0))
            udp_icmp_error(st, inner, len - 8, icmp[1] == 3 ? ECONNREFUSED : EHOSTUNREACH);
    }
}

void icmp_unreachable(struct net_stack *st, const uint8_t *ip, size_t iplen, uint8_t code) {
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    if (src == 0 || src == NET_IP_BROADCAST || (src >> 28) == 14)
        return;
    size_t quote = MIN(iplen, (size_t)((ip[0] & 0xf) * 4 + 8));   /* header + 8 bytes */
    uint8_t *f = st->tx;
    uint8_t *r = f + L4_OFF;
    r[0] = ICMP_UNREACH;
    r[1] = code;
    wr16(r + 2, 0);
    wr32(r + 4, 0);
    memcpy(r + 8, ip, quote);
    wr16(r + 2, csum_fold(csum_add(0, r, 8 + quote)));
    ipv4_output(st, f, 8 + quote, IP_PROTO_ICMP, dst, src);
}
