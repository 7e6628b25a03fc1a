/*
 * TCP connections (RFC 793, RFC 1122, RFC 6298, RFC 5681): the 4-tuple hash, state changes and
 * teardown, TIME_WAIT, the retransmission / persist / delayed-ACK / TIME_WAIT timers with the
 * RFC 6298 RTO estimate and exponential back-off, and the user-side operations (connect, send,
 * recv, shutdown, close) the socket layer calls. Segment arrival is in tcp_input.c, segment
 * building in tcp_output.c.
 */
#include "net_internal.h"

#define FIN_TIMEOUT MS(60000)        /* an orphaned FIN_WAIT_2 waits this long for the peer's FIN */

static unsigned hash4(uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    uint32_t h = lip * 0x9e3779b1u ^ rip * 0x85ebca6bu ^ (((uint32_t)lport << 16) | rport) * 0xc2b2ae35u;
    h ^= h >> 15;
    return h & (TCP_HASH_SIZE - 1);
}

struct net_socket *tcp_lookup(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    struct list *head = &st->tcp_hash[hash4(lip, lport, rip, rport)], *pos, *tmp;
    list_for_each_safe(pos, tmp, head) {
        struct net_socket *s = container_of(pos, struct net_socket, hash);
        if (s->local.ip == lip && s->local.port == lport && s->remote.ip == rip && s->remote.port == rport)
            return s;
    }
    return NULL;
}

struct net_socket *tcp_find_listener(struct net_stack *st, uint32_t lip, uint16_t lport) {
    struct net_socket *best = NULL;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &st->port_hash[lport % PORT_HASH_SIZE]) {
        struct net_socket *s = container_of(pos, struct net_socket, hash);
        if (s->type != NET_SOCK_STREAM || s->state != TCP_LISTEN || s->local.port != lport || s->dead)
            continue;
        if (s->local.ip == lip)
            return s;
        if (s->local.ip == NET_IP_ANY && !best)
            best = s;
    }
    return best;
}

void tcp_hash_insert(struct net_socket *s) {
    list_del(&s->hash);
    list_add_tail(&s->st->tcp_hash[hash4(s->local.ip, s->local.port, s->remote.ip, s->remote.port)], &s->hash);
}

void tcp_set_state(struct net_socket *s, enum tcp_state state) {
    s->state = state;
    net_changed(s->st);
}

uint32_t tcp_new_iss(struct net_stack *st) {
    (void)st;
    uint32_t v;
    random_bytes(&v, sizeof v);
    return v;
}

void tcp_free_buffers(struct net_socket *s) {
    bq_clear(s->st, &s->sndq);
    bq_clear(s->st, &s->rcvq);
    while (s->ooo) {
        struct ooo_seg *o = s->ooo;
        s->ooo = o->next;
        net_free(s->st, o, sizeof *o + o->len);
    }
    s->ooo_bytes = 0;
    s->ooo_count = 0;
}

static void leave_parent(struct net_socket *s) {
    struct net_socket *p = s->parent;
    if (!p)
        return;
    list_del(&s->qlink);
    if (s->on_accept_q)
        p->accept_q_len--;
    else
        p->syn_q_len--;
    s->on_accept_q = false;
    s->parent = NULL;
}

static void leave_time_wait(struct net_socket *s) {
    if (s->state == TCP_TIME_WAIT && list_linked(&s->qlink)) {
        list_del(&s->qlink);
        s->st->ntime_wait--;
    }
}

void tcp_drop(struct net_socket *s, int err) {
    struct net_stack *st = s->st;
    leave_time_wait(s);
    list_del(&s->hash);
    s->state = TCP_CLOSED;
    s->rexmit_at = s->delack_at = s->tw_at = 0;
    s->persisting = false;
    s->conn_error = err ? err : s->conn_error;
    bq_clear(st, &s->sndq);
    if (err) {
        s->error = err;
        tcp_free_buffers(s);                  /* a reset discards what was received, too */
    }
    s->fin_queued = false;
    if (s->parent) {
        leave_parent(s);
        s->user = false;
    }
    if (!s->user && !s->dead) {
        s->dead = true;
        st->ndead++;
    }
    s->rd_shut = s->wr_shut = true;
    net_changed(st);
}

void tcp_enter_time_wait(struct net_socket *s) {
    struct net_stack *st = s->st;
    tcp_set_state(s, TCP_TIME_WAIT);
    s->rexmit_at = 0;
    s->persisting = false;
    bq_clear(st, &s->sndq);
    if (!s->user)
        tcp_free_buffers(s);
    s->tw_at = st->now + 2 * NET_TCP_MSL_NS;
    net_arm(st, s->tw_at);
    list_del(&s->qlink);
    list_add_tail(&st->time_wait, &s->qlink);
    if (++st->ntime_wait > NET_TIME_WAIT_MAX) {
        struct net_socket *old = container_of(st->time_wait.next, struct net_socket, qlink);
        tcp_drop(old, 0);                     /* recycle the oldest */
    }
}

static uint16_t our_mss(const struct net_socket *s);

uint64_t tcp_rto_now(const struct net_socket *s) {
    uint64_t r = s->rto;
    for (int i = 0; i < s->backoff && r < TCP_RTO_MAX; i++)
        r *= 2;
    return MIN(r, TCP_RTO_MAX);
}

void tcp_rto_sample(struct net_socket *s, uint64_t r) {
    if (!s->srtt) {
        s->srtt = r ? r : 1;
        s->rttvar = r / 2;
    } else {
        uint64_t delta = s->srtt > r ? s->srtt - r : r - s->srtt;
        s->rttvar = (3 * s->rttvar + delta) / 4;
        s->srtt = (7 * s->srtt + r) / 8;
        if (!s->srtt)
            s->srtt = 1;
    }
    uint64_t var = MAX(MS(1), 4 * s->rttvar);
    s->rto = MIN(MAX(s->srtt + var, TCP_RTO_MIN), TCP_RTO_MAX);
}

uint32_t tcp_rcv_window(const struct net_socket *s) {
    uint32_t used = (uint32_t)MIN(s->rcvq.len, (size_t)s->rcvbuf);
    uint32_t w = s->rcvbuf - used;
    if (w > 65535)
        w = 65535;                            /* no window scaling */
    uint32_t adv = SEQ_GT(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
    /* Receiver SWS avoidance (RFC 1122 4.2.3.3): move the right edge only by a useful amount,
     * and never to the left. */
    uint32_t step = MIN(s->rcvbuf / 2, (uint32_t)our_mss(s));
    if (w < adv || (w - adv < step && w != 65535 && w < s->rcvbuf))
        w = adv;
    return w;
}

uint64_t tcp_next_deadline(const struct net_socket *s) {
    uint64_t d = UINT64_MAX;
    if (s->rexmit_at && s->rexmit_at < d)
        d = s->rexmit_at;
    if (s->delack_at && s->delack_at < d)
        d = s->delack_at;
    if (s->tw_at && s->tw_at < d)
        d = s->tw_at;
    return d;
}

static void on_rexmit_timer(struct net_socket *s) {
    struct net_stack *st = s->st;
    if (s->persisting) {
        if (s->snd_wnd && s->snd_max == s->snd_una) {
            s->persisting = false;
            s->backoff = 0;
            tcp_output_force(s);              /* a small window: send what fits */
            return;
        }
        tcp_send_probe(s);
        if (s->backoff < 16)
            s->backoff++;
        s->rexmit_at = st->now + MAX(tcp_rto_now(s), TCP_PERSIST_MIN);
        net_arm(st, s->rexmit_at);
        return;
    }
    bool syn = s->state == TCP_SYN_SENT || s->state == TCP_SYN_RECEIVED;
    if (++s->retries > (syn ? TCP_SYN_RETRIES : TCP_MAX_RETRIES)) {
        if (!syn)
            tcp_send_rst(s);
        tcp_drop(s, ETIMEDOUT);
        return;
    }
    s->backoff++;
    s->rtt_timing = false;                    /* Karn: no samples from retransmissions */
    if (s->retries >= 2)
        ipv4_suspect_route(st, s->remote.ip); /* perhaps the neighbour's MAC changed */
    if (syn) {
        s->snd_nxt = s->iss;
        tcp_send_syn(s);
        return;
    }
    uint32_t flight = s->snd_max - s->snd_una;
    if (flight == 0)
        return;
    s->ssthresh = MAX(flight / 2, 2u * s->mss);
    s->cwnd = s->mss;
    s->in_recovery = false;
    s->dupacks = 0;
    s->snd_nxt = s->snd_una;                  /* go back and resend from the first unacked byte */
    tcp_output(s);
    if (!s->rexmit_at) {
        s->rexmit_at = st->now + tcp_rto_now(s);
        net_arm(st, s->rexmit_at);
    }
}

void tcp_timers(struct net_socket *s) {
    uint64_t now = s->st->now;
    if (s->tw_at && s->tw_at <= now) {
        tcp_drop(s, 0);                       /* TIME_WAIT over, or FIN_WAIT_2 gave up */
        return;
    }
    if (s->delack_at && s->delack_at <= now) {
        s->delack_at = 0;
        tcp_send_ack(s);
    }
    if (s->rexmit_at && s->rexmit_at <= now) {
        s->rexmit_at = 0;
        on_rexmit_timer(s);
    }
}

/* ---- user-side operations ---- */

static uint16_t our_mss(const struct net_socket *s) {
    uint16_t mtu = s->st->nif ? s->st->nif->mtu : NET_MTU;
    return (uint16_t)(mtu - IP_HLEN - TCP_HLEN);
}

int tcp_connect(struct net_socket *s) {
    struct net_stack *st = s->st;
    struct netif *nif = st->nif;
    if (!net_is_local_ip(st, s->remote.ip)) {
        if (!nif || !nif->ip)
            return -ENETUNREACH;
        bool on_link = (s->remote.ip & nif->netmask) == (nif->ip & nif->netmask);
        if (!on_link && !nif->gateway)
            return -ENETUNREACH;
    }
    s->iss = tcp_new_iss(st);
    s->snd_una = s->snd_nxt = s->snd_max = s->iss;
    s->mss = TCP_DEFAULT_MSS;
    s->rcv_adv = 0;
    s->error = 0;
    s->conn_error = 0;
    s->rd_shut = s->wr_shut = false;
    s->fin_rcvd = false;
    s->fin_sent = s->fin_queued = false;
    s->retries = s->backoff = 0;
    tcp_set_state(s, TCP_SYN_SENT);
    tcp_hash_insert(s);
    tcp_send_syn(s);
    return -EINPROGRESS;
}

/* Initial values once the peer's MSS is known (RFC 6928 initial window). */
void tcp_init_window(struct net_socket *s, uint16_t peer_mss) {
    uint16_t m = our_mss(s);
    s->mss = peer_mss && peer_mss < m ? peer_mss : m;
    if (s->mss < 64)
        s->mss = 64;
    s->cwnd = MIN(10u * s->mss, MAX(2u * s->mss, 14600u));
    s->ssthresh = 0x7fffffff;
}

uint16_t tcp_our_mss(const struct net_socket *s) { return our_mss(s); }

void tcp_close(struct net_socket *s) {
    struct net_stack *st = s->st;
    switch (s->state) {
    case TCP_LISTEN: {
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &s->accept_q) {
            struct net_socket *c = container_of(pos, struct net_socket, qlink);
            tcp_send_rst(c);
            tcp_drop(c, 0);
        }
        list_for_each_safe(pos, tmp, &s->syn_q) {
            struct net_socket *c = container_of(pos, struct net_socket, qlink);
            tcp_drop(c, 0);
        }
        tcp_drop(s, 0);
        return;
    }
    case TCP_CLOSED:
    case TCP_SYN_SENT:
        tcp_drop(s, 0);
        return;
    default:
        break;
    }
    if (s->rcvq.len || s->ooo || s->state == TCP_SYN_RECEIVED) {
        tcp_send_rst(s);                      /* unread data: abort, as Linux does */
        tcp_drop(s, 0);
        return;
    }
    if (s->state == TCP_TIME_WAIT) {
        tcp_free_buffers(s);
        return;
    }
    tcp_shutdown_wr(s);
    if (s->state == TCP_FIN_WAIT_2 && !s->tw_at) {
        s->tw_at = st->now + FIN_TIMEOUT;
        net_arm(st, s->tw_at);
    }
}

int tcp_shutdown_wr(struct net_socket *s) {
    switch (s->state) {
    case TCP_ESTABLISHED:
        tcp_set_state(s, TCP_FIN_WAIT_1);
        break;
    case TCP_CLOSE_WAIT:
        tcp_set_state(s, TCP_LAST_ACK);
        break;
    case TCP_SYN_SENT:
        tcp_drop(s, 0);
        return 0;
    case TCP_LISTEN:
    case TCP_CLOSED:
        return -ENOTCONN;
    default:
        return 0;                             /* already shut, or closing */
    }
    s->fin_queued = true;
    s->wr_shut = true;
    tcp_output(s);
    return 0;
}

static int take_error(struct net_socket *s) {
    int e = s->error;
    s->error = 0;
    return e;
}

long tcp_send(struct net_socket *s, const void *buf, size_t len) {
    if (s->error)
        return -take_error(s);
    switch (s->state) {
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        return -EAGAIN;
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        break;
    case TCP_LISTEN:
        return -ENOTCONN;
    case TCP_CLOSED:
        return s->conn_error || s->wr_shut ? -EPIPE : -ENOTCONN;
    default:
        return -EPIPE;
    }
    if (s->wr_shut || s->fin_queued)
        return -EPIPE;
    if (len == 0)
        return 0;
    size_t space = s->sndq.len < s->sndbuf ? s->sndbuf - s->sndq.len : 0;
    if (space == 0)
        return -EAGAIN;
    size_t n = bq_append(s->st, &s->sndq, buf, MIN(len, space));
    if (n == 0)
        return -ENOMEM;
    tcp_output(s);
    return (long)n;
}

long tcp_recv(struct net_socket *s, void *buf, size_t len, int flags) {
    if (s->rcvq.len && len) {
        size_t n = MIN(len, s->rcvq.len);
        bq_copy(&s->rcvq, 0, buf, n);
        if (!(flags & NET_MSG_PEEK)) {
            uint32_t old_edge = s->rcv_adv;
            bq_drop(s->st, &s->rcvq, n);
            bool receiving = s->state == TCP_ESTABLISHED || s->state == TCP_FIN_WAIT_1 || s->state == TCP_FIN_WAIT_2;
            if (receiving) {
                uint32_t new_edge = s->rcv_nxt + tcp_rcv_window(s);
                uint32_t gain = SEQ_GT(new_edge, old_edge) ? new_edge - old_edge : 0;
                uint32_t m = our_mss(s);
                if (gain >= 2 * m || gain >= s->rcvbuf / 2 || (old_edge == s->rcv_nxt && gain > 0))
                    tcp_send_ack(s);          /* window update */
            }
        }
        return (long)n;
    }
    if (s->error)
        return -take_error(s);
    if (s->fin_rcvd || s->rd_shut || s->conn_error)
        return 0;
    switch (s->state) {
    case TCP_LISTEN:
        return -ENOTCONN;
    case TCP_CLOSED:
        return s->conn_error ? 0 : -ENOTCONN;
    default:
        return len ? -EAGAIN : 0;
    }
}
