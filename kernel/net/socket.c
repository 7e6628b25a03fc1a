/*
 * The socket layer the syscalls map onto (see net.h for each call's contract): socket objects,
 * their lifetime (a socket lives while the syscall layer holds it, or while TCP still has work
 * to do after close), port binding with SO_REUSEADDR / SO_REUSEPORT, ephemeral ports, options,
 * and readiness for poll/epoll. Protocol work is delegated to udp.c and tcp*.c.
 */
#include "net_internal.h"

#define EPHEMERAL_LO 49152
#define EPHEMERAL_N 16384

struct net_socket *sock_new(struct net_stack *st, int type) {
    if (st->nsockets >= NET_MAX_SOCKETS)
        return NULL;
    struct net_socket *s = net_alloc(st, sizeof *s);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->st = st;
    s->type = type;
    list_init(&s->hash);
    list_init(&s->qlink);
    list_init(&s->syn_q);
    list_init(&s->accept_q);
    s->state = TCP_CLOSED;
    s->rto = TCP_RTO_INIT;
    s->mss = TCP_DEFAULT_MSS;
    s->sndbuf = NET_TCP_BUF_DEFAULT;
    s->rcvbuf = type == NET_SOCK_DGRAM ? NET_UDP_BUF_DEFAULT : NET_TCP_BUF_DEFAULT;
    list_add_tail(&st->sockets, &s->all);
    st->nsockets++;
    return s;
}

/* Orphans the children still queued on a listener: they are reaped separately. */
static void orphan_queue(struct net_stack *st, struct list *q) {
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, q) {
        struct net_socket *c = container_of(pos, struct net_socket, qlink);
        list_del(&c->qlink);
        c->parent = NULL;
        if (!c->dead) {
            c->dead = true;
            st->ndead++;
        }
    }
}

void sock_free(struct net_socket *s) {
    struct net_stack *st = s->st;
    orphan_queue(st, &s->accept_q);
    orphan_queue(st, &s->syn_q);
    if (s->parent) {
        if (s->on_accept_q)
            s->parent->accept_q_len--;
        else
            s->parent->syn_q_len--;
        s->parent = NULL;
    }
    if (s->type == NET_SOCK_STREAM && s->state == TCP_TIME_WAIT && list_linked(&s->qlink))
        st->ntime_wait--;
    list_del(&s->qlink);
    list_del(&s->hash);
    list_del(&s->all);
    tcp_free_buffers(s);
    udp_free_queue(s);
    policy_free_peers(s);
    st->nsockets--;
    net_free(st, s, sizeof *s);
}

static bool addr_overlap(uint32_t a, uint32_t b) { return a == NET_IP_ANY || b == NET_IP_ANY || a == b; }

bool sock_port_conflict(struct net_stack *st, const struct net_socket *s, uint32_t ip, uint16_t port) {
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *o = container_of(pos, struct net_socket, all);
        if (o == s || o->type != s->type || !o->bound || o->dead || o->local.port != port)
            continue;
        if (!addr_overlap(o->local.ip, ip))
            continue;
        if (s->reuseport && o->reuseport)
            continue;
        if (s->type == NET_SOCK_DGRAM) {
            if (s->reuseaddr && o->reuseaddr)
                continue;
            return true;
        }
        if (o->state == TCP_CLOSED && !o->user)
            continue;
        if (s->reuseaddr && o->state == TCP_TIME_WAIT)
            continue;
        if (s->reuseaddr && o->reuseaddr && o->state != TCP_LISTEN && s->state != TCP_LISTEN)
            continue;
        return true;
    }
    return false;
}

static bool port_used(struct net_stack *st, int type, uint16_t port) {
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->sockets) {
        struct net_socket *o = container_of(pos, struct net_socket, all);
        if (o->type == type && o->bound && !o->dead && o->local.port == port)
            return true;
    }
    return false;
}

void sock_port_hash_insert(struct net_socket *s) {
    list_del(&s->hash);
    list_add_tail(&s->st->port_hash[s->local.port % PORT_HASH_SIZE], &s->hash);
}

int sock_autobind(struct net_socket *s) {
    struct net_stack *st = s->st;
    for (int i = 0; i < EPHEMERAL_N; i++) {
        uint16_t p = st->next_port;
        st->next_port = (uint16_t)(p + 1 >= EPHEMERAL_LO + EPHEMERAL_N ? EPHEMERAL_LO : p + 1);
        if (p < EPHEMERAL_LO)
            continue;
        if (!port_used(st, s->type, p)) {
            s->local.port = p;
            s->bound = true;
            if (s->type == NET_SOCK_DGRAM)
                sock_port_hash_insert(s);
            return 0;
        }
    }
    return -EADDRNOTAVAIL;
}

int net_socket(struct net_stack *st, int type, struct net_socket **out) {
    net_enter(st);
    if (type != NET_SOCK_STREAM && type != NET_SOCK_DGRAM)
        return -EPROTONOSUPPORT;
    if (st->nsockets >= NET_MAX_SOCKETS)
        return -ENFILE;
    struct net_socket *s = sock_new(st, type);
    if (!s)
        return -ENOMEM;
    s->user = true;
    *out = s;
    return 0;
}

int net_bind(struct net_socket *s, const struct net_addr *a) {
    net_enter(s->st);
    struct net_stack *st = s->st;
    if (s->bound)
        return -EINVAL;
    if (a->ip != NET_IP_ANY && !net_is_local_ip(st, a->ip))
        return -EADDRNOTAVAIL;
    int denied = policy_bind(s, a);
    if (denied)
        return denied;
    if (a->port == 0) {
        s->local.ip = a->ip;
        return sock_autobind(s);
    }
    if (sock_port_conflict(st, s, a->ip, a->port))
        return -EADDRINUSE;
    s->local = *a;
    s->bound = true;
    if (s->type == NET_SOCK_DGRAM)
        sock_port_hash_insert(s);
    return 0;
}

int net_listen(struct net_socket *s, int backlog) {
    net_enter(s->st);
    if (s->type != NET_SOCK_STREAM)
        return -EOPNOTSUPP;
    if (s->state != TCP_CLOSED && s->state != TCP_LISTEN)
        return -EINVAL;
    int denied = policy_listen(s);
    if (denied)
        return denied;
    if (!s->bound) {
        int r = sock_autobind(s);
        if (r < 0)
            return r;
    }
    if (s->state == TCP_CLOSED) {
        /* Two listeners on one port only with SO_REUSEPORT on both. */
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &s->st->sockets) {
            struct net_socket *o = container_of(pos, struct net_socket, all);
            if (o != s && o->type == NET_SOCK_STREAM && o->state == TCP_LISTEN && !o->dead &&
                o->local.port == s->local.port && addr_overlap(o->local.ip, s->local.ip) &&
                !(o->reuseport && s->reuseport))
                return -EADDRINUSE;
        }
    }
    if (backlog < 1)
        backlog = 1;
    if (backlog > NET_BACKLOG_MAX)
        backlog = NET_BACKLOG_MAX;
    s->backlog = backlog;
    s->rd_shut = s->wr_shut = false;
    sock_port_hash_insert(s);
    tcp_set_state(s, TCP_LISTEN);
    return 0;
}

int net_accept(struct net_socket *s, struct net_socket **out, struct net_addr *peer) {
    net_enter(s->st);
    if (s->type != NET_SOCK_STREAM)
        return -EOPNOTSUPP;
    if (s->state != TCP_LISTEN)
        return -EINVAL;
    if (list_empty(&s->accept_q))
        return -EAGAIN;
    struct net_socket *c = container_of(s->accept_q.next, struct net_socket, qlink);
    list_del(&c->qlink);
    s->accept_q_len--;
    c->parent = NULL;
    c->on_accept_q = false;
    c->user = true;
    if (peer)
        *peer = c->remote;
    *out = c;
    net_changed(s->st);
    return 0;
}

int net_connect(struct net_socket *s, const struct net_addr *a) {
    struct net_stack *st = s->st;
    net_enter(st);
    if (s->type == NET_SOCK_DGRAM) {
        if (!a || (a->ip == NET_IP_ANY && a->port == 0)) {
            s->connected = false;             /* AF_UNSPEC: dissolve the association */
            return 0;
        }
        if (!s->bound) {
            int r = sock_autobind(s);
            if (r < 0)
                return r;
        }
        struct net_addr dst = *a;
        if (dst.ip == NET_IP_ANY)
            dst.ip = NET_IP_LOOPBACK;
        int denied = policy_egress(s, &dst, "connect");
        if (denied)
            return denied;
        s->remote = dst;
        s->connected = true;
        return 0;
    }
    switch (s->state) {
    case TCP_LISTEN:
        return -EINVAL;
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        return -EALREADY;
    case TCP_CLOSED:
        break;
    default:
        return -EISCONN;
    }
    if (s->error) {
        int e = s->error;                     /* a failed non-blocking connect reports once */
        s->error = 0;
        return -e;
    }
    if (!a)
        return -EINVAL;
    if (a->port == 0)
        return -ECONNREFUSED;
    struct net_addr dst = *a;
    if (dst.ip == NET_IP_ANY)
        dst.ip = NET_IP_LOOPBACK;
    if (dst.ip == NET_IP_BROADCAST || (dst.ip >> 28) == 14)
        return -ENETUNREACH;
    int denied = policy_egress(s, &dst, "connect");
    if (denied)
        return denied;
    if (!s->bound) {
        int r = sock_autobind(s);
        if (r < 0)
            return r;
    }
    uint32_t lip = s->local.ip != NET_IP_ANY ? s->local.ip : net_source_ip(st, dst.ip);
    if (tcp_lookup(st, lip, s->local.port, dst.ip, dst.port))
        return -EADDRNOTAVAIL;
    s->local.ip = lip;
    s->remote = dst;
    return tcp_connect(s);
}

long net_sendto(struct net_socket *s, const void *buf, size_t len, int flags, const struct net_addr *to) {
    (void)flags;
    net_enter(s->st);
    long r = s->type == NET_SOCK_DGRAM ? udp_sendto(s, buf, len, to) : tcp_send(s, buf, len);
    net_reap(s->st);
    return r;
}

long net_recvfrom(struct net_socket *s, void *buf, size_t len, int flags, struct net_addr *from) {
    net_enter(s->st);
    if (s->type == NET_SOCK_DGRAM) {
        struct net_addr sender = {0, 0};
        long r = udp_recvfrom(s, buf, len, flags, &sender);
        if (r >= 0 && sender.port && s->st->policy)
            policy_note_peer(s, &sender);     /* a policed UDP server may answer it */
        if (r >= 0 && from)
            *from = sender;
        return r;
    }
    long r = tcp_recv(s, buf, len, flags);
    if (r > 0 && from)
        *from = s->remote;
    return r;
}

int net_shutdown(struct net_socket *s, int how) {
    net_enter(s->st);
    if (how != NET_SHUT_RD && how != NET_SHUT_WR && how != NET_SHUT_RDWR)
        return -EINVAL;
    if (s->type == NET_SOCK_DGRAM) {
        if (!s->connected)
            return -ENOTCONN;
    } else if (s->state == TCP_CLOSED || s->state == TCP_LISTEN || s->state == TCP_SYN_SENT) {
        if (s->state == TCP_LISTEN && how != NET_SHUT_WR) {
            tcp_close(s);                     /* Linux: shutting down a listener stops it */
            s->state = TCP_CLOSED;
            return 0;
        }
        return -ENOTCONN;
    }
    if (how != NET_SHUT_WR) {
        s->rd_shut = true;
        if (s->type == NET_SOCK_STREAM)
            bq_clear(s->st, &s->rcvq);
    }
    if (how != NET_SHUT_RD) {
        if (s->type == NET_SOCK_STREAM)
            tcp_shutdown_wr(s);
        s->wr_shut = true;
    }
    net_changed(s->st);
    net_reap(s->st);
    return 0;
}

void net_close(struct net_socket *s) {
    struct net_stack *st = s->st;
    net_enter(st);
    s->user = false;
    if (s->type == NET_SOCK_STREAM) {
        tcp_close(s);
        if (s->state == TCP_CLOSED && !s->dead) {
            s->dead = true;
            st->ndead++;
        }
    } else if (!s->dead) {
        s->dead = true;
        st->ndead++;
    }
    net_changed(st);
    net_reap(st);
}

int net_getsockname(const struct net_socket *s, struct net_addr *a) {
    *a = s->local;
    return 0;
}

int net_getpeername(const struct net_socket *s, struct net_addr *a) {
    bool conn = s->type == NET_SOCK_DGRAM ? s->connected
                                          : s->state != TCP_CLOSED && s->state != TCP_LISTEN && s->state != TCP_SYN_SENT;
    if (!conn)
        return -ENOTCONN;
    *a = s->remote;
    return 0;
}

static uint32_t clamp_buf(int v) {
    if (v < NET_BUF_MIN)
        return NET_BUF_MIN;
    if (v > NET_BUF_MAX)
        return NET_BUF_MAX;
    return (uint32_t)v;
}

int net_setsockopt(struct net_socket *s, int level, int name, int value) {
    net_enter(s->st);
    if (level == NET_SOL_SOCKET) {
        switch (name) {
        case NET_SO_REUSEADDR: s->reuseaddr = value != 0; return 0;
        case NET_SO_REUSEPORT: s->reuseport = value != 0; return 0;
        case NET_SO_KEEPALIVE: s->keepalive = value != 0; return 0;
        case NET_SO_BROADCAST: s->broadcast = value != 0; return 0;
        case NET_SO_SNDBUF: s->sndbuf = clamp_buf(value); net_changed(s->st); return 0;
        case NET_SO_RCVBUF: s->rcvbuf = clamp_buf(value); return 0;
        default: return -ENOPROTOOPT;
        }
    }
    if (level == NET_IPPROTO_TCP && s->type == NET_SOCK_STREAM) {
        switch (name) {
        case NET_TCP_NODELAY:
            s->nodelay = value != 0;
            if (s->nodelay)
                tcp_output(s);
            net_reap(s->st);
            return 0;
        case NET_TCP_MAXSEG: return 0;        /* accepted, ignored */
        default: return -ENOPROTOOPT;
        }
    }
    return -ENOPROTOOPT;
}

int net_getsockopt(struct net_socket *s, int level, int name, int *value) {
    if (level == NET_SOL_SOCKET) {
        switch (name) {
        case NET_SO_REUSEADDR: *value = s->reuseaddr; return 0;
        case NET_SO_REUSEPORT: *value = s->reuseport; return 0;
        case NET_SO_KEEPALIVE: *value = s->keepalive; return 0;
        case NET_SO_BROADCAST: *value = s->broadcast; return 0;
        case NET_SO_SNDBUF: *value = (int)s->sndbuf; return 0;
        case NET_SO_RCVBUF: *value = (int)s->rcvbuf; return 0;
        case NET_SO_TYPE: *value = s->type; return 0;
        case NET_SO_ERROR: *value = s->error; s->error = 0; return 0;
        default: return -ENOPROTOOPT;
        }
    }
    if (level == NET_IPPROTO_TCP && s->type == NET_SOCK_STREAM) {
        switch (name) {
        case NET_TCP_NODELAY: *value = s->nodelay; return 0;
        case NET_TCP_MAXSEG: *value = s->mss; return 0;
        default: return -ENOPROTOOPT;
        }
    }
    return -ENOPROTOOPT;
}

unsigned net_socket_poll(const struct net_socket *s) {
    unsigned m = 0;
    if (s->error)
        m |= NET_POLLERR;
    if (s->type == NET_SOCK_DGRAM) {
        if (s->rq_head || s->rd_shut)
            m |= NET_POLLIN;
        if (!s->wr_shut)
            m |= NET_POLLOUT;
        if (s->rd_shut && s->wr_shut)
            m |= NET_POLLHUP;
        return m;
    }
    switch (s->state) {
    case TCP_LISTEN:
        if (!list_empty(&s->accept_q))
            m |= NET_POLLIN;
        return m;
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        return m;
    case TCP_CLOSED:
        m |= NET_POLLHUP | NET_POLLOUT;
        if (s->conn_error || s->fin_rcvd || s->rd_shut)
            m |= NET_POLLIN | NET_POLLRDHUP;
        if (s->rcvq.len)
            m |= NET_POLLIN;
        return m;
    default:
        break;
    }
    if (s->rcvq.len || s->fin_rcvd || s->rd_shut)
        m |= NET_POLLIN;
    if (s->fin_rcvd || s->rd_shut)
        m |= NET_POLLRDHUP;
    if (s->wr_shut || s->fin_queued)
        m |= NET_POLLOUT;                     /* a write returns EPIPE at once */
    else if (s->sndq.len + s->sndbuf / 4 <= s->sndbuf)
        m |= NET_POLLOUT;
    if ((s->fin_rcvd || s->rd_shut) && (s->wr_shut || s->fin_queued) &&
        (s->state == TCP_TIME_WAIT || s->state == TCP_LAST_ACK || s->state == TCP_CLOSING))
        m |= NET_POLLHUP;
    return m;
}

int net_socket_type(const struct net_socket *s) { return s->type; }
