/*
 * What the files of kernel/net share and nobody else sees: the stack and socket structures,
 * wire-format helpers (big-endian loads and stores on byte pointers, so no packed structs and
 * no alignment assumptions), and the map of cross-file functions grouped by the defining file.
 */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H
#include "kernel.h"
#include "net.h"

/* ---- wire helpers ---- */
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Serial-number arithmetic on 32-bit sequence numbers (RFC 1982 style). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GE(a, b) SEQ_LE(b, a)

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define ETH_P_ARP 0x0806
#define IP_HLEN 20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
#define UDP_HLEN 8
#define TCP_HLEN 20
#define L4_OFF (ETH_HLEN + IP_HLEN)     /* where a transport header starts in an output frame */
#define UDP_MAX_PAYLOAD 65507

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

/* ---- timing (ns) ---- */
#define MS(x) ((uint64_t)(x) * 1000000ull)
#define TCP_RTO_INIT MS(1000)
#define TCP_RTO_MIN MS(200)
#define TCP_RTO_MAX MS(60000)
#define TCP_DELACK MS(40)
#define TCP_PERSIST_MIN MS(200)
#define TCP_SYN_RETRIES 6
#define TCP_MAX_RETRIES 12
#define TCP_DEFAULT_MSS 536
#define TCP_MAX_OOO_SEGS 64
#define ARP_REACHABLE MS(60000)
#define ARP_RETRY MS(1000)
#define ARP_TRIES 3

/* ---- intrusive doubly linked lists ---- */
struct list {
    struct list *next, *prev;
};
static inline void list_init(struct list *l) { l->next = l->prev = l; }
static inline bool list_empty(const struct list *l) { return l->next == l; }
static inline bool list_linked(const struct list *n) { return n->next != NULL && n->next != n; }
static inline void list_add_tail(struct list *head, struct list *n) {
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void list_del(struct list *n) {
    if (n->next && n->next != n) {
        n->next->prev = n->prev;
        n->prev->next = n->next;
    }
    n->next = n->prev = n;
}
#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head) \
    for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

/* ---- bytequeue.c: a byte FIFO of chunks allocated on demand (memory follows the data) ---- */
struct bq_chunk;
struct bq {
    struct bq_chunk *head, *tail;
    size_t len;
};
/* Appends up to n bytes; returns how many fit in memory (short only when kmalloc fails). */
size_t bq_append(struct net_stack *st, struct bq *q, const void *src, size_t n);
/* Copies n bytes starting at offset off (off + n <= len). */
void bq_copy(const struct bq *q, size_t off, void *dst, size_t n);
void bq_drop(struct net_stack *st, struct bq *q, size_t n);
void bq_clear(struct net_stack *st, struct bq *q);

/* ---- the stack ---- */
enum tcp_state {
    TCP_CLOSED, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_ESTABLISHED, TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
};

struct ooo_seg {                    /* out-of-order TCP data waiting for the gap to fill */
    struct ooo_seg *next;
    uint32_t seq, len;
    uint8_t data[];
};

struct udp_dgram {
    struct udp_dgram *next;
    struct net_addr from;
    uint32_t len;
    uint8_t data[];
};

struct net_socket {
    struct net_stack *st;
    struct list all;                /* st->sockets */
    struct list hash;               /* st->tcp_hash bucket while the 4-tuple is in use; or
                                       st->port_hash bucket for listeners and bound UDP */
    struct list qlink;              /* parent's syn_q / accept_q, or st->time_wait */
    int type;
    struct net_addr local, remote;
    bool bound, user, dead;         /* user: the syscall layer holds a handle */
    bool reuseaddr, reuseport, nodelay, keepalive, broadcast;
    bool rd_shut, wr_shut, connected;
    int error;                      /* pending SO_ERROR (positive errno) */
    int conn_error;                 /* sticky: how the connection ended (for send/recv) */
    uint32_t sndbuf, rcvbuf;

    /* UDP */
    struct udp_dgram *rq_head, *rq_tail;
    size_t rq_bytes;
    struct net_addr *peers;         /* NET_POLICY_PEERS senders a policed UDP server may answer */
    unsigned npeer;

    /* TCP */
    enum tcp_state state;
    struct net_socket *parent;      /* the listener while on its syn_q or accept_q */
    bool on_accept_q;
    struct list syn_q, accept_q;
    int syn_q_len, accept_q_len, backlog;
    uint32_t iss, irs;
    uint32_t snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_sndwnd;
    uint32_t rcv_nxt, rcv_adv;      /* rcv_adv: the right edge we last advertised */
    uint16_t mss;                   /* what we send per segment: min(peer's MSS, ours) */
    uint32_t cwnd, ssthresh, recover;
    int dupacks;
    bool in_recovery;
    struct bq sndq, rcvq;           /* sndq starts at snd_una (after the SYN) */
    struct ooo_seg *ooo;
    uint32_t ooo_bytes;
    int ooo_count;
    bool fin_queued;                /* our FIN goes after the queued data */
    bool fin_sent;                  /* ... and has been sent, at fin_seq */
    uint32_t fin_seq;
    bool fin_rcvd;
    bool ooo_fin;
    uint32_t ooo_fin_seq;
    uint64_t srtt, rttvar, rto;
    int backoff, retries;
    bool rtt_timing, persisting;
    uint32_t rtt_seq;
    uint64_t rtt_start;
    uint64_t rexmit_at, delack_at, tw_at;   /* 0 = not armed */
    uint64_t oow_ack_at;            /* when we last answered an unacceptable empty segment */
    int acks_pending;
};

struct arp_entry {
    uint32_t ip;
    uint8_t mac[6];
    uint8_t state;                  /* ARP_FREE, ARP_PENDING, ARP_OK */
    uint8_t tries;
    uint64_t expires;               /* OK: when it goes stale; PENDING: next retry */
    int nq;
    void *q[NET_ARP_QUEUE];         /* frames waiting for the address (kmalloc'd copies) */
    uint16_t qlen[NET_ARP_QUEUE];
};

struct lo_frame {
    struct lo_frame *next;
    size_t len;
    uint8_t data[];
};

#define TCP_HASH_SIZE 256
#define PORT_HASH_SIZE 64

struct net_stack {
    struct netif *nif;
    struct net_policy *policy;      /* NULL: no network policy */
    uint64_t now;                   /* the time of the current entry point */
    uint64_t generation;
    uint64_t next_deadline;         /* a lower bound; recomputed by net_poll */
    size_t mem_bytes;
    int nsockets, ntime_wait, ndead;
    uint16_t ip_id, next_port;
    struct list sockets;            /* every socket */
    struct list time_wait;          /* TIME_WAIT sockets, oldest first */
    struct list tcp_hash[TCP_HASH_SIZE];
    struct list port_hash[PORT_HASH_SIZE];   /* listeners and bound UDP sockets, by local port */
    struct arp_entry arp[NET_ARP_ENTRIES];
    struct lo_frame *lo_head, *lo_tail;
    int lo_count;
    uint8_t tx[NET_FRAME_MAX + 64]; /* the frame being built (one at a time; never nested) */
};

/* ---- netif.c ---- */
void *net_alloc(struct net_stack *st, size_t n);       /* counted kmalloc */
void net_free(struct net_stack *st, void *p, size_t n);
void net_arm(struct net_stack *st, uint64_t deadline); /* lowers next_deadline */
void net_changed(struct net_stack *st);                /* generation++ */
bool net_is_local_ip(const struct net_stack *st, uint32_t ip);  /* ours or 127/8 */
uint32_t net_source_ip(const struct net_stack *st, uint32_t dst);
void net_reap(struct net_stack *st);                   /* frees dead sockets */
void loopback_enqueue(struct net_stack *st, const uint8_t *frame, size_t len);

/* ---- checksum.c ---- */
uint32_t csum_add(uint32_t sum, const void *data, size_t len);
uint16_t csum_fold(uint32_t sum);
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* ---- eth.c ---- */
void eth_input(struct net_stack *st, const uint8_t *frame, size_t len);
/* frame has room for the Ethernet header at the front; fills it and transmits. */
void eth_output(struct net_stack *st, uint8_t *frame, size_t len, const uint8_t dst[6], uint16_t type);

/* ---- arp.c ---- */
void arp_input(struct net_stack *st, const uint8_t *pkt, size_t len);
/* Sends an IPv4 frame (Ethernet header still to fill) to next_hop, resolving it first. */
void arp_output(struct net_stack *st, uint8_t *frame, size_t len, uint32_t next_hop);
void arp_announce(struct net_stack *st);
void arp_suspect(struct net_stack *st, uint32_t ip);   /* forget a resolved entry */
void arp_timers(struct net_stack *st);
void arp_clear(struct net_stack *st);

/* ---- ipv4.c ---- */
void ipv4_input(struct net_stack *st, const uint8_t *pkt, size_t len, bool from_loopback);
/* frame: L4 data of l4len bytes at frame + L4_OFF. Fills the IP header and routes. -ENETUNREACH. */
int ipv4_output(struct net_stack *st, uint8_t *frame, size_t l4len, uint8_t proto, uint32_t src, uint32_t dst);
/* dst is not answering (repeated TCP timeouts): re-resolve its next hop. */
void ipv4_suspect_route(struct net_stack *st, uint32_t dst);

/* ---- icmp.c ---- */
void icmp_input(struct net_stack *st, const uint8_t *ip, size_t iplen, const uint8_t *icmp, size_t len);
/* Destination unreachable (code) quoting the offending datagram ip (its first bytes). */
void icmp_unreachable(struct net_stack *st, const uint8_t *ip, size_t iplen, uint8_t code);

/* ---- udp.c ---- */
void udp_input(struct net_stack *st, const uint8_t *ip, size_t iplen, const uint8_t *udp, size_t len, bool bcast);
void udp_icmp_error(struct net_stack *st, const uint8_t *inner_ip, size_t len, int err);
long udp_sendto(struct net_socket *s, const void *buf, size_t len, const struct net_addr *to);
long udp_recvfrom(struct net_socket *s, void *buf, size_t len, int flags, struct net_addr *from);
void udp_free_queue(struct net_socket *s);

/* ---- tcp.c: connections, timers, state changes ---- */
struct net_socket *tcp_lookup(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
struct net_socket *tcp_find_listener(struct net_stack *st, uint32_t lip, uint16_t lport);
void tcp_hash_insert(struct net_socket *s);
void tcp_set_state(struct net_socket *s, enum tcp_state state);
/* Ends the connection: CLOSED, unhashed, timers off; err (positive) becomes the pending error. */
void tcp_drop(struct net_socket *s, int err);
void tcp_enter_time_wait(struct net_socket *s);
void tcp_timers(struct net_socket *s);
uint64_t tcp_next_deadline(const struct net_socket *s);
void tcp_rto_sample(struct net_socket *s, uint64_t rtt);
uint64_t tcp_rto_now(const struct net_socket *s);      /* rto with back-off, capped */
uint32_t tcp_rcv_window(const struct net_socket *s);
uint32_t tcp_new_iss(struct net_stack *st);
int tcp_connect(struct net_socket *s);
void tcp_init_window(struct net_socket *s, uint16_t peer_mss);
uint16_t tcp_our_mss(const struct net_socket *s);
void tcp_close(struct net_socket *s);
int tcp_shutdown_wr(struct net_socket *s);
long tcp_send(struct net_socket *s, const void *buf, size_t len);
long tcp_recv(struct net_socket *s, void *buf, size_t len, int flags);
void tcp_free_buffers(struct net_socket *s);

/* ---- tcp_input.c ---- */
void tcp_input(struct net_stack *st, const uint8_t *ip, size_t iplen, const uint8_t *tcp, size_t len);

/* ---- tcp_output.c ---- */
void tcp_output(struct net_socket *s);                 /* sends what window and Nagle allow */
void tcp_output_force(struct net_socket *s);           /* one segment regardless of Nagle/SWS */
void tcp_send_ack(struct net_socket *s);
void tcp_send_syn(struct net_socket *s);               /* SYN, or SYN-ACK in SYN_RECEIVED */
void tcp_send_rst(struct net_socket *s);               /* for an existing connection */
void tcp_send_probe(struct net_socket *s);             /* zero-window probe */
void tcp_retransmit_first(struct net_socket *s);       /* one segment at snd_una */
/* A RST answering a segment that has no connection (RFC 793 "reset generation"). */
void tcp_reset_reply(struct net_stack *st, uint32_t lip, uint32_t rip, const uint8_t *tcp, size_t seglen);

/* ---- policy.c: 0, or -EACCES after logging the refusal ---- */
int policy_bind(struct net_socket *s, const struct net_addr *a);
int policy_listen(struct net_socket *s);
/* op names the call in the log: "connect" or "send". */
int policy_egress(struct net_socket *s, const struct net_addr *dst, const char *op);
void policy_note_peer(struct net_socket *s, const struct net_addr *from);
void policy_free_peers(struct net_socket *s);

/* ---- socket.c ---- */
struct net_socket *sock_new(struct net_stack *st, int type);
void sock_free(struct net_socket *s);
bool sock_port_conflict(struct net_stack *st, const struct net_socket *s, uint32_t ip, uint16_t port);
int sock_autobind(struct net_socket *s);
void sock_port_hash_insert(struct net_socket *s);
void net_enter(struct net_stack *st);                  /* st->now = the clock, at API entry */
struct net_socket *udp_find(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);

#endif
