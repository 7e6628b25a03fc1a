/*
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
 * big-endian words. csum_add accumulates into a 32-bit sum that csum_fold folds and complements;
 * csum_pseudo starts a TCP/UDP sum with the IPv4 pseudo-header (RFC 793 / RFC 768).
 * Accumulating an odd-length piece is only correct as the last piece.
 */
#include "net_internal.h"

uint32_t csum_add(uint32_t sum, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t s = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Sum native (little-endian) words, then swap the folded result: the ones' complement sum
     * is byte-order independent (RFC 1071 section 2(B)). 32-bit loads, 64-bit accumulator. */
    while (len >= 4) {
        uint32_t w;
        __builtin_memcpy(&w, p, 4);
        s += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        __builtin_memcpy(&w, p, 2);
        s += w;
        p += 2;
        len -= 2;
    }
    if (len)
        s += p[0];
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = ((s & 0xff) << 8) | (s >> 8);
#else
    while (len >= 2) {
        s += (uint32_t)((p[0] << 8) | p[1]);
        p += 2;
        len -= 2;
    }
    if (len)
        s += (uint32_t)(p[0] << 8);
#endif
    s += sum;
    while (s >> 32)
        s = (s & 0xffffffff) + (s >> 32);
    return (uint32_t)s;
}

uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
    uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
    return (uint32_t)s;
}
