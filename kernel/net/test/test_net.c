/*
 * Host tests for the TCP/IP stack. Each test builds its own stacks (two joined by a fake link,
 * or one whose transmissions are captured), drives them with a fake clock, and checks behaviour,
 * data integrity, and that memory returns to its baseline. Prints PASS/FAIL per test.
 */
#include "test_util.h"

int test_failed;

/* ---------- hand-made frames ---------- */

static size_t put_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type) {
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    wr16(f + 12, type);
    return ETH_HLEN;
}

/* IPv4 header at f+14 for l4len bytes already at f+34. Returns the frame length. */
static size_t put_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len) {
    uint8_t *ip = f + ETH_HLEN;
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, (uint16_t)(IP_HLEN + l4len));
    wr16(ip + 4, 1);
    wr16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = proto;
    wr16(ip + 10, 0);
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    wr16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
    return ETH_HLEN + IP_HLEN + l4len;
}

static size_t build_tcp(uint8_t *f, const uint8_t dmac[6], uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                        uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const void *data, size_t dlen) {
    put_eth(f, dmac, X_MAC, ETH_P_IPV4);
    uint8_t *t = f + L4_OFF;
    memset(t, 0, TCP_HLEN);
    wr16(t, sport);
    wr16(t + 2, dport);
    wr32(t + 4, seq);
    wr32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    wr16(t + 14, wnd);
    if (dlen)
        memcpy(t + TCP_HLEN, data, dlen);
    size_t tl = TCP_HLEN + dlen;
    wr16(t + 16, csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)tl), t, tl)));
    return put_ip(f, src, dst, IP_PROTO_TCP, tl);
}

static size_t build_udp(uint8_t *f, const uint8_t dmac[6], uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                        const void *data, size_t dlen) {
    put_eth(f, dmac, X_MAC, ETH_P_IPV4);
    uint8_t *u = f + L4_OFF;
    wr16(u, sport);
    wr16(u + 2, dport);
    wr16(u + 4, (uint16_t)(UDP_HLEN + dlen));
    wr16(u + 6, 0);
    memcpy(u + UDP_HLEN, data, dlen);
    uint16_t c = csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_UDP, (uint16_t)(UDP_HLEN + dlen)), u, UDP_HLEN + dlen));
    wr16(u + 6, c ? c : 0xffff);
    return put_ip(f, src, dst, IP_PROTO_UDP, UDP_HLEN + dlen);
}

static size_t build_echo(uint8_t *f, const uint8_t dmac[6], uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
                         const void *data, size_t dlen) {
    put_eth(f, dmac, X_MAC, ETH_P_IPV4);
    uint8_t *c = f + L4_OFF;
    c[0] = 8;
    c[1] = 0;
    wr16(c + 2, 0);
    wr16(c + 4, id);
    wr16(c + 6, seq);
    memcpy(c + 8, data, dlen);
    wr16(c + 2, csum_fold(csum_add(0, c, 8 + dlen)));
    return put_ip(f, src, dst, IP_PROTO_ICMP, 8 + dlen);
}

static size_t build_arp(uint8_t *f, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa,
                        const uint8_t dmac[6]) {
    put_eth(f, dmac, sha, ETH_P_ARP);
    uint8_t *a = f + ETH_HLEN;
    wr16(a, 1);
    wr16(a + 2, ETH_P_IPV4);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, op);
    memcpy(a + 8, sha, 6);
    wr32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    wr32(a + 24, tpa);
    return ETH_HLEN + 28;
}

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t ZERO6[6];

/* Teaches a capture host that X_IP is at X_MAC. */
static void teach_x(struct host *h) {
    uint8_t f[128];
    size_t n = build_arp(f, 1, X_MAC, X_IP, ZERO6, h->nif.ip, BCAST);
    net_input(&h->nif, f, n);
    fq_clear(&h->captured);
}

/* ---------- generic helpers ---------- */

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

struct pair {
    struct net_socket *lst, *srv, *cli;
};

struct accept_arg {
    struct link *l;
    struct pair *p;
};

static bool step_accept(void *arg) {
    struct accept_arg *a = arg;
    if (!a->p->srv) {
        int r = net_accept(a->p->lst, &a->p->srv, NULL);
        if (r < 0 && r != -EAGAIN)
            return true;
    }
    return a->p->srv && (net_socket_poll(a->p->cli) & NET_POLLOUT);
}

/* A listener on b:port and a connection from a to it, accepted. */
static bool connect_pair(struct link *l, uint16_t port, struct pair *p, bool listen_too) {
    if (listen_too) {
        if (net_socket(l->b.st, NET_SOCK_STREAM, &p->lst) < 0)
            return false;
        net_setsockopt(p->lst, NET_SOL_SOCKET, NET_SO_REUSEADDR, 1);
        struct net_addr ba = {NET_IP_ANY, port};
        if (net_bind(p->lst, &ba) < 0 || net_listen(p->lst, 16) < 0)
            return false;
    }
    p->srv = NULL;
    if (net_socket(l->a.st, NET_SOCK_STREAM, &p->cli) < 0)
        return false;
    struct net_addr to = {B_IP, port};
    if (net_connect(p->cli, &to) != -EINPROGRESS)
        return false;
    struct accept_arg aa = {l, p};
    if (!link_run(l, step_accept, &aa, MS(200000)))
        return false;
    int err = 0;
    net_getsockopt(p->cli, NET_SOL_SOCKET, NET_SO_ERROR, &err);
    return err == 0 && p->srv;
}

/* Runs the link until both stacks are idle (no frames, nothing due) or max_ns passed. */
static void settle(struct link *l, uint64_t max_ns) { link_run(l, NULL, NULL, max_ns); }

/* ---------- tests ---------- */

static uint16_t ref_csum(uint32_t start, const uint8_t *p, size_t n) {
    uint64_t s = start;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (n & 1)
        s += (uint32_t)(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void test_checksum(void) {
    static uint8_t buf[2100];
    fill_pattern(buf, sizeof buf, 3);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n < 2000; n += 1 + n / 7) {
            uint32_t start = (uint32_t)(n * 2654435761u) >> 8;
            CHECK(csum_fold(csum_add(start, buf + off, n)) == ref_csum(start, buf + off, n), "off %zu len %zu", off, n);
        }
    /* RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d). */
    uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(csum_fold(csum_add(0, d, sizeof d)) == (uint16_t)~0xddf2, "got %x", csum_fold(csum_add(0, d, sizeof d)));
    uint8_t odd[] = {0x12, 0x34, 0x56};
    CHECK(csum_fold(csum_add(0, odd, 3)) == (uint16_t)~(0x1234 + 0x5600), "odd");
    uint32_t ip;
    uint32_t mask;
    CHECK(net_parse_ipv4("10.0.2.15", &ip) && ip == NET_IP(10, 0, 2, 15), "parse");
    CHECK(!net_parse_ipv4("10.0.2", &ip) && !net_parse_ipv4("10.0.2.256", &ip) && !net_parse_ipv4("1.2.3.4x", &ip), "bad parse");
    CHECK(net_parse_cidr("192.168.7.3/20", &ip, &mask) && mask == 0xfffff000u && ip == NET_IP(192, 168, 7, 3), "cidr");
    CHECK(!net_parse_cidr("1.2.3.4/33", &ip, &mask) && !net_parse_cidr("1.2.3.4", &ip, &mask), "bad cidr");
    struct netif nif = {0};
    net_default_config(&nif);
    CHECK(nif.ip == NET_IP(10, 0, 2, 15) && nif.gateway == NET_IP(10, 0, 2, 2) && nif.dns == NET_IP(10, 0, 2, 3) &&
              nif.netmask == 0xffffff00u, "defaults");
    CHECK(net_configure(&nif, NET_IP(10, 1, 1, 1), 0xff00ff00u, 0, 0) == -EINVAL, "non-contiguous mask");
}

static void test_arp(void) {
    struct host h;
    host_capture_init(&h, B_IP, 2);
    size_t base = net_memory_bytes(h.st);
    struct fq_frame *fr = fq_pop(&h.captured);      /* the gratuitous announcement */
    CHECK(fr && rd16(fr->data + 12) == ETH_P_ARP && rd32(fr->data + 14 + 14) == B_IP && rd32(fr->data + 14 + 24) == B_IP,
          "no gratuitous ARP at start");
    free(fr);
    uint8_t f[256];
    /* A request for our address gets a reply to the asker. */
    size_t n = build_arp(f, 1, X_MAC, X_IP, ZERO6, B_IP, BCAST);
    net_input(&h.nif, f, n);
    fr = fq_pop(&h.captured);
    CHECK(fr && rd16(fr->data + 12) == ETH_P_ARP && rd16(fr->data + 20) == 2 && memcmp(fr->data, X_MAC, 6) == 0 &&
              memcmp(fr->data + 22, h.nif.mac, 6) == 0 && rd32(fr->data + 38) == X_IP,
          "no ARP reply");
    free(fr);
    /* A request for someone else: no reply. */
    n = build_arp(f, 1, X_MAC, X_IP, ZERO6, NET_IP(10, 0, 0, 77), BCAST);
    net_input(&h.nif, f, n);
    CHECK(h.captured.count == 0, "replied for another address");

    /* Sending to an unknown neighbour: ARP request first, the datagram waits, then goes. */
    uint32_t y_ip = NET_IP(10, 0, 0, 20);
    uint8_t y_mac[6] = {0x02, 0, 0, 0, 0, 0x20};
    struct net_socket *u;
    CHECK(net_socket(h.st, NET_SOCK_DGRAM, &u) == 0, "socket");
    struct net_addr to = {y_ip, 5000};
    CHECK(net_sendto(u, "hi", 2, 0, &to) == 2, "sendto");
    fr = fq_pop(&h.captured);
    CHECK(fr && rd16(fr->data + 12) == ETH_P_ARP && rd16(fr->data + 20) == 1 && rd32(fr->data + 38) == y_ip &&
              memcmp(fr->data, BCAST, 6) == 0,
          "no ARP request");
    free(fr);
    CHECK(h.captured.count == 0, "datagram sent before resolution");
    n = build_arp(f, 2, y_mac, y_ip, h.nif.mac, B_IP, h.nif.mac);
    net_input(&h.nif, f, n);
    fr = fq_pop(&h.captured);
    CHECK(fr && rd16(fr->data + 12) == ETH_P_IPV4 && memcmp(fr->data, y_mac, 6) == 0, "queued datagram not sent");
    free(fr);
    /* Off-subnet goes to the gateway's MAC (resolve the gateway). */
    struct net_addr far = {NET_IP(8, 8, 8, 8), 53};
    CHECK(net_sendto(u, "q", 1, 0, &far) == 1, "sendto far");
    fr = fq_pop(&h.captured);
    CHECK(fr && rd16(fr->data + 12) == ETH_P_ARP && rd32(fr->data + 38) == NET_IP(10, 0, 0, 254), "no ARP for gateway");
    free(fr);
    /* No answer: retried, then given up and the queued frame freed. */
    int requests = 0;
    for (int i = 0; i < 10; i++) {
        shim_now += MS(1000);
        net_poll(h.st, shim_now);
        while ((fr = fq_pop(&h.captured))) {
            if (rd16(fr->data + 12) == ETH_P_ARP)
                requests++;
            free(fr);
        }
    }
    CHECK(requests == ARP_TRIES - 1, "retries %d", requests);
    /* Gratuitous ARP changes a known neighbour's address. */
    uint8_t y2[6] = {0x02, 0, 0, 0, 0, 0x21};
    n = build_arp(f, 1, y2, y_ip, ZERO6, y_ip, BCAST);
    net_input(&h.nif, f, n);
    CHECK(net_sendto(u, "hi", 2, 0, &to) == 2, "sendto");
    fr = fq_pop(&h.captured);
    CHECK(fr && rd16(fr->data + 12) == ETH_P_IPV4 && memcmp(fr->data, y2, 6) == 0, "gratuitous ARP not honoured");
    free(fr);
    /* The cache entry expires. */
    shim_now += ARP_REACHABLE + MS(1);
    net_poll(h.st, shim_now);
    CHECK(net_sendto(u, "hi", 2, 0, &to) == 2, "sendto");
    fr = fq_pop(&h.captured);
    CHECK(fr && rd16(fr->data + 12) == ETH_P_ARP, "entry did not expire");
    free(fr);
    net_close(u);
    for (int i = 0; i < 10; i++) {
        shim_now += MS(1000);
        net_poll(h.st, shim_now);
    }
    CHECK(net_memory_bytes(h.st) == base, "memory %zu vs %zu", net_memory_bytes(h.st), base);
    host_free(&h);
}

static void test_icmp_echo(void) {
    struct host h;
    host_capture_init(&h, B_IP, 2);
    teach_x(&h);
    uint8_t f[1600], data[100];
    fill_pattern(data, sizeof data, 7);
    size_t n = build_echo(f, h.nif.mac, X_IP, B_IP, 0x1234, 7, data, sizeof data);
    net_input(&h.nif, f, n);
    struct fq_frame *fr = fq_pop(&h.captured);
    CHECK(fr, "no echo reply");
    uint8_t *ip = fr->data + ETH_HLEN, *c = ip + IP_HLEN;
    CHECK(memcmp(fr->data, X_MAC, 6) == 0 && rd32(ip + 12) == B_IP && rd32(ip + 16) == X_IP && ip[9] == IP_PROTO_ICMP,
          "bad reply header");
    CHECK(csum_fold(csum_add(0, ip, IP_HLEN)) == 0, "ip checksum");
    CHECK(c[0] == 0 && rd16(c + 4) == 0x1234 && rd16(c + 6) == 7 && memcmp(c + 8, data, sizeof data) == 0, "reply body");
    CHECK(csum_fold(csum_add(0, c, 8 + sizeof data)) == 0, "icmp checksum");
    free(fr);
    /* Bad ICMP checksum: no reply. */
    n = build_echo(f, h.nif.mac, X_IP, B_IP, 1, 1, data, sizeof data);
    f[L4_OFF + 2] ^= 0x40;
    net_input(&h.nif, f, n);
    CHECK(h.captured.count == 0, "replied to bad checksum");
    /* A fragment: dropped whole. */
    n = build_echo(f, h.nif.mac, X_IP, B_IP, 1, 1, data, sizeof data);
    wr16(f + ETH_HLEN + 6, 0x2000);
    wr16(f + ETH_HLEN + 10, 0);
    wr16(f + ETH_HLEN + 10, csum_fold(csum_add(0, f + ETH_HLEN, IP_HLEN)));
    net_input(&h.nif, f, n);
    wr16(f + ETH_HLEN + 6, 0x0010);
    wr16(f + ETH_HLEN + 10, 0);
    wr16(f + ETH_HLEN + 10, csum_fold(csum_add(0, f + ETH_HLEN, IP_HLEN)));
    net_input(&h.nif, f, n);
    CHECK(h.captured.count == 0, "replied to a fragment");
    /* IP options are skipped. */
    {
        uint8_t g[256];
        size_t m = build_echo(g, h.nif.mac, X_IP, B_IP, 9, 9, data, 16);
        uint8_t *gi = g + ETH_HLEN;
        memmove(gi + 24, gi + 20, m - ETH_HLEN - 20);
        gi[0] = 0x46;
        memset(gi + 20, 1, 4);                       /* four NOP options */
        wr16(gi + 2, (uint16_t)(rd16(gi + 2) + 4));
        wr16(gi + 10, 0);
        wr16(gi + 10, csum_fold(csum_add(0, gi, 24)));
        net_input(&h.nif, g, m + 4);
        fr = fq_pop(&h.captured);
        CHECK(fr && fr->data[L4_OFF] == 0 && rd16(fr->data + L4_OFF + 4) == 9, "no reply with options");
        free(fr);
    }
    /* UDP to a closed port: port unreachable quoting the datagram. */
    n = build_udp(f, h.nif.mac, X_IP, B_IP, 1111, 2222, "x", 1);
    net_input(&h.nif, f, n);
    fr = fq_pop(&h.captured);
    CHECK(fr && fr->data[ETH_HLEN + 9] == IP_PROTO_ICMP && fr->data[L4_OFF] == 3 && fr->data[L4_OFF + 1] == 3 &&
              rd16(fr->data + L4_OFF + 8 + 20 + 2) == 2222,
          "no port unreachable");
    free(fr);
    host_free(&h);
}

struct udp_echo_arg {
    struct net_socket *srv, *cli;
    int got;
    bool bad;
};

static bool step_udp_echo(void *arg) {
    struct udp_echo_arg *a = arg;
    uint8_t buf[2048];
    struct net_addr from;
    long r;
    while ((r = net_recvfrom(a->srv, buf, sizeof buf, 0, &from)) > 0)
        net_sendto(a->srv, buf, (size_t)r, 0, &from);
    while ((r = net_recvfrom(a->cli, buf, sizeof buf, 0, &from)) > 0) {
        if (from.ip != B_IP || from.port != 7 || r != 1000 || buf[0] != (uint8_t)a->got)
            a->bad = true;
        a->got++;
    }
    return a->got == NET_ARP_QUEUE || a->bad;
}

static void test_udp(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    size_t base_a = net_memory_bytes(l.a.st), base_b = net_memory_bytes(l.b.st);
    struct udp_echo_arg a = {0};
    CHECK(net_socket(l.b.st, NET_SOCK_DGRAM, &a.srv) == 0 && net_socket(l.a.st, NET_SOCK_DGRAM, &a.cli) == 0, "socket");
    struct net_addr b7 = {NET_IP_ANY, 7};
    CHECK(net_bind(a.srv, &b7) == 0, "bind");
    struct net_addr to = {B_IP, 7};
    uint8_t msg[1000];
    for (int i = 0; i < NET_ARP_QUEUE; i++) {   /* all wait for ARP; the queue holds this many */
        memset(msg, i, sizeof msg);
        CHECK(net_sendto(a.cli, msg, sizeof msg, 0, &to) == 1000, "sendto");
    }
    CHECK(link_run(&l, step_udp_echo, &a, MS(5000)) && !a.bad, "echo: got %d", a.got);
    struct net_addr me;
    net_getsockname(a.cli, &me);
    CHECK(me.port >= 49152, "ephemeral port %u", me.port);
    /* Too big for one frame: we do not fragment. */
    static uint8_t big[3000];
    CHECK(net_sendto(a.cli, big, sizeof big, 0, &to) == -EMSGSIZE, "EMSGSIZE");
    CHECK(net_sendto(a.cli, big, 10, 0, NULL) == -EDESTADDRREQ, "EDESTADDRREQ");
    /* Receive queue bounded in bytes. */
    net_setsockopt(a.srv, NET_SOL_SOCKET, NET_SO_RCVBUF, 8192);
    struct net_socket *sink;
    CHECK(net_socket(l.b.st, NET_SOCK_DGRAM, &sink) == 0, "socket");
    struct net_addr b9 = {B_IP, 9};
    CHECK(net_bind(sink, &b9) == 0, "bind");
    net_setsockopt(sink, NET_SOL_SOCKET, NET_SO_RCVBUF, 8192);
    struct net_addr to9 = {B_IP, 9};
    for (int i = 0; i < 100; i++) {
        CHECK(net_sendto(a.cli, msg, sizeof msg, 0, &to9) == 1000, "sendto");
        link_pump(&l);
    }
    settle(&l, MS(100));
    CHECK(sink->rq_bytes <= 8192 && sink->rq_bytes >= 7000, "queued %zu", sink->rq_bytes);
    uint8_t buf[100];
    CHECK(net_recvfrom(sink, buf, 10, NET_MSG_PEEK | NET_MSG_TRUNC, NULL) == 1000, "peek trunc");
    CHECK(net_recvfrom(sink, buf, 10, 0, NULL) == 10, "truncated read");
    CHECK(net_socket_poll(sink) & NET_POLLIN, "poll");
    /* Connected socket to a closed port learns ECONNREFUSED from ICMP. */
    struct net_socket *c;
    CHECK(net_socket(l.a.st, NET_SOCK_DGRAM, &c) == 0, "socket");
    struct net_addr closed = {B_IP, 4444};
    CHECK(net_connect(c, &closed) == 0, "connect");
    CHECK(net_send(c, "x", 1, 0) == 1, "send");
    settle(&l, MS(100));
    CHECK(net_socket_poll(c) & NET_POLLERR, "no error after ICMP");
    CHECK(net_recv(c, buf, sizeof buf, 0) == -ECONNREFUSED, "ECONNREFUSED");
    CHECK(net_recv(c, buf, sizeof buf, 0) == -EAGAIN, "error reported once");
    /* Broadcast needs SO_BROADCAST. */
    struct net_addr bc = {NET_IP_BROADCAST, 9};
    CHECK(net_sendto(c, "b", 1, 0, &bc) == -EACCES, "broadcast without SO_BROADCAST");
    net_setsockopt(c, NET_SOL_SOCKET, NET_SO_BROADCAST, 1);
    CHECK(net_sendto(c, "b", 1, 0, &bc) == 1, "broadcast");
    net_close(c);
    net_close(sink);
    net_close(a.srv);
    net_close(a.cli);
    settle(&l, MS(100));
    CHECK(net_memory_bytes(l.a.st) == base_a && net_memory_bytes(l.b.st) == base_b, "memory");
    link_free(&l);
}

/* ----- TCP bulk transfer both ways ----- */

struct xfer {
    struct net_socket *s[2];
    const uint8_t *src[2];
    uint8_t *dst[2];
    size_t n, sent[2], got[2];
    bool shut[2], eof[2];
    int err;
    int chunk;
};

static bool step_xfer(void *arg) {
    struct xfer *x = arg;
    for (int i = 0; i < 2; i++) {
        struct net_socket *s = x->s[i];
        while (x->sent[i] < x->n) {
            size_t k = MIN((size_t)x->chunk, x->n - x->sent[i]);
            long r = net_send(s, x->src[i] + x->sent[i], k, 0);
            if (r == -EAGAIN)
                break;
            if (r <= 0) {
                x->err = (int)r;
                return true;
            }
            x->sent[i] += (size_t)r;
        }
        if (x->sent[i] == x->n && !x->shut[i]) {
            if (net_shutdown(s, NET_SHUT_WR) != 0) {
                x->err = -1000;
                return true;
            }
            x->shut[i] = true;
        }
        for (;;) {
            long r = net_recv(s, x->dst[i] + x->got[i], MIN((size_t)9000, x->n + 1 - x->got[i]), 0);
            if (r == -EAGAIN)
                break;
            if (r < 0) {
                x->err = (int)r;
                return true;
            }
            if (r == 0) {
                x->eof[i] = true;
                break;
            }
            x->got[i] += (size_t)r;
            if (x->got[i] > x->n) {
                x->err = -2000;
                return true;
            }
        }
    }
    return x->eof[0] && x->eof[1] && x->shut[0] && x->shut[1];
}

static int bulk_quiet;

static void bulk(struct impair imp, size_t n, const char *what) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    l.imp = imp;
    l.latency_ns = 50000;
    size_t base_a = net_memory_bytes(l.a.st), base_b = net_memory_bytes(l.b.st);
    struct pair p = {0};
    CHECK(connect_pair(&l, 80, &p, true), "%s: connect", what);
    uint8_t *src0 = malloc(n), *src1 = malloc(n), *dst0 = malloc(n + 1), *dst1 = malloc(n + 1);
    fill_pattern(src0, n, 1);
    fill_pattern(src1, n, 2);
    struct xfer x = {.s = {p.cli, p.srv}, .src = {src0, src1}, .dst = {dst0, dst1}, .n = n, .chunk = 7001};
    bool ok = link_run(&l, step_xfer, &x, MS(600000));
    bool data_ok = x.got[0] == n && x.got[1] == n && memcmp(dst0, src1, n) == 0 && memcmp(dst1, src0, n) == 0;
    free(src0);
    free(src1);
    free(dst0);
    free(dst1);
    CHECK(ok && x.err == 0, "%s: transfer did not finish: err %d sent %zu/%zu got %zu/%zu at t=%.1fs", what, x.err,
          x.sent[0], x.sent[1], x.got[0], x.got[1], (double)shim_now / 1e9);
    CHECK(data_ok, "%s: data mismatch", what);
    /* Both sides shut down writing and read EOF: both FINs get acknowledged (retransmitted if
     * lost), leaving TIME_WAIT or CLOSED. */
    settle(&l, MS(60000));
    CHECK(p.cli->state == TCP_TIME_WAIT || p.cli->state == TCP_CLOSED, "%s: client state %d", what, p.cli->state);
    CHECK(p.srv->state == TCP_CLOSED || p.srv->state == TCP_TIME_WAIT, "%s: server state %d", what, p.srv->state);
    net_close(p.cli);
    net_close(p.srv);
    net_close(p.lst);
    settle(&l, MS(10000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "%s: sockets left %d %d", what,
          net_socket_count(l.a.st), net_socket_count(l.b.st));
    CHECK(net_memory_bytes(l.a.st) == base_a && net_memory_bytes(l.b.st) == base_b, "%s: memory", what);
    if ((imp.loss || imp.dup || imp.reorder || imp.corrupt) && !bulk_quiet)
        fprintf(stderr, "    (%s: %llu frames, %llu lost, %llu duplicated, %llu reordered, %llu corrupted)\n", what,
                (unsigned long long)l.frames, (unsigned long long)l.dropped, (unsigned long long)l.duplicated,
                (unsigned long long)l.reordered, (unsigned long long)l.corrupted);
    link_free(&l);
}

static void test_tcp_bulk(void) { bulk((struct impair){0}, 1 << 20, "clean"); }
static void test_tcp_bulk_impaired(void) {
    bulk((struct impair){.loss = 20, .dup = 10, .reorder = 30, .corrupt = 10}, 1 << 20, "impaired");
}
static void test_tcp_heavy_loss(void) { bulk((struct impair){.loss = 150}, 200000, "15% loss"); }

static void test_tcp_seq_wrap(void) {
    shim_random_fixed = 1;
    shim_random_value = 0xfffff000u;
    bulk((struct impair){.loss = 10, .reorder = 10}, 300000, "wrap");
    shim_random_fixed = 0;
}

/* ----- connection semantics ----- */

static void test_tcp_basic(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    struct net_socket *lst, *cli, *srv;
    CHECK(net_socket(l.b.st, NET_SOCK_STREAM, &lst) == 0, "socket");
    struct net_addr ba = {NET_IP_ANY, 8080};
    CHECK(net_bind(lst, &ba) == 0 && net_listen(lst, 4) == 0, "listen");
    CHECK(net_accept(lst, &srv, NULL) == -EAGAIN, "accept EAGAIN");
    CHECK(net_socket(l.a.st, NET_SOCK_STREAM, &cli) == 0, "socket");
    uint8_t buf[64];
    CHECK(net_recv(cli, buf, 1, 0) == -ENOTCONN && net_send(cli, "x", 1, 0) == -ENOTCONN, "ENOTCONN");
    struct net_addr to = {B_IP, 8080};
    CHECK(net_connect(cli, &to) == -EINPROGRESS, "EINPROGRESS");
    CHECK(net_connect(cli, &to) == -EALREADY, "EALREADY");
    CHECK((net_socket_poll(cli) & NET_POLLOUT) == 0, "writable before connected");
    CHECK(net_send(cli, "x", 1, 0) == -EAGAIN, "send while connecting");
    settle(&l, MS(100));
    CHECK(cli->state == TCP_ESTABLISHED, "state %d", cli->state);
    CHECK(net_connect(cli, &to) == -EISCONN, "EISCONN");
    CHECK(net_socket_poll(lst) & NET_POLLIN, "listener not readable");
    struct net_addr peer;
    CHECK(net_accept(lst, &srv, &peer) == 0 && peer.ip == A_IP, "accept");
    struct net_addr sn, pn;
    net_getsockname(cli, &sn);
    net_getpeername(srv, &pn);
    CHECK(sn.ip == A_IP && pn.ip == A_IP && pn.port == sn.port, "names");
    CHECK(net_getpeername(lst, &pn) == -ENOTCONN, "listener peername");
    CHECK(srv->mss == 1460 && cli->mss == 1460, "mss %u %u", srv->mss, cli->mss);
    CHECK(net_send(cli, "hello", 5, 0) == 5, "send");
    settle(&l, MS(100));
    CHECK(net_recv(srv, buf, sizeof buf, NET_MSG_PEEK) == 5, "peek");
    CHECK(net_recv(srv, buf, sizeof buf, 0) == 5 && memcmp(buf, "hello", 5) == 0, "recv");
    CHECK(net_recv(srv, buf, sizeof buf, 0) == -EAGAIN, "EAGAIN");
    /* Half close: the client shuts writing; the server reads EOF and can still answer. */
    CHECK(net_shutdown(cli, NET_SHUT_WR) == 0, "shutdown");
    CHECK(net_send(cli, "x", 1, 0) == -EPIPE, "EPIPE after SHUT_WR");
    settle(&l, MS(100));
    CHECK(net_recv(srv, buf, sizeof buf, 0) == 0, "EOF");
    CHECK(net_socket_poll(srv) & NET_POLLRDHUP, "RDHUP");
    CHECK(srv->state == TCP_CLOSE_WAIT && cli->state == TCP_FIN_WAIT_2, "states %d %d", srv->state, cli->state);
    CHECK(net_send(srv, "bye", 3, 0) == 3, "send in CLOSE_WAIT");
    settle(&l, MS(100));
    CHECK(net_recv(cli, buf, sizeof buf, 0) == 3, "recv in FIN_WAIT_2");
    net_close(srv);
    settle(&l, MS(100));
    CHECK(cli->state == TCP_TIME_WAIT, "client state %d", cli->state);
    CHECK(net_recv(cli, buf, sizeof buf, 0) == 0, "EOF at client");
    /* TIME_WAIT lasts 2 MSL, then the connection is gone. */
    shim_now += 2 * NET_TCP_MSL_NS - MS(10);
    link_pump(&l);
    CHECK(cli->state == TCP_TIME_WAIT, "TIME_WAIT ended early");
    shim_now += MS(20);
    link_pump(&l);
    CHECK(cli->state == TCP_CLOSED, "TIME_WAIT did not end");
    net_close(cli);
    net_close(lst);
    settle(&l, MS(5000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left");
    link_free(&l);
}

static void test_tcp_refused_and_reset(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    struct net_socket *c;
    CHECK(net_socket(l.a.st, NET_SOCK_STREAM, &c) == 0, "socket");
    struct net_addr to = {B_IP, 9};
    CHECK(net_connect(c, &to) == -EINPROGRESS, "connect");
    settle(&l, MS(100));
    unsigned ev = net_socket_poll(c);
    CHECK((ev & NET_POLLERR) && (ev & NET_POLLOUT) && (ev & NET_POLLHUP), "poll %x", ev);
    int err = 0;
    CHECK(net_getsockopt(c, NET_SOL_SOCKET, NET_SO_ERROR, &err) == 0 && err == ECONNREFUSED, "SO_ERROR %d", err);
    net_close(c);

    /* Closing with unread data resets the connection; the peer sees ECONNRESET, then EPIPE. */
    struct pair p = {0};
    CHECK(connect_pair(&l, 80, &p, true), "connect");
    CHECK(net_send(p.cli, "unread", 6, 0) == 6, "send");
    settle(&l, MS(100));
    net_close(p.srv);
    settle(&l, MS(100));
    uint8_t buf[16];
    CHECK(net_recv(p.cli, buf, sizeof buf, 0) == -ECONNRESET, "ECONNRESET");
    CHECK(net_send(p.cli, "x", 1, 0) == -EPIPE, "EPIPE after reset");
    net_close(p.cli);

    /* A forged RST: out of window ignored, in window accepted. */
    CHECK(connect_pair(&l, 80, &p, false), "connect 2");
    uint8_t f[128];
    uint32_t rn = p.cli->rcv_nxt;
    size_t n = build_tcp(f, l.a.nif.mac, B_IP, A_IP, 80, p.cli->local.port, rn + 200000, 0, TCP_RST, 0, NULL, 0);
    net_input(&l.a.nif, f, n);
    CHECK(p.cli->state == TCP_ESTABLISHED, "out-of-window RST accepted");
    n = build_tcp(f, l.a.nif.mac, B_IP, A_IP, 80, p.cli->local.port, rn + 100, 0, TCP_RST, 0, NULL, 0);
    net_input(&l.a.nif, f, n);
    CHECK(p.cli->state == TCP_CLOSED, "in-window RST ignored");
    CHECK(net_recv(p.cli, buf, sizeof buf, 0) == -ECONNRESET, "ECONNRESET after RST");
    net_close(p.cli);
    settle(&l, MS(100));
    /* The server side still thinks it is connected; its data now draws a RST from A. */
    CHECK(net_send(p.srv, "x", 1, 0) == 1, "send");
    settle(&l, MS(100));
    CHECK(p.srv->state == TCP_CLOSED && net_recv(p.srv, buf, sizeof buf, 0) == -ECONNRESET, "server not reset");
    net_close(p.srv);
    net_close(p.lst);
    settle(&l, MS(10000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left");
    link_free(&l);
}

static void test_bind_rules(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    struct net_socket *s1, *s2, *s3, *u1, *u2;
    net_socket(l.b.st, NET_SOCK_STREAM, &s1);
    net_socket(l.b.st, NET_SOCK_STREAM, &s2);
    net_socket(l.b.st, NET_SOCK_STREAM, &s3);
    struct net_addr a = {NET_IP_ANY, 5000}, bad = {NET_IP(1, 2, 3, 4), 5000}, mine = {B_IP, 5000};
    CHECK(net_bind(s1, &bad) == -EADDRNOTAVAIL, "not our address");
    CHECK(net_bind(s1, &a) == 0 && net_listen(s1, 1) == 0, "bind");
    CHECK(net_bind(s1, &a) == -EINVAL, "bind twice");
    CHECK(net_bind(s2, &mine) == -EADDRINUSE, "EADDRINUSE");
    net_setsockopt(s2, NET_SOL_SOCKET, NET_SO_REUSEADDR, 1);
    CHECK(net_bind(s2, &mine) == -EADDRINUSE, "reuseaddr does not share a listener's port");
    net_close(s1);
    CHECK(net_bind(s2, &mine) == 0, "port free after close");
    net_setsockopt(s2, NET_SOL_SOCKET, NET_SO_REUSEPORT, 1);
    net_setsockopt(s3, NET_SOL_SOCKET, NET_SO_REUSEPORT, 1);
    CHECK(net_bind(s3, &mine) == 0 && net_listen(s2, 1) == 0 && net_listen(s3, 1) == 0, "reuseport");
    int v = 0;
    CHECK(net_getsockopt(s3, NET_SOL_SOCKET, NET_SO_REUSEPORT, &v) == 0 && v == 1, "getsockopt");
    CHECK(net_setsockopt(s3, 99, 1, 1) == -ENOPROTOOPT, "unknown level");
    CHECK(net_setsockopt(s3, NET_SOL_SOCKET, NET_SO_RCVBUF, 1) == 0 && s3->rcvbuf == NET_BUF_MIN, "rcvbuf clamp");
    net_getsockopt(s3, NET_SOL_SOCKET, NET_SO_TYPE, &v);
    CHECK(v == NET_SOCK_STREAM, "SO_TYPE");
    net_socket(l.b.st, NET_SOCK_DGRAM, &u1);
    net_socket(l.b.st, NET_SOCK_DGRAM, &u2);
    CHECK(net_bind(u1, &a) == 0 && net_bind(u2, &a) == -EADDRINUSE, "udp EADDRINUSE");
    CHECK(net_listen(u1, 1) == -EOPNOTSUPP, "listen on udp");
    CHECK(net_socket(l.b.st, 3, &u2) == -EPROTONOSUPPORT, "bad type");
    net_close(s2);
    net_close(s3);
    net_close(u1);
    net_close(u2);
    CHECK(net_socket_count(l.b.st) == 0, "sockets left %d", net_socket_count(l.b.st));
    link_free(&l);
}

/* ----- flow control, retransmission, timeouts ----- */

struct zw_arg {
    struct net_socket *cli;
    const uint8_t *src;
    size_t n, sent;
};

static bool step_fill(void *arg) {
    struct zw_arg *z = arg;
    while (z->sent < z->n) {
        long r = net_send(z->cli, z->src + z->sent, z->n - z->sent, 0);
        if (r <= 0)
            break;
        z->sent += (size_t)r;
    }
    return false;
}

static void test_zero_window(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    l.latency_ns = 50000;
    struct pair p = {0};
    struct net_socket *lst;
    CHECK(net_socket(l.b.st, NET_SOCK_STREAM, &lst) == 0, "socket");
    net_setsockopt(lst, NET_SOL_SOCKET, NET_SO_RCVBUF, 4096);
    struct net_addr ba = {NET_IP_ANY, 80};
    CHECK(net_bind(lst, &ba) == 0 && net_listen(lst, 4) == 0, "listen");
    p.lst = lst;
    CHECK(connect_pair(&l, 80, &p, false), "connect");
    size_t n = 100000;
    uint8_t *src = malloc(n), *dst = malloc(n);
    fill_pattern(src, n, 5);
    struct zw_arg z = {p.cli, src, n, 0};
    /* The receiver reads nothing: the window closes, the sender probes for a long time. */
    link_run(&l, step_fill, &z, MS(120000));
    CHECK(p.srv->rcvq.len == 4096, "receiver holds %zu", p.srv->rcvq.len);
    CHECK(tcp_rcv_window(p.srv) == 0 && p.cli->snd_wnd == 0, "window not zero");
    CHECK(p.cli->state == TCP_ESTABLISHED && p.cli->persisting, "sender not persisting (state %d)", p.cli->state);
    CHECK(z.sent < n && z.sent >= 4096, "sent %zu", z.sent);
    /* Now read everything: window updates restart the flow. */
    size_t got = 0;
    for (int round = 0; round < 100000 && got < n; round++) {
        long r = net_recv(p.srv, dst + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        step_fill(&z);
        link_pump(&l);
        if (r == -EAGAIN && !l.q[0].count && !l.q[1].count) {
            uint64_t d = MIN(net_next_deadline_ns(l.a.st), net_next_deadline_ns(l.b.st));
            if (d != UINT64_MAX && d > shim_now)
                shim_now = d;
        }
    }
    CHECK(got == n && memcmp(src, dst, n) == 0, "got %zu of %zu", got, n);
    free(src);
    free(dst);
    net_close(p.cli);
    net_close(p.srv);
    net_close(lst);
    settle(&l, MS(10000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left");
    link_free(&l);
}

static void test_timeouts(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    size_t base_a = net_memory_bytes(l.a.st);
    struct pair p = {0};
    CHECK(connect_pair(&l, 80, &p, true), "connect");
    /* The link dies: retransmissions back off, then the connection times out. */
    l.imp.loss = 1000;
    CHECK(net_send(p.cli, "data", 4, 0) == 4, "send");
    uint64_t t0 = shim_now, last = 0, prev_gap = 0;
    int grew = 0;
    for (int i = 0; i < 40 && p.cli->state != TCP_CLOSED; i++) {
        uint64_t d = net_next_deadline_ns(l.a.st);
        uint64_t gap = d - shim_now;
        if (prev_gap && gap > prev_gap)
            grew++;
        prev_gap = gap;
        shim_now = d;
        link_pump(&l);
        last = shim_now;
    }
    CHECK(p.cli->state == TCP_CLOSED, "no timeout");
    CHECK(grew >= 5, "RTO did not back off (%d)", grew);
    uint8_t buf[8];
    CHECK(net_recv(p.cli, buf, sizeof buf, 0) == -ETIMEDOUT, "ETIMEDOUT");
    fprintf(stderr, "    (data timeout after %.0f s)\n", (double)(last - t0) / 1e9);
    net_close(p.cli);
    /* Connecting to a host that never answers ARP or SYN. */
    struct net_socket *c;
    net_socket(l.a.st, NET_SOCK_STREAM, &c);
    struct net_addr to = {NET_IP(10, 0, 0, 99), 80};
    CHECK(net_connect(c, &to) == -EINPROGRESS, "connect");
    t0 = shim_now;
    for (int i = 0; i < 100 && c->state != TCP_CLOSED; i++) {
        shim_now = net_next_deadline_ns(l.a.st);
        link_pump(&l);
    }
    CHECK(c->state == TCP_CLOSED && c->error == ETIMEDOUT, "connect did not time out");
    fprintf(stderr, "    (connect timeout after %.0f s)\n", (double)(shim_now - t0) / 1e9);
    net_close(c);
    /* No route: off-subnet with no gateway. */
    net_configure(&l.a.nif, A_IP, 0xffffff00u, 0, 0);
    net_socket(l.a.st, NET_SOCK_STREAM, &c);
    struct net_addr far = {NET_IP(8, 8, 8, 8), 80};
    CHECK(net_connect(c, &far) == -ENETUNREACH, "ENETUNREACH");
    net_close(c);
    shim_now += MS(200000);
    net_poll(l.a.st, shim_now);
    net_close(p.srv);
    net_close(p.lst);
    CHECK(net_memory_bytes(l.a.st) == base_a, "memory");
    link_free(&l);
}

static void test_syn_flood(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    size_t base_b = net_memory_bytes(l.b.st);
    struct pair p = {0};
    CHECK(connect_pair(&l, 80, &p, true), "connect");
    size_t before = shim_heap_bytes;
    uint8_t f[128];
    for (int i = 0; i < 5000; i++) {
        uint32_t src = NET_IP(10, 0, 0, 100 + i % 100);   /* on-link, never answering ARP */
        size_t n = build_tcp(f, l.b.nif.mac, src, B_IP, (uint16_t)(1024 + i), 80, (uint32_t)i * 7919u, 0, TCP_SYN, 65535,
                             NULL, 0);
        net_input(&l.b.nif, f, n);
        if (i % 500 == 0)
            link_pump(&l);
    }
    size_t grown = shim_heap_bytes - before;
    CHECK(p.lst->syn_q_len <= NET_SYN_QUEUE_MAX, "syn queue %d", p.lst->syn_q_len);
    CHECK(net_socket_count(l.b.st) <= NET_SYN_QUEUE_MAX + 3, "sockets %d", net_socket_count(l.b.st));
    CHECK(grown < 512 * 1024, "memory grew by %zu", grown);
    fprintf(stderr, "    (5000 SYNs: %d half-open kept, heap +%zu bytes)\n", p.lst->syn_q_len, grown);
    /* The established connection still works, and a new one gets through. */
    uint8_t buf[16];
    CHECK(net_send(p.cli, "ping", 4, 0) == 4, "send");
    settle(&l, MS(50));
    CHECK(net_recv(p.srv, buf, sizeof buf, 0) == 4, "existing connection broken");
    struct pair q = {.lst = p.lst};
    CHECK(connect_pair(&l, 80, &q, false), "new connection refused");
    net_close(q.cli);
    net_close(q.srv);
    net_close(p.cli);
    net_close(p.srv);
    /* The half-open connections give up after their SYN-ACK retries. */
    settle(&l, MS(400000));
    CHECK(p.lst->syn_q_len == 0, "half-open left %d", p.lst->syn_q_len);
    net_close(p.lst);
    settle(&l, MS(10000));
    CHECK(net_memory_bytes(l.b.st) == base_b, "memory %zu vs %zu", net_memory_bytes(l.b.st), base_b);
    link_free(&l);
}

/* ----- garbage in ----- */

static void test_malformed(void) {
    struct host h;
    host_capture_init(&h, B_IP, 2);
    teach_x(&h);
    size_t base = net_memory_bytes(h.st);
    struct net_socket *lst, *u;
    net_socket(h.st, NET_SOCK_STREAM, &lst);
    struct net_addr ba = {NET_IP_ANY, 80};
    net_bind(lst, &ba);
    net_listen(lst, 8);
    net_socket(h.st, NET_SOCK_DGRAM, &u);
    struct net_addr ua = {NET_IP_ANY, 53};
    net_bind(u, &ua);
    uint8_t good[5][1600];
    size_t glen[5];
    uint8_t data[200];
    fill_pattern(data, sizeof data, 9);
    glen[0] = build_arp(good[0], 1, X_MAC, X_IP, ZERO6, B_IP, BCAST);
    glen[1] = build_echo(good[1], h.nif.mac, X_IP, B_IP, 1, 1, data, 64);
    glen[2] = build_udp(good[2], h.nif.mac, X_IP, B_IP, 999, 53, data, 100);
    glen[3] = build_tcp(good[3], h.nif.mac, X_IP, B_IP, 4000, 80, 1000, 0, TCP_SYN, 65535, NULL, 0);
    glen[4] = build_tcp(good[4], h.nif.mac, X_IP, B_IP, 4001, 80, 1000, 5, TCP_ACK | TCP_PSH, 65535, data, 200);
    uint8_t f[70000];
    uint64_t frames = 0;
    /* Every truncation of every good frame. */
    for (int g = 0; g < 5; g++)
        for (size_t n = 0; n <= glen[g]; n++, frames++)
            net_input(&h.nif, good[g], n);
    /* Every single-byte corruption (bit flips and 0x00/0xff) of every good frame. */
    for (int g = 0; g < 5; g++)
        for (size_t i = 0; i < glen[g]; i++)
            for (int k = 0; k < 3; k++, frames++) {
                memcpy(f, good[g], glen[g]);
                f[i] = k == 0 ? (uint8_t)(f[i] ^ 0x80) : k == 1 ? 0 : 0xff;
                net_input(&h.nif, f, glen[g]);
            }
    /* Length fields that lie: IP total length, IHL, UDP length, TCP data offset. */
    uint16_t lies[] = {0, 1, 19, 20, 21, 27, 28, 100, 1500, 1501, 65535};
    for (int g = 1; g < 5; g++)
        for (size_t j = 0; j < ARRAY_LEN(lies); j++) {
            memcpy(f, good[g], glen[g]);
            uint8_t *ip = f + ETH_HLEN;
            wr16(ip + 2, lies[j]);
            wr16(ip + 10, 0);
            wr16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
            net_input(&h.nif, f, glen[g]);
            for (int ihl = 0; ihl < 16; ihl++) {
                memcpy(f, good[g], glen[g]);
                ip[0] = (uint8_t)(0x40 | ihl);
                wr16(ip + 10, 0);
                wr16(ip + 10, csum_fold(csum_add(0, ip, (size_t)ihl * 4 <= glen[g] - 14 ? (size_t)ihl * 4 : 20)));
                net_input(&h.nif, f, glen[g]);
            }
            memcpy(f, good[2], glen[2]);
            wr16(f + L4_OFF + 4, lies[j]);
            net_input(&h.nif, f, glen[2]);
            for (int off = 0; off < 16; off++) {
                memcpy(f, good[4], glen[4]);
                f[L4_OFF + 12] = (uint8_t)(off << 4);
                net_input(&h.nif, f, glen[4]);
            }
            frames += 34;
        }
    /* TCP options that lie about their lengths, with a valid checksum. */
    uint8_t bad_opts[][8] = {{2, 4, 5}, {2, 0, 0, 0}, {2, 40, 1, 1}, {3, 1, 1, 1}, {1, 1, 1, 2}, {8, 10, 0, 0}, {2, 3, 1, 1}, {2, 4, 0, 0}};
    for (size_t j = 0; j < ARRAY_LEN(bad_opts); j++) {
        memcpy(f, good[3], glen[3]);
        uint8_t *t = f + L4_OFF;
        memcpy(t + 20, bad_opts[j], 4);
        t[12] = 6 << 4;
        wr16(t + 2, 80);
        wr16(t, (uint16_t)(5000 + j));
        wr16(t + 16, 0);
        wr16(t + 16, csum_fold(csum_add(csum_pseudo(X_IP, B_IP, IP_PROTO_TCP, 24), t, 24)));
        put_ip(f, X_IP, B_IP, IP_PROTO_TCP, 24);
        net_input(&h.nif, f, L4_OFF + 24);
        frames++;
    }
    /* Oversized frames and random garbage. */
    memset(f, 0xff, sizeof f);
    net_input(&h.nif, f, sizeof f);
    memcpy(f, good[1], glen[1]);
    net_input(&h.nif, f, 9000);
    net_input(&h.nif, NULL, 0);
    uint64_t r = 88172645463325252ull;
    for (int i = 0; i < 200000; i++, frames++) {
        int g = i % 5;
        size_t n = glen[g];
        memcpy(f, good[g], n);
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int flips = 1 + (int)(r % 4);
        for (int k = 0; k < flips; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            f[12 + r % (n - 12)] = (uint8_t)(r >> 32);
        }
        if (r & (1ull << 40))
            n = (size_t)((r >> 20) % (n + 1));
        net_input(&h.nif, f, n);
        if ((i & 1023) == 0) {
            shim_now += MS(10);
            net_poll(h.st, shim_now);
            fq_clear(&h.captured);
        }
    }
    fq_clear(&h.captured);
    CHECK(h.nif.stats.rx_dropped > 0, "nothing counted as dropped");
    fprintf(stderr, "    (%llu bad frames, %llu counted dropped)\n", (unsigned long long)frames,
            (unsigned long long)h.nif.stats.rx_dropped);
    /* Still answering. */
    net_input(&h.nif, good[1], glen[1]);
    struct fq_frame *fr = fq_pop(&h.captured);
    CHECK(fr && fr->data[L4_OFF] == 0, "no echo reply after garbage");
    free(fr);
    net_close(lst);
    net_close(u);
    shim_now += MS(400000);
    for (int i = 0; i < 100; i++) {
        net_poll(h.st, shim_now);
        shim_now += MS(5000);
    }
    fq_clear(&h.captured);
    CHECK(net_socket_count(h.st) == 0, "sockets left %d", net_socket_count(h.st));
    CHECK(net_memory_bytes(h.st) == base, "memory %zu vs %zu", net_memory_bytes(h.st), base);
    host_free(&h);
}

/* ----- many connections ----- */

struct seq_arg {
    struct net_socket *lst, *cli, *srv;
    int phase;
    bool bad;
};

static bool step_seq(void *arg) {
    struct seq_arg *a = arg;
    uint8_t buf[64];
    long r;
    switch (a->phase) {
    case 0:
        if (net_accept(a->lst, &a->srv, NULL) == 0)
            a->phase = 1;
        return false;
    case 1:
        r = net_recv(a->srv, buf, sizeof buf, 0);
        if (r == 5) {
            if (net_send(a->srv, "world", 5, 0) != 5)
                a->bad = true;
            net_close(a->srv);
            a->phase = 2;
        } else if (r != -EAGAIN) {
            a->bad = true;
            return true;
        }
        return false;
    case 2:
        r = net_recv(a->cli, buf, sizeof buf, 0);
        if (r == 5) {
            a->phase = 3;
        } else if (r != -EAGAIN) {
            a->bad = true;
            return true;
        }
        return false;
    case 3:
        r = net_recv(a->cli, buf, sizeof buf, 0);
        if (r == 0) {
            net_close(a->cli);
            return true;
        }
        if (r != -EAGAIN)
            a->bad = true;
        return r != -EAGAIN;
    }
    return true;
}

static void test_many_connections(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    l.latency_ns = 20000;
    struct seq_arg a = {0};
    net_socket(l.b.st, NET_SOCK_STREAM, &a.lst);
    struct net_addr ba = {NET_IP_ANY, 80};
    CHECK(net_bind(a.lst, &ba) == 0 && net_listen(a.lst, 128) == 0, "listen");
    /* Warm up the ARP caches, then take the baseline. */
    struct net_socket *w;
    net_socket(l.a.st, NET_SOCK_STREAM, &w);
    struct net_addr to = {B_IP, 80};
    net_connect(w, &to);
    settle(&l, MS(100));
    struct net_socket *ws;
    net_accept(a.lst, &ws, NULL);
    net_close(w);
    net_close(ws);
    settle(&l, MS(10000));
    size_t base_a = net_memory_bytes(l.a.st), base_b = net_memory_bytes(l.b.st), base_heap = shim_heap_bytes;
    size_t peak_a = 0, peak_b = 0;
    for (int i = 0; i < 10000; i++) {
        CHECK(net_socket(l.a.st, NET_SOCK_STREAM, &a.cli) == 0, "socket %d", i);
        CHECK(net_connect(a.cli, &to) == -EINPROGRESS, "connect %d", i);
        CHECK(net_send(a.cli, "hello", 5, 0) == -EAGAIN, "early send");
        while (!(net_socket_poll(a.cli) & (NET_POLLOUT | NET_POLLERR)))
            if (!link_pump(&l))
                break;
        CHECK(net_send(a.cli, "hello", 5, 0) == 5, "send %d (state %d)", i, a.cli->state);
        a.phase = 0;
        CHECK(link_run(&l, step_seq, &a, MS(10000)) && !a.bad, "connection %d failed in phase %d", i, a.phase);
        peak_a = MAX(peak_a, net_memory_bytes(l.a.st));
        peak_b = MAX(peak_b, net_memory_bytes(l.b.st));
        shim_now += MS(1);
    }
    settle(&l, MS(10000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 1, "sockets %d %d", net_socket_count(l.a.st),
          net_socket_count(l.b.st));
    CHECK(net_memory_bytes(l.a.st) == base_a && net_memory_bytes(l.b.st) == base_b, "memory %zu/%zu vs %zu/%zu",
          net_memory_bytes(l.a.st), net_memory_bytes(l.b.st), base_a, base_b);
    CHECK(shim_heap_bytes == base_heap, "heap %zu vs %zu", shim_heap_bytes, base_heap);
    fprintf(stderr, "    (peak stack memory during the run: A %zu, B %zu bytes)\n", peak_a, peak_b);
    net_close(a.lst);
    link_free(&l);
}

/* ----- loopback ----- */

static void test_loopback(void) {
    struct host h;
    host_capture_init(&h, B_IP, 2);
    struct net_stack *st = h.st;
    struct net_socket *lst, *c, *s;
    net_socket(st, NET_SOCK_STREAM, &lst);
    struct net_addr ba = {NET_IP_ANY, 7000};
    CHECK(net_bind(lst, &ba) == 0 && net_listen(lst, 4) == 0, "listen");
    uint32_t targets[2] = {NET_IP_LOOPBACK, B_IP};
    for (int t = 0; t < 2; t++) {
        net_socket(st, NET_SOCK_STREAM, &c);
        struct net_addr to = {targets[t], 7000};
        CHECK(net_connect(c, &to) == -EINPROGRESS, "connect");
        for (int i = 0; i < 10; i++)
            net_poll(st, shim_now);
        CHECK(net_accept(lst, &s, NULL) == 0, "accept over loopback");
        CHECK(net_send(c, "loop", 4, 0) == 4, "send");
        for (int i = 0; i < 10; i++)
            net_poll(st, shim_now);
        uint8_t buf[8];
        CHECK(net_recv(s, buf, sizeof buf, 0) == 4 && memcmp(buf, "loop", 4) == 0, "recv");
        net_close(c);
        net_close(s);
        for (int i = 0; i < 10; i++)
            net_poll(st, shim_now);
    }
    CHECK(h.captured.count == 1, "loopback traffic reached the wire (%d)", h.captured.count);   /* the announcement */
    net_close(lst);
    struct net_socket *u1, *u2;
    net_socket(st, NET_SOCK_DGRAM, &u1);
    net_socket(st, NET_SOCK_DGRAM, &u2);
    struct net_addr ua = {NET_IP_LOOPBACK, 53};
    CHECK(net_bind(u1, &ua) == 0, "bind lo");
    CHECK(net_sendto(u2, "dns", 3, 0, &ua) == 3, "sendto lo");
    net_poll(st, shim_now);
    struct net_addr from;
    uint8_t buf[8];
    CHECK(net_recvfrom(u1, buf, sizeof buf, 0, &from) == 3 && from.ip == NET_IP_LOOPBACK, "recv lo");
    net_close(u1);
    net_close(u2);
    shim_now += MS(5000);
    net_poll(st, shim_now);
    CHECK(net_socket_count(st) == 0, "sockets left %d", net_socket_count(st));
    host_free(&h);
}

static void test_loopback_only(void) {
    struct net_stack *st = net_create(NULL);
    CHECK(st, "create");
    struct net_socket *u;
    net_socket(st, NET_SOCK_DGRAM, &u);
    struct net_addr far = {NET_IP(10, 0, 0, 1), 9};
    CHECK(net_sendto(u, "x", 1, 0, &far) == -ENETUNREACH, "no interface");
    net_close(u);
    net_destroy(st);
}

/* ----- Nagle and simultaneous close ----- */

static int count_data_frames(struct link *l, int side) {
    int n = 0;
    for (struct fq_frame *f = l->q[side].head; f; f = f->next) {
        const uint8_t *ip = f->data + ETH_HLEN;
        if (ip[9] == IP_PROTO_TCP) {
            size_t hl = (size_t)(ip[0] & 0xf) * 4;
            size_t tl = rd16(ip + 2) - hl;
            if (tl > (size_t)((ip[hl + 12] >> 4) * 4))
                n++;
        }
    }
    return n;
}

static void test_nagle_and_simultaneous_close(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    struct pair p = {0};
    CHECK(connect_pair(&l, 80, &p, true), "connect");
    for (int i = 0; i < 20; i++)
        net_send(p.cli, "x", 1, 0);
    int nagle = count_data_frames(&l, 1);
    settle(&l, MS(1000));
    net_setsockopt(p.cli, NET_IPPROTO_TCP, NET_TCP_NODELAY, 1);
    for (int i = 0; i < 20; i++)
        net_send(p.cli, "y", 1, 0);
    int nodelay = count_data_frames(&l, 1);
    CHECK(nagle == 1 && nodelay == 20, "nagle %d nodelay %d", nagle, nodelay);
    settle(&l, MS(1000));
    uint8_t buf[64];
    CHECK(net_recv(p.srv, buf, sizeof buf, 0) == 40, "data");
    /* Both close at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both sides. */
    net_shutdown(p.cli, NET_SHUT_WR);
    net_shutdown(p.srv, NET_SHUT_WR);
    settle(&l, MS(100));
    CHECK(p.cli->state == TCP_TIME_WAIT && p.srv->state == TCP_TIME_WAIT, "states %d %d", p.cli->state, p.srv->state);
    net_close(p.cli);
    net_close(p.srv);
    net_close(p.lst);
    settle(&l, MS(10000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left");
    link_free(&l);
}

static void test_backlog(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    struct net_socket *lst, *c[5], *s;
    net_socket(l.b.st, NET_SOCK_STREAM, &lst);
    struct net_addr ba = {NET_IP_ANY, 80};
    net_bind(lst, &ba);
    net_listen(lst, 2);
    struct net_addr to = {B_IP, 80};
    for (int i = 0; i < 5; i++) {
        net_socket(l.a.st, NET_SOCK_STREAM, &c[i]);
        net_connect(c[i], &to);
    }
    settle(&l, MS(500));
    CHECK(lst->accept_q_len == 2, "accept queue %d", lst->accept_q_len);
    int accepted = 0;
    for (int round = 0; round < 200 && accepted < 5; round++) {
        while (net_accept(lst, &s, NULL) == 0) {
            accepted++;
            net_close(s);
        }
        shim_now = MIN(net_next_deadline_ns(l.a.st), net_next_deadline_ns(l.b.st));
        link_pump(&l);
    }
    CHECK(accepted == 5, "accepted %d", accepted);
    for (int i = 0; i < 5; i++)
        net_close(c[i]);
    net_close(lst);
    settle(&l, MS(100000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left %d %d", net_socket_count(l.a.st),
          net_socket_count(l.b.st));
    link_free(&l);
}


/* ----- many at once, readiness ----- */

#define NCONC 200
struct conc_arg {
    struct net_socket *lst, *cli[NCONC], *srv[NCONC];
    size_t sent[NCONC], echoed[NCONC], got[NCONC];
    int nsrv, done;
    bool bad;
};
#define CONC_BYTES 20000

static bool step_conc(void *arg) {
    struct conc_arg *a = arg;
    struct net_socket *s;
    while (a->nsrv < NCONC && net_accept(a->lst, &s, NULL) == 0)
        a->srv[a->nsrv++] = s;
    uint8_t buf[4096], pat[4096];
    for (int i = 0; i < NCONC; i++) {
        if (!a->cli[i])
            continue;
        /* client i sends CONC_BYTES of pattern i */
        while (a->sent[i] < CONC_BYTES) {
            size_t k = MIN(sizeof pat, (size_t)CONC_BYTES - a->sent[i]);
            for (size_t j = 0; j < k; j++)
                pat[j] = (uint8_t)(i + a->sent[i] + j);
            long r = net_send(a->cli[i], pat, k, 0);
            if (r <= 0)
                break;
            a->sent[i] += (size_t)r;
        }
        long r = net_recv(a->cli[i], buf, sizeof buf, 0);
        if (r > 0) {
            for (long j = 0; j < r; j++)
                if (buf[j] != (uint8_t)(i + a->got[i] + (size_t)j))
                    a->bad = true;
            a->got[i] += (size_t)r;
            if (a->got[i] == CONC_BYTES) {
                net_close(a->cli[i]);
                a->cli[i] = NULL;
                a->done++;
            }
        } else if (r != -EAGAIN) {
            a->bad = true;
        }
    }
    /* servers echo */
    for (int i = 0; i < a->nsrv; i++) {
        if (!a->srv[i])
            continue;
        long r = net_recv(a->srv[i], buf, sizeof buf, NET_MSG_PEEK);
        if (r > 0) {
            long w = net_send(a->srv[i], buf, (size_t)r, 0);
            if (w > 0)
                net_recv(a->srv[i], buf, (size_t)w, 0);
        } else if (r == 0) {
            net_close(a->srv[i]);
            a->srv[i] = NULL;
        }
    }
    return a->bad || a->done == NCONC;
}

static void test_concurrent(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    l.latency_ns = 100000;
    l.imp.loss = 5;
    size_t base_a = net_memory_bytes(l.a.st), base_b = net_memory_bytes(l.b.st);
    static struct conc_arg a;
    memset(&a, 0, sizeof a);
    net_socket(l.b.st, NET_SOCK_STREAM, &a.lst);
    struct net_addr ba = {NET_IP_ANY, 80}, to = {B_IP, 80};
    CHECK(net_bind(a.lst, &ba) == 0 && net_listen(a.lst, NCONC) == 0, "listen");
    for (int i = 0; i < NCONC; i++) {
        CHECK(net_socket(l.a.st, NET_SOCK_STREAM, &a.cli[i]) == 0, "socket");
        CHECK(net_connect(a.cli[i], &to) == -EINPROGRESS, "connect");
    }
    bool ok = link_run(&l, step_conc, &a, MS(300000));
    CHECK(ok && !a.bad && a.done == NCONC, "done %d accepted %d bad %d", a.done, a.nsrv, a.bad);
    fprintf(stderr, "    (%d connections x %d bytes echoed; stack memory when done: A %zu B %zu)\n", NCONC, CONC_BYTES,
            net_memory_bytes(l.a.st), net_memory_bytes(l.b.st));
    settle(&l, MS(20000));
    for (int i = 0; i < a.nsrv; i++)
        if (a.srv[i])
            net_close(a.srv[i]);
    net_close(a.lst);
    settle(&l, MS(20000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left %d %d",
          net_socket_count(l.a.st), net_socket_count(l.b.st));
    CHECK(net_memory_bytes(l.a.st) == base_a && net_memory_bytes(l.b.st) == base_b, "memory");
    link_free(&l);
}

static void test_readiness(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    struct net_socket *lst, *c, *s;
    net_socket(l.b.st, NET_SOCK_STREAM, &lst);
    struct net_addr ba = {NET_IP_ANY, 80}, to = {B_IP, 80};
    net_bind(lst, &ba);
    net_listen(lst, 4);
    CHECK(net_socket_poll(lst) == 0, "idle listener %x", net_socket_poll(lst));
    net_socket(l.a.st, NET_SOCK_STREAM, &c);
    CHECK(net_socket_poll(c) == (NET_POLLOUT | NET_POLLHUP), "fresh socket %x", net_socket_poll(c));
    uint64_t g0 = net_generation(l.b.st);
    net_connect(c, &to);
    CHECK(net_socket_poll(c) == 0, "connecting %x", net_socket_poll(c));
    settle(&l, MS(100));
    CHECK(net_generation(l.b.st) != g0, "generation did not move");
    CHECK(net_socket_poll(lst) == NET_POLLIN, "listener %x", net_socket_poll(lst));
    net_accept(lst, &s, NULL);
    CHECK(net_socket_poll(s) == NET_POLLOUT && net_socket_poll(c) == NET_POLLOUT, "established %x %x",
          net_socket_poll(s), net_socket_poll(c));
    /* Fill the send buffer: not writable until the peer reads. */
    static uint8_t big[200000];
    long total = 0, r;
    while ((r = net_send(c, big, sizeof big, 0)) > 0)
        total += r;
    CHECK(r == -EAGAIN && !(net_socket_poll(c) & NET_POLLOUT), "still writable after %ld", total);
    settle(&l, MS(1000));
    CHECK(net_socket_poll(s) & NET_POLLIN, "not readable");
    uint8_t buf[65536];
    while (net_recv(s, buf, sizeof buf, 0) > 0)
        settle(&l, MS(100));
    CHECK(net_socket_poll(c) & NET_POLLOUT, "not writable after drain");
    net_shutdown(c, NET_SHUT_WR);
    settle(&l, MS(100));
    CHECK((net_socket_poll(s) & (NET_POLLIN | NET_POLLRDHUP)) == (NET_POLLIN | NET_POLLRDHUP), "peer FIN %x",
          net_socket_poll(s));
    net_close(s);
    settle(&l, MS(100));
    CHECK(net_socket_poll(c) & NET_POLLHUP, "HUP %x", net_socket_poll(c));
    net_close(c);
    net_close(lst);
    settle(&l, MS(10000));
    CHECK(net_socket_count(l.a.st) == 0 && net_socket_count(l.b.st) == 0, "sockets left");
    link_free(&l);
}

static int stress(int n);
static void test_stress_seeds(void) {
    uint64_t saved = link_seed;
    CHECK(stress(300) == 0, "seeded impaired transfers failed");
    link_seed = saved;
}

/* ----- the network policy (listen=, egress=) ----- */

static void test_policy_parse(void) {
    struct net_policy p;
    CHECK(net_policy_parse(&p, "80,8080", "10.0.0.2:80,10.0.0.0/8:*,0.0.0.0/0:53") && p.nlisten == 2 && p.negress == 3, "parse");
    CHECK(p.listen[1] == 8080 && p.egress[0].ip == B_IP && p.egress[0].mask == 0xffffffffu && p.egress[0].port == 80, "fields");
    CHECK(p.egress[1].ip == NET_IP(10, 0, 0, 0) && p.egress[1].mask == 0xff000000u && p.egress[1].port == 0, "cidr, any port");
    CHECK(p.egress[2].mask == 0 && p.egress[2].port == 53, "/0");
    CHECK(net_policy_parse(&p, NULL, NULL) && p.nlisten == 0 && p.negress == 0, "empty");
    const char *bad_listen[] = {"0", "65536", "80,", "80,x", ",80", "8O"};
    for (size_t i = 0; i < ARRAY_LEN(bad_listen); i++)
        CHECK(!net_policy_parse(&p, bad_listen[i], "10.0.0.2:80") && p.nlisten == 0 && p.negress == 0, "listen=%s", bad_listen[i]);
    const char *bad_egress[] = {"10.0.0.2", "10.0.0.2:0", "10.0.0.2:x", "10.0.0:80", "10.0.0.2/33:80", "host:80", "10.0.0.2:80,"};
    for (size_t i = 0; i < ARRAY_LEN(bad_egress); i++)
        CHECK(!net_policy_parse(&p, "80", bad_egress[i]) && p.nlisten == 0 && p.negress == 0, "egress=%s", bad_egress[i]);
    char many[NET_POLICY_MAX_LISTEN * 6 + 8] = "";
    for (int i = 1; i <= NET_POLICY_MAX_LISTEN + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i > 1 ? "," : "", i);
    CHECK(!net_policy_parse(&p, many, NULL), "too many ports");
    many[strlen(many) - 3] = 0;   /* drop ",65" */
    CHECK(net_policy_parse(&p, many, NULL) && p.nlisten == NET_POLICY_MAX_LISTEN, "the most ports");
}

static void test_policy(void) {
    struct link l;
    link_init(&l, A_IP, B_IP);
    size_t base_a = net_memory_bytes(l.a.st), base_b = net_memory_bytes(l.b.st);
    struct net_policy pa, pb;   /* a: a client of b:80 and b:53/udp; b: serves 80 and 53, reaches nothing */
    CHECK(net_policy_parse(&pa, NULL, "10.0.0.2:80,10.0.0.0/24:53"), "parse a");
    CHECK(net_policy_parse(&pb, "80,53", NULL), "parse b");
    net_set_policy(l.a.st, &pa);
    net_set_policy(l.b.st, &pb);

    /* Binding and listening: only declared ports; port 0 for a client is fine. */
    struct net_socket *t, *u;
    CHECK(net_socket(l.b.st, NET_SOCK_STREAM, &t) == 0, "socket");
    struct net_addr p81 = {NET_IP_ANY, 81}, p0 = {NET_IP_ANY, 0};
    CHECK(net_bind(t, &p81) == -EACCES && !t->bound, "bind 81");
    CHECK(net_listen(t, 1) == -EACCES && !t->bound, "listen unbound");
    CHECK(net_bind(t, &p0) == 0 && net_listen(t, 1) == -EACCES, "listen on an ephemeral port");
    net_close(t);
    CHECK(net_socket(l.b.st, NET_SOCK_DGRAM, &u) == 0, "socket");
    CHECK(net_bind(u, &p81) == -EACCES, "udp bind 81");
    net_close(u);
    CHECK(pb.refused == 4, "b refused %lu", (unsigned long)pb.refused);

    /* A declared connection works; an undeclared one is refused before any packet leaves. */
    struct pair p = {0};
    CHECK(connect_pair(&l, 80, &p, true), "connect to a declared target");
    CHECK(net_send(p.srv, "hi", 2, 0) == 2, "the server answers");
    struct net_socket *c;
    CHECK(net_socket(l.a.st, NET_SOCK_STREAM, &c) == 0, "socket");
    struct net_addr b81 = {B_IP, 81}, b7 = {B_IP, 7}, lo = {NET_IP_LOOPBACK, 7};
    uint64_t frames = l.a.nif.stats.tx_frames;
    CHECK(net_connect(c, &b81) == -EACCES, "connect to b:81");
    CHECK(l.a.nif.stats.tx_frames == frames, "a SYN left");
    CHECK(net_connect(c, &lo) != -EACCES, "loopback stays allowed");
    net_close(c);
    CHECK(net_socket(l.a.st, NET_SOCK_DGRAM, &u) == 0, "socket");
    CHECK(net_sendto(u, "x", 1, 0, &b7) == -EACCES, "sendto b:7");
    CHECK(net_connect(u, &b7) == -EACCES, "udp connect b:7");
    CHECK(pa.refused == 3, "a refused %lu", (unsigned long)pa.refused);

    /* A UDP server answers whoever asked, and nobody else. */
    struct net_socket *srv;
    struct net_addr p53 = {NET_IP_ANY, 53}, b53 = {B_IP, 53}, from, a9 = {A_IP, 9};
    CHECK(net_socket(l.b.st, NET_SOCK_DGRAM, &srv) == 0 && net_bind(srv, &p53) == 0, "udp server");
    CHECK(net_sendto(u, "q", 1, 0, &b53) == 1, "query");
    settle(&l, MS(100));
    char buf[8];
    CHECK(net_recvfrom(srv, buf, sizeof buf, 0, &from) == 1 && from.ip == A_IP, "query received");
    CHECK(net_sendto(srv, "a", 1, 0, &from) == 1, "answer");
    CHECK(net_sendto(srv, "a", 1, 0, &a9) == -EACCES, "send to someone else");
    settle(&l, MS(100));
    CHECK(net_recvfrom(u, buf, sizeof buf, 0, NULL) == 1 && buf[0] == 'a', "answer received");

    /* Refusals are logged up to a limit, then only counted. */
    for (int i = 0; i < NET_POLICY_LOG_MAX; i++)
        net_sendto(u, "x", 1, 0, &b7);
    CHECK(pa.refused == 3 + NET_POLICY_LOG_MAX, "counted");

    net_close(srv);
    net_close(u);
    net_close(p.cli);
    net_close(p.srv);
    net_close(p.lst);
    settle(&l, MS(10000));
    CHECK(net_memory_bytes(l.a.st) == base_a && net_memory_bytes(l.b.st) == base_b, "memory");
    link_free(&l);
}

/* ---------- runner ---------- */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"checksum and address parsing", test_checksum},
    {"arp: replies, resolution, queue, retries, gratuitous, expiry", test_arp},
    {"icmp: echo, bad checksum, fragments, options, port unreachable", test_icmp_echo},
    {"udp: echo, limits, bounded queue, ICMP error, broadcast", test_udp},
    {"tcp: handshake, states, half close, TIME_WAIT", test_tcp_basic},
    {"tcp: refused, reset on unread close, RST in window", test_tcp_refused_and_reset},
    {"socket: bind rules and options", test_bind_rules},
    {"tcp: 1 MB each way, clean link", test_tcp_bulk},
    {"tcp: 1 MB each way, loss+dup+reorder+corruption", test_tcp_bulk_impaired},
    {"tcp: 200 KB each way, 15% loss", test_tcp_heavy_loss},
    {"tcp: sequence numbers wrapping", test_tcp_seq_wrap},
    {"tcp: zero window and persist", test_zero_window},
    {"tcp: retransmission back-off and timeouts", test_timeouts},
    {"tcp: 5,000 SYNs without ACK", test_syn_flood},
    {"tcp: listen backlog", test_backlog},
    {"tcp: Nagle, TCP_NODELAY, simultaneous close", test_nagle_and_simultaneous_close},
    {"loopback: TCP and UDP to 127.0.0.1 and our own address", test_loopback},
    {"loopback-only stack", test_loopback_only},
    {"malformed frames", test_malformed},
    {"10,000 sequential connections, memory back to baseline", test_many_connections},
    {"200 concurrent connections echoing 20 KB each, 0.5% loss", test_concurrent},
    {"readiness bits and the change counter", test_readiness},
    {"network policy: parsing listen= and egress=", test_policy_parse},
    {"network policy: binds, listens, connects and sends refused; UDP answers allowed", test_policy},
    {"300 seeded transfers with random loss/dup/reorder/corruption mixes", test_stress_seeds},
};

/* NET_TEST_SEEDS=N: N extra impaired transfers with different link seeds and mixes. */
static int stress(int n) {
    int failures = 0;
    int from = getenv("NET_TEST_SEED_FROM") ? atoi(getenv("NET_TEST_SEED_FROM")) : 1;
    int was_failed = test_failed;
    link_trace = getenv("NET_TRACE") != NULL;
    for (int i = from; i < from + n; i++) {
        link_seed = 0x9e3779b97f4a7c15ull * (uint64_t)i;
        shim_random_seed(link_seed ^ 0xabcdef);
        struct impair imp = {.loss = 5 + i % 60, .dup = i % 25, .reorder = i % 70, .corrupt = i % 20};
        test_failed = 0;
        char what[64];
        snprintf(what, sizeof what, "seed %d", i);
        bulk_quiet = !getenv("NET_TEST_SEEDS");
        bulk(imp, 100000 + (size_t)(i % 7) * 50000, what);
        bulk_quiet = 0;
        if (test_failed)
            printf("FAIL stress %s (loss %d dup %d reorder %d corrupt %d)\n", what, imp.loss, imp.dup, imp.reorder,
                   imp.corrupt);
        failures += test_failed;
    }
    if (getenv("NET_TEST_SEEDS"))
        printf("stress: %d of %d failed\n", failures, n);
    test_failed = was_failed;
    return failures;
}

int main(int argc, char **argv) {
    int failures = 0;
    shim_quiet = 1;
    if (getenv("NET_TEST_SEEDS"))
        return stress(atoi(getenv("NET_TEST_SEEDS"))) ? 1 : 0;
    for (size_t i = 0; i < ARRAY_LEN(tests); i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        test_failed = 0;
        size_t heap0 = shim_heap_bytes;
        tests[i].fn();
        if (!test_failed && shim_heap_bytes != heap0) {
            fprintf(stderr, "  heap not back to baseline: %zu vs %zu\n", shim_heap_bytes, heap0);
            test_failed = 1;
        }
        printf("%s %s\n", test_failed ? "FAIL" : "PASS", tests[i].name);
        fflush(stdout);
        failures += test_failed;
    }
    printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
