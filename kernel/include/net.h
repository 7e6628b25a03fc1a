/*
 * The TCP/IP stack's public surface (kernel/net/): what a NIC driver and the socket syscalls use.
 * The stack has no hardware dependency: a driver hands it received Ethernet frames and supplies a
 * transmit callback; everything else (ARP, IPv4, ICMP, UDP, TCP, loopback) happens in here and is
 * unit-tested on the host (kernel/net/test/).
 *
 * Conventions:
 *  - Addresses and ports are in HOST byte order everywhere in this header (10.0.2.15 is
 *    0x0a00020f). The syscall layer converts struct sockaddr_in.
 *  - Every call is non-blocking and returns 0 / a count, or -errno (the Linux values). The syscall
 *    layer does the blocking: it calls net_poll(), checks net_socket_poll(), and if it must wait,
 *    sleeps (HLT) until an interrupt or net_next_deadline_ns(), re-checking when
 *    net_generation() changed.
 *  - Not reentrant, no locks: call everything from one context (one CPU; the driver calls
 *    net_input from the same loop that runs syscalls, not from inside an interrupt handler).
 *  - Buffers passed in are kernel-accessible memory for the duration of the call only; the
 *    syscall layer validates user ranges (user_range_ok) before passing them.
 */
#ifndef NET_H
#define NET_H
#include "kernel.h"

/* ---- Limits (every bound of the stack in one place) ---- */
#define NET_MTU 1500
#define NET_FRAME_MAX 1514               /* Ethernet II header + MTU, no FCS */
#define NET_MAX_SOCKETS 8192             /* all sockets, including orphaned and TIME_WAIT */
#define NET_TCP_BUF_DEFAULT 65536        /* SO_SNDBUF / SO_RCVBUF default for TCP */
#define NET_UDP_BUF_DEFAULT 212992       /* SO_RCVBUF default for UDP (bytes of queued data) */
#define NET_BUF_MIN 2048                 /* SO_*BUF are clamped to [MIN, MAX] */
#define NET_BUF_MAX (4 << 20)
#define NET_SYN_QUEUE_MAX 256            /* half-open connections per listener; oldest dropped */
#define NET_BACKLOG_MAX 4096             /* listen() backlog clamp (SOMAXCONN) */
#define NET_TIME_WAIT_MAX 2048           /* TIME_WAIT sockets; the oldest is recycled beyond */
#define NET_TCP_MSL_NS (1000ull * 1000000)   /* TIME_WAIT lasts 2 * MSL */
#define NET_ARP_ENTRIES 64
#define NET_ARP_QUEUE 8                  /* frames held per unresolved next hop */
#define NET_LOOPBACK_QUEUE 512           /* frames in flight on the loopback */

/* ---- Poll bits: the Linux POLL and EPOLL values, so they pass straight through ---- */
#define NET_POLLIN 0x001
#define NET_POLLPRI 0x002
#define NET_POLLOUT 0x004
#define NET_POLLERR 0x008
#define NET_POLLHUP 0x010
#define NET_POLLRDHUP 0x2000

/* ---- Socket types, flags, options: the Linux values ---- */
#define NET_SOCK_STREAM 1
#define NET_SOCK_DGRAM 2
#define NET_MSG_PEEK 0x2
#define NET_MSG_TRUNC 0x20               /* recvfrom: return the datagram's full length */
#define NET_SHUT_RD 0
#define NET_SHUT_WR 1
#define NET_SHUT_RDWR 2
#define NET_SOL_SOCKET 1
#define NET_IPPROTO_TCP 6
#define NET_SO_REUSEADDR 2
#define NET_SO_TYPE 3                    /* get only */
#define NET_SO_ERROR 4                   /* get only; reading clears the pending error */
#define NET_SO_BROADCAST 6
#define NET_SO_SNDBUF 7
#define NET_SO_RCVBUF 8
#define NET_SO_KEEPALIVE 9
#define NET_SO_REUSEPORT 15
#define NET_TCP_NODELAY 1
#define NET_TCP_MAXSEG 2                 /* get only */

#define NET_IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define NET_IP_ANY 0u
#define NET_IP_BROADCAST 0xffffffffu
#define NET_IP_LOOPBACK NET_IP(127, 0, 0, 1)

struct net_stack;
struct net_socket;

/* An IPv4 endpoint, host byte order. */
struct net_addr {
    uint32_t ip;
    uint16_t port;
};

struct netif_stats {
    uint64_t rx_frames, rx_bytes, rx_dropped;   /* dropped: malformed, bad checksum, not for us */
    uint64_t tx_frames, tx_bytes, tx_dropped;   /* dropped: transmit callback failed, ARP gave up */
};

/*
 * One network interface, owned by the driver (static storage is fine). The driver fills mac and
 * transmit (and driver, for its own use), calls net_default_config() or net_configure(), then
 * net_create(). transmit() must copy the frame before returning (the stack reuses the buffer)
 * and return 0, or -errno when the frame could not be queued (it is counted and dropped; TCP
 * retransmits). It must not call back into the stack.
 */
struct netif {
    uint8_t mac[6];
    uint32_t ip, netmask, gateway, dns;
    uint16_t mtu;
    int (*transmit)(struct netif *nif, const void *frame, size_t len);
    void *driver;
    struct net_stack *stack;             /* set by net_create */
    struct netif_stats stats;
};

/* ---- netif.c: the stack as a whole ---- */

/* The kernel's one stack, for the socket syscalls: set once at boot by whoever brings up
 * networking (net_create(&virtio_nif), or net_create(NULL) for --net none); NULL before. */
extern struct net_stack *net_kernel;

/* The QEMU user-networking defaults: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3, MTU 1500. */
void net_default_config(struct netif *nif);
/* Sets the address; netmask must be contiguous ones (or -EINVAL). gateway 0 = no default route.
 * Safe while running; announces the new address with a gratuitous ARP when attached. */
int net_configure(struct netif *nif, uint32_t ip, uint32_t netmask, uint32_t gateway, uint32_t dns);
/* Command-line helpers: "a.b.c.d" and "a.b.c.d/len" (len 1..32). false on anything else. */
bool net_parse_ipv4(const char *s, uint32_t *ip);
bool net_parse_cidr(const char *s, uint32_t *ip, uint32_t *netmask);

/* A stack on nif, or with nif NULL a loopback-only stack (for --net none). NULL when out of
 * memory. 127.0.0.0/8 and the interface's own address always go through the loopback. */
struct net_stack *net_create(struct netif *nif);
/* Frees every socket and buffer; outstanding socket handles become invalid. (Tests; shutdown.) */
void net_destroy(struct net_stack *st);
/* One received Ethernet frame (no FCS). Any bytes are safe: malformed frames are counted and
 * dropped. The frame is only read during the call. */
void net_input(struct netif *nif, const void *frame, size_t len);
/* Runs what is due at now_ns (CLOCK_MONOTONIC): loopback delivery, ARP retries and expiry, TCP
 * retransmission, persist, delayed ACK, TIME_WAIT. Call it before deciding to sleep. */
void net_poll(struct net_stack *st, uint64_t now_ns);
/* The earliest time net_poll has something to do; UINT64_MAX when nothing is scheduled, <= now
 * when work is pending (loopback frames). */
uint64_t net_next_deadline_ns(const struct net_stack *st);
/* Incremented whenever any socket's readiness may have changed. */
uint64_t net_generation(const struct net_stack *st);
/* Bytes the stack holds from kmalloc right now, and the number of live sockets (for tests and
 * a debug line). */
size_t net_memory_bytes(const struct net_stack *st);
int net_socket_count(const struct net_stack *st);
/* Whether a TCP connection still has data or a FIN its peer has not acknowledged. */
bool net_output_pending(struct net_stack *st);

/* ---- socket.c: the socket layer the syscalls map onto ---- */

/* type NET_SOCK_STREAM or NET_SOCK_DGRAM. -EPROTONOSUPPORT, -ENFILE (NET_MAX_SOCKETS), -ENOMEM. */
int net_socket(struct net_stack *st, int type, struct net_socket **out);
/* port 0 picks an ephemeral port. -EADDRINUSE, -EADDRNOTAVAIL (ip not ours), -EINVAL (bound). */
int net_bind(struct net_socket *s, const struct net_addr *a);
/* TCP only (-EOPNOTSUPP); binds an ephemeral port if unbound. Calling it again adjusts the
 * backlog. */
int net_listen(struct net_socket *s, int backlog);
/* An established connection from the accept queue, or -EAGAIN; -EINVAL if not listening.
 * peer may be NULL. The new socket belongs to the caller (net_close it). */
int net_accept(struct net_socket *s, struct net_socket **out, struct net_addr *peer);
/* TCP: sends the SYN and returns -EINPROGRESS; later calls return -EALREADY while in progress,
 * -EISCONN once connected, or the failure (-ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH) once.
 * A blocking connect waits for NET_POLLOUT and then reads NET_SO_ERROR.
 * UDP: sets the default destination and filter; returns 0. */
int net_connect(struct net_socket *s, const struct net_addr *a);
/* Bytes queued (TCP: may be fewer than len), or -EAGAIN when nothing fits, -EPIPE after
 * shutdown(WR) or when the connection is closed, -ECONNRESET once after a reset, -ENOTCONN,
 * -EDESTADDRREQ (UDP unconnected with no `to`), -EMSGSIZE (UDP over 65507 bytes).
 * TCP ignores `to`. */
long net_sendto(struct net_socket *s, const void *buf, size_t len, int flags, const struct net_addr *to);
/* Bytes copied, 0 at end of stream (TCP, after the peer's FIN or shutdown(RD)), -EAGAIN when
 * nothing is there yet, -ENOTCONN, -ECONNRESET once after a reset. UDP: one datagram per call,
 * truncated to len (NET_MSG_TRUNC: return its full length). flags: NET_MSG_PEEK, NET_MSG_TRUNC.
 * from may be NULL. */
long net_recvfrom(struct net_socket *s, void *buf, size_t len, int flags, struct net_addr *from);
static inline long net_send(struct net_socket *s, const void *buf, size_t len, int flags) {
    return net_sendto(s, buf, len, flags, NULL);
}
static inline long net_recv(struct net_socket *s, void *buf, size_t len, int flags) {
    return net_recvfrom(s, buf, len, flags, NULL);
}
/* how: NET_SHUT_RD/WR/RDWR. WR sends a FIN after the queued data. -ENOTCONN, -EINVAL. */
int net_shutdown(struct net_socket *s, int how);
/* Releases the handle; never fails. TCP: a graceful FIN after queued data, or a RST when
 * received data was left unread (as Linux does); the connection finishes in the background.
 * A listener resets its queued, unaccepted connections. */
void net_close(struct net_socket *s);
int net_getsockname(const struct net_socket *s, struct net_addr *a);
int net_getpeername(const struct net_socket *s, struct net_addr *a);   /* -ENOTCONN */
/* level/name are the Linux values above; value is the int option value. -ENOPROTOOPT. */
int net_setsockopt(struct net_socket *s, int level, int name, int value);
int net_getsockopt(struct net_socket *s, int level, int name, int *value);
/* Readiness now: NET_POLLIN (data, EOF, a pending connection, an error), NET_POLLOUT (room to
 * send; connect finished), NET_POLLHUP (both directions closed), NET_POLLRDHUP (peer sent FIN),
 * NET_POLLERR (a pending error, readable with NET_SO_ERROR). */
unsigned net_socket_poll(const struct net_socket *s);
int net_socket_type(const struct net_socket *s);

/* ---- policy.c: the network policy (docs/guest-abi.md: netpolicy, listen=, egress=) ---- */
#define NET_POLICY_MAX_LISTEN 64
#define NET_POLICY_MAX_EGRESS 64
#define NET_POLICY_LOG_MAX 64            /* refusals logged per stack; the rest only counted */
#define NET_POLICY_PEERS 16              /* addresses a UDP server may answer (the latest) */

struct net_egress {
    uint32_t ip, mask;                   /* ip already masked */
    uint16_t port;                       /* 0: any port */
};

struct net_policy {
    int nlisten, negress;
    uint16_t listen[NET_POLICY_MAX_LISTEN];
    struct net_egress egress[NET_POLICY_MAX_EGRESS];
    uint64_t refused;                    /* refusals so far */
};

/* Parses listen= ("80,443") and egress= ("10.0.2.2:8080,10.0.0.0/8:*") values; NULL lists are
 * empty. On bad input or too many entries: a "unikit: " line, p left empty (nothing declared:
 * fail closed), and false. */
bool net_policy_parse(struct net_policy *p, const char *listen, const char *egress);
/* From now on st enforces p (NULL: no policy). p must outlive st. With a policy, binding an
 * undeclared port (other than 0), listening on one, and connecting or sending to an undeclared
 * destination (other than loopback) fail with -EACCES. */
void net_set_policy(struct net_stack *st, struct net_policy *p);

#endif
