/*
 * TCP segment arrival (RFC 793 section 3.9 "SEGMENT ARRIVES", with RFC 1122 and RFC 5681):
 * validation (lengths, data offset, options, checksum), demultiplexing to a connection or a
 * listener, the listener's bounded SYN queue, the SYN_SENT handshake, then for synchronized
 * states: the acceptability test, trimming to the window, RST, SYN, ACK (send window, RTT,
 * congestion window, fast retransmit), data in order and out of order, and FIN.
 */
#include "net_internal.h"

#define OOW_ACK_INTERVAL MS(100)

struct seg {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    uint16_t mss;                    /* 0 when the option is absent */
    const uint8_t *data;
    uint32_t dlen;
    const uint8_t *hdr;
    uint32_t seglen;                 /* data + SYN + FIN, as received (for reset replies) */
};

/* Parses the options; false if they are malformed. */
static bool parse_options(const uint8_t *o, size_t n, struct seg *g) {
    size_t i = 0;
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n)
            return false;
        uint8_t len = o[i + 1];
        if (len < 2 || i + len > n)
            return false;
        if (kind == 2) {
            if (len != 4)
                return false;
            g->mss = rd16(o + i + 2);
        }
        i += len;
    }
    return true;
}

static void listen_input(struct net_socket *l, struct seg *g) {
    struct net_stack *st = l->st;
    if (g->flags & TCP_RST)
        return;
    if (g->flags & TCP_ACK) {
        tcp_reset_reply(st, g->dst, g->src, g->hdr, g->seglen);
        return;
    }
    if (!(g->flags & TCP_SYN) || (g->flags & TCP_FIN))
        return;
    if (l->accept_q_len >= l->backlog)
        return;                               /* the peer retries its SYN later */
    if (l->syn_q_len >= NET_SYN_QUEUE_MAX) {
        struct net_socket *old = container_of(l->syn_q.next, struct net_socket, qlink);
        tcp_drop(old, 0);                     /* the oldest half-open connection makes room */
    }
    struct net_socket *c = sock_new(st, NET_SOCK_STREAM);
    if (!c)
        return;
    c->local.ip = g->dst;
    c->local.port = g->dport;
    c->remote.ip = g->src;
    c->remote.port = g->sport;
    c->bound = true;
    c->reuseaddr = l->reuseaddr;
    c->nodelay = l->nodelay;
    c->keepalive = l->keepalive;
    c->sndbuf = l->sndbuf;
    c->rcvbuf = l->rcvbuf;
    c->parent = l;
    list_add_tail(&l->syn_q, &c->qlink);
    l->syn_q_len++;
    c->irs = g->seq;
    c->rcv_nxt = g->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->iss = tcp_new_iss(st);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_wnd = g->wnd;
    c->max_sndwnd = g->wnd;
    c->snd_wl1 = g->seq;
    c->snd_wl2 = c->iss;
    tcp_init_window(c, g->mss ? g->mss : TCP_DEFAULT_MSS);
    c->state = TCP_SYN_RECEIVED;
    tcp_hash_insert(c);
    tcp_send_syn(c);
}

static void established(struct net_socket *s) {
    s->rexmit_at = 0;
    s->retries = 0;
    s->backoff = 0;
    tcp_set_state(s, TCP_ESTABLISHED);
}

static void syn_sent_input(struct net_socket *s, struct seg *g) {
    struct net_stack *st = s->st;
    bool ack = g->flags & TCP_ACK;
    if (ack && (SEQ_LE(g->ack, s->iss) || SEQ_GT(g->ack, s->snd_max))) {
        if (!(g->flags & TCP_RST))
            tcp_reset_reply(st, g->dst, g->src, g->hdr, g->seglen);
        return;
    }
    if (g->flags & TCP_RST) {
        if (ack)
            tcp_drop(s, ECONNREFUSED);
        return;
    }
    if (!(g->flags & TCP_SYN))
        return;
    s->irs = g->seq;
    s->rcv_nxt = g->seq + 1;
    s->rcv_adv = s->rcv_nxt;
    tcp_init_window(s, g->mss ? g->mss : TCP_DEFAULT_MSS);
    s->snd_wnd = g->wnd;
    s->max_sndwnd = g->wnd;
    s->snd_wl1 = g->seq;
    s->snd_wl2 = g->ack;
    if (ack) {
        s->snd_una = g->ack;
        if (s->rtt_timing && SEQ_GE(g->ack, s->rtt_seq))
            tcp_rto_sample(s, st->now - s->rtt_start);
        s->rtt_timing = false;
        established(s);
        tcp_send_ack(s);
    } else {
        s->state = TCP_SYN_RECEIVED;          /* simultaneous open */
        s->snd_nxt = s->iss;
        s->backoff = 0;
        tcp_send_syn(s);
    }
}

static void process_fin(struct net_socket *s) {
    s->rcv_nxt++;
    s->fin_rcvd = true;
    s->ooo_fin = false;
    switch (s->state) {
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
        tcp_set_state(s, TCP_CLOSE_WAIT);
        break;
    case TCP_FIN_WAIT_1:
        /* our FIN not yet acknowledged (else we would be in FIN_WAIT_2) */
        tcp_set_state(s, TCP_CLOSING);
        break;
    case TCP_FIN_WAIT_2:
        tcp_send_ack(s);
        tcp_enter_time_wait(s);
        return;
    default:
        break;
    }
    tcp_send_ack(s);
    net_changed(s->st);
}

/* Moves out-of-order data that now follows rcv_nxt into the receive queue. */
static bool drain_ooo(struct net_socket *s) {
    bool moved = false;
    while (s->ooo && SEQ_LE(s->ooo->seq, s->rcv_nxt)) {
        struct ooo_seg *o = s->ooo;
        s->ooo = o->next;
        s->ooo_bytes -= o->len;
        s->ooo_count--;
        uint32_t end = o->seq + o->len;
        if (SEQ_GT(end, s->rcv_nxt)) {
            uint32_t skip = s->rcv_nxt - o->seq;
            size_t n = bq_append(s->st, &s->rcvq, o->data + skip, o->len - skip);
            s->rcv_nxt += (uint32_t)n;
            moved = true;
        }
        net_free(s->st, o, sizeof *o + o->len);
    }
    return moved;
}

static void ooo_insert(struct net_socket *s, uint32_t seq, const uint8_t *data, uint32_t len) {
    if (s->ooo_count >= TCP_MAX_OOO_SEGS || s->ooo_bytes + len > s->rcvbuf)
        return;
    struct ooo_seg **pp = &s->ooo;
    while (*pp && SEQ_LE((*pp)->seq, seq)) {
        if ((*pp)->seq == seq && (*pp)->len >= len)
            return;                           /* a duplicate */
        pp = &(*pp)->next;
    }
    struct ooo_seg *o = net_alloc(s->st, sizeof *o + len);
    if (!o)
        return;
    o->seq = seq;
    o->len = len;
    memcpy(o->data, data, len);
    o->next = *pp;
    *pp = o;
    s->ooo_bytes += len;
    s->ooo_count++;
}

static void receive_data(struct net_socket *s, struct seg *g) {
    struct net_stack *st = s->st;
    if (g->seq == s->rcv_nxt) {
        size_t n = g->dlen;
        if (!s->rd_shut)
            n = bq_append(st, &s->rcvq, g->data, g->dlen);
        s->rcv_nxt += (uint32_t)n;
        bool filled = drain_ooo(s);
        if (filled || s->ooo)
            tcp_send_ack(s);                  /* tell the sender about the gap right away */
        else if (++s->acks_pending >= 2)
            tcp_send_ack(s);
        else if (!s->delack_at) {
            s->delack_at = st->now + TCP_DELACK;
            net_arm(st, s->delack_at);
        }
        if (s->rd_shut)
            bq_clear(st, &s->rcvq);
    } else {
        ooo_insert(s, g->seq, g->data, g->dlen);
        tcp_send_ack(s);                      /* a duplicate ACK drives fast retransmit */
    }
    net_changed(st);
}

/* ACK processing for synchronized states. false: the segment is finished with. */
static bool process_ack(struct net_socket *s, struct seg *g) {
    struct net_stack *st = s->st;
    if (s->state == TCP_SYN_RECEIVED) {
        if (!(SEQ_GT(g->ack, s->snd_una) && SEQ_LE(g->ack, s->snd_max))) {
            tcp_reset_reply(st, g->dst, g->src, g->hdr, g->seglen);
            return false;
        }
        struct net_socket *l = s->parent;
        if (l && l->accept_q_len >= l->backlog)
            return false;                     /* accept queue full: ignore; the peer retries */
        if (s->rtt_timing && SEQ_GE(g->ack, s->rtt_seq))
            tcp_rto_sample(s, st->now - s->rtt_start);
        s->rtt_timing = false;
        s->snd_una = s->iss + 1;
        s->snd_wnd = g->wnd;
        s->max_sndwnd = MAX(s->max_sndwnd, (uint32_t)g->wnd);
        s->snd_wl1 = g->seq;
        s->snd_wl2 = g->ack;
        established(s);
        if (l) {
            list_del(&s->qlink);
            l->syn_q_len--;
            list_add_tail(&l->accept_q, &s->qlink);
            l->accept_q_len++;
            s->on_accept_q = true;
        }
    }
    if (SEQ_GT(g->ack, s->snd_max)) {
        tcp_send_ack(s);                      /* acknowledges something never sent */
        return false;
    }
    uint32_t flight_before = s->snd_max - s->snd_una;
    if (SEQ_GT(g->ack, s->snd_una)) {
        uint32_t acked = g->ack - s->snd_una;
        size_t data_acked = MIN((size_t)acked, s->sndq.len);
        bq_drop(st, &s->sndq, data_acked);
        s->snd_una = g->ack;
        if (SEQ_LT(s->snd_nxt, s->snd_una))
            s->snd_nxt = s->snd_una;
        if (s->rtt_timing && SEQ_GE(g->ack, s->rtt_seq)) {
            tcp_rto_sample(s, st->now - s->rtt_start);
            s->rtt_timing = false;
        }
        s->backoff = 0;
        s->retries = 0;
        if (s->in_recovery) {
            if (SEQ_GE(g->ack, s->recover)) {
                s->in_recovery = false;
                s->cwnd = s->ssthresh;
            } else {
                tcp_retransmit_first(s);      /* partial ACK (RFC 6582): the next hole */
            }
        } else if (s->cwnd < s->ssthresh) {
            s->cwnd += (uint32_t)MIN(data_acked, (size_t)s->mss);
        } else if (s->cwnd) {
            s->cwnd += MAX(1u, (uint32_t)s->mss * s->mss / s->cwnd);
        }
        if (s->cwnd > 4u * 1024 * 1024)
            s->cwnd = 4u * 1024 * 1024;
        s->dupacks = 0;
        if (s->snd_una == s->snd_max) {
            if (!s->persisting)
                s->rexmit_at = 0;
        } else {
            s->rexmit_at = st->now + tcp_rto_now(s);
            net_arm(st, s->rexmit_at);
        }
        net_changed(st);
    } else if (g->ack == s->snd_una && g->dlen == 0 && !(g->flags & (TCP_SYN | TCP_FIN)) &&
               g->wnd == s->snd_wnd && flight_before) {
        if (++s->dupacks == 3 && !s->in_recovery) {
            s->ssthresh = MAX(flight_before / 2, 2u * s->mss);
            s->cwnd = s->ssthresh + 3u * s->mss;
            s->recover = s->snd_max;
            s->in_recovery = true;
            tcp_retransmit_first(s);
        } else if (s->in_recovery) {
            s->cwnd += s->mss;
        }
    }
    /* The send window (RFC 793: only from segments newer than the last update). */
    if (SEQ_LT(s->snd_wl1, g->seq) || (s->snd_wl1 == g->seq && SEQ_LE(s->snd_wl2, g->ack))) {
        s->snd_wnd = g->wnd;
        s->snd_wl1 = g->seq;
        s->snd_wl2 = g->ack;
        if (g->wnd > s->max_sndwnd)
            s->max_sndwnd = g->wnd;
        if (g->wnd && s->persisting) {
            s->persisting = false;
            s->rexmit_at = 0;
            s->backoff = 0;
        }
    }
    bool fin_acked = s->fin_sent && SEQ_GT(s->snd_una, s->fin_seq);
    switch (s->state) {
    case TCP_FIN_WAIT_1:
        if (fin_acked) {
            tcp_set_state(s, TCP_FIN_WAIT_2);
            if (!s->user && !s->tw_at) {
                s->tw_at = st->now + MS(60000);
                net_arm(st, s->tw_at);
            }
        }
        break;
    case TCP_CLOSING:
        if (fin_acked) {
            tcp_enter_time_wait(s);
            return false;
        }
        break;
    case TCP_LAST_ACK:
        if (fin_acked) {
            tcp_drop(s, 0);
            return false;
        }
        break;
    default:
        break;
    }
    return true;
}

static void conn_input(struct net_socket *s, struct seg *g) {
    struct net_stack *st = s->st;
    uint32_t wnd = tcp_rcv_window(s);
    uint32_t seglen = g->dlen + ((g->flags & TCP_SYN) ? 1 : 0) + ((g->flags & TCP_FIN) ? 1 : 0);
    bool ok;
    if (seglen == 0)
        ok = wnd == 0 ? g->seq == s->rcv_nxt : (SEQ_GE(g->seq, s->rcv_nxt) && SEQ_LT(g->seq, s->rcv_nxt + wnd));
    else if (wnd == 0)
        ok = g->seq == s->rcv_nxt;            /* take the ACK and RST; the data is trimmed away */
    else
        ok = (SEQ_GE(g->seq, s->rcv_nxt) && SEQ_LT(g->seq, s->rcv_nxt + wnd)) ||
             (SEQ_GE(g->seq + seglen - 1, s->rcv_nxt) && SEQ_LT(g->seq + seglen - 1, s->rcv_nxt + wnd));
    if (!ok) {
        if (g->flags & TCP_RST)
            return;
        if (s->state == TCP_SYN_RECEIVED && (g->flags & TCP_SYN) && g->seq == s->irs) {
            s->snd_nxt = s->iss;
            tcp_send_syn(s);                  /* our SYN-ACK was lost */
            return;
        }
        if (s->state == TCP_TIME_WAIT && (g->flags & TCP_FIN)) {
            s->tw_at = st->now + 2 * NET_TCP_MSL_NS;   /* a retransmitted FIN: restart 2MSL */
            net_arm(st, s->tw_at);
        }
        /* Answer with an ACK; for empty segments (window probes, stray ACKs) at most once per
         * OOW_ACK_INTERVAL, so two confused ends cannot trade ACKs forever (RFC 5961 sec. 10). */
        if (seglen == 0 && s->oow_ack_at && st->now - s->oow_ack_at < OOW_ACK_INTERVAL)
            return;
        if (seglen == 0)
            s->oow_ack_at = st->now ? st->now : 1;
        tcp_send_ack(s);
        return;
    }
    /* Trim what precedes rcv_nxt, then what exceeds the window. */
    if (SEQ_LT(g->seq, s->rcv_nxt)) {
        uint32_t skip = s->rcv_nxt - g->seq;
        if (g->flags & TCP_SYN) {
            g->flags &= (uint8_t)~TCP_SYN;
            g->seq++;
            skip--;
        }
        uint32_t d = MIN(skip, g->dlen);
        g->data += d;
        g->dlen -= d;
        g->seq += d;
        skip -= d;
        if (skip && (g->flags & TCP_FIN))
            g->flags &= (uint8_t)~TCP_FIN;
    }
    if (SEQ_GT(g->seq + g->dlen, s->rcv_nxt + wnd)) {
        g->dlen = SEQ_GT(s->rcv_nxt + wnd, g->seq) ? s->rcv_nxt + wnd - g->seq : 0;
        g->flags &= (uint8_t)~TCP_FIN;
    }

    if (g->flags & TCP_RST) {
        switch (s->state) {
        case TCP_SYN_RECEIVED:
            tcp_drop(s, s->parent ? 0 : ECONNREFUSED);
            break;
        case TCP_ESTABLISHED:
        case TCP_FIN_WAIT_1:
        case TCP_FIN_WAIT_2:
        case TCP_CLOSE_WAIT:
            tcp_drop(s, ECONNRESET);
            break;
        default:
            tcp_drop(s, 0);
            break;
        }
        return;
    }
    if (g->flags & TCP_SYN) {
        tcp_send_ack(s);                      /* RFC 5961 challenge ACK */
        return;
    }
    if (!(g->flags & TCP_ACK))
        return;
    if (!process_ack(s, g))
        return;

    if (g->dlen) {
        if (s->state == TCP_ESTABLISHED || s->state == TCP_FIN_WAIT_1 || s->state == TCP_FIN_WAIT_2) {
            if (!s->user && !s->parent) {
                tcp_send_rst(s);              /* data for a closed socket */
                tcp_drop(s, 0);
                return;
            }
            receive_data(s, g);
        }
    }
    if (g->flags & TCP_FIN) {
        uint32_t fin_seq = g->seq + g->dlen;
        if (s->state == TCP_TIME_WAIT) {
            tcp_send_ack(s);
            s->tw_at = st->now + 2 * NET_TCP_MSL_NS;
            net_arm(st, s->tw_at);
        } else if (!s->fin_rcvd) {
            if (fin_seq == s->rcv_nxt) {
                process_fin(s);
                if (s->state == TCP_TIME_WAIT)
                    return;
            } else {
                s->ooo_fin = true;
                s->ooo_fin_seq = fin_seq;
            }
        }
    } else if (s->ooo_fin && s->ooo_fin_seq == s->rcv_nxt && !s->fin_rcvd) {
        process_fin(s);
        if (s->state == TCP_TIME_WAIT)
            return;
    }
    tcp_output(s);
}

void tcp_input(struct net_stack *st, const uint8_t *ip, size_t iplen, const uint8_t *t, size_t len) {
    (void)iplen;
    struct seg g = {0};
    if (len < TCP_HLEN)
        goto bad;
    size_t hlen = (size_t)(t[12] >> 4) * 4;
    if (hlen < TCP_HLEN || hlen > len)
        goto bad;
    g.src = rd32(ip + 12);
    g.dst = rd32(ip + 16);
    if (csum_fold(csum_add(csum_pseudo(g.src, g.dst, IP_PROTO_TCP, (uint16_t)len), t, len)) != 0)
        goto bad;
    if (!parse_options(t + TCP_HLEN, hlen - TCP_HLEN, &g))
        goto bad;
    g.sport = rd16(t);
    g.dport = rd16(t + 2);
    g.seq = rd32(t + 4);
    g.ack = rd32(t + 8);
    g.flags = t[13] & 0x3f;
    g.wnd = rd16(t + 14);
    g.data = t + hlen;
    g.dlen = (uint32_t)(len - hlen);
    g.hdr = t;
    g.seglen = g.dlen + ((g.flags & TCP_SYN) ? 1 : 0) + ((g.flags & TCP_FIN) ? 1 : 0);
    if (g.sport == 0 || g.dport == 0 || g.src == 0)
        goto bad;
    if ((g.flags & TCP_SYN) && (g.flags & TCP_RST))
        goto bad;

    struct net_socket *s = tcp_lookup(st, g.dst, g.dport, g.src, g.sport);
    if (s && s->state == TCP_TIME_WAIT && (g.flags & TCP_SYN) && !(g.flags & (TCP_ACK | TCP_RST)) &&
        SEQ_GT(g.seq, s->rcv_nxt)) {
        tcp_drop(s, 0);                       /* a new incarnation may reuse TIME_WAIT (RFC 1122) */
        s = NULL;
    }
    if (!s) {
        struct net_socket *l = tcp_find_listener(st, g.dst, g.dport);
        if (l)
            listen_input(l, &g);
        else if (!(g.flags & TCP_RST))
            tcp_reset_reply(st, g.dst, g.src, t, g.seglen);
        return;
    }
    if (s->state == TCP_SYN_SENT)
        syn_sent_input(s, &g);
    else if (s->state != TCP_CLOSED && s->state != TCP_LISTEN)
        conn_input(s, &g);
    return;
bad:
    if (st->nif)
        st->nif->stats.rx_dropped++;
}
