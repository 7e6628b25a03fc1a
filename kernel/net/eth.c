/*
 * Ethernet II framing: dispatches received frames by EtherType to ARP and IPv4 after checking
 * the destination is our MAC or broadcast, and fills the header of outgoing frames.
 */
#include "net_internal.h"

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(struct net_stack *st, const uint8_t *frame, size_t len) {
    struct netif *nif = st->nif;
    const uint8_t *dst = frame;
    if (memcmp(dst, nif->mac, 6) != 0 && memcmp(dst, bcast_mac, 6) != 0) {
        nif->stats.rx_dropped++;              /* another host's unicast, or multicast */
        return;
    }
    uint16_t type = rd16(frame + 12);
    if (type == ETH_P_ARP)
        arp_input(st, frame + ETH_HLEN, len - ETH_HLEN);
    else if (type == ETH_P_IPV4)
        ipv4_input(st, frame + ETH_HLEN, len - ETH_HLEN, false);
    else
        nif->stats.rx_dropped++;
}

void eth_output(struct net_stack *st, uint8_t *frame, size_t len, const uint8_t dst[6], uint16_t type) {
    struct netif *nif = st->nif;
    memcpy(frame, dst, 6);
    memcpy(frame + 6, nif->mac, 6);
    wr16(frame + 12, type);
    if (len < 60) {                           /* minimum frame: pad with zeros */
        memset(frame + len, 0, 60 - len);
        len = 60;
    }
    if (nif->transmit(nif, frame, len) == 0) {
        nif->stats.tx_frames++;
        nif->stats.tx_bytes += len;
    } else {
        nif->stats.tx_dropped++;
    }
}
