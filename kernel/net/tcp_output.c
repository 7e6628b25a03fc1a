/*
 * Building and sending TCP segments: what the send window, the congestion window (RFC 5681) and
 * Nagle's algorithm (RFC 896, RFC 1122) allow; SYN and SYN-ACK with our MSS option; pure ACKs and
 * window updates; zero-window probes; resets, including those answering segments that have no
 * connection (RFC 793 "reset generation").
 */
#include "net_internal.h"

/* Sends one segment of s: len bytes of the send queue from offset off. */
static void send_segment(struct net_socket *s, uint32_t seq, uint8_t flags, size_t off, size_t len, bool mss_opt) {
    struct net_stack *st = s->st;
    uint8_t *f = st->tx;
    uint8_t *t = f + L4_OFF;
    size_t hlen = TCP_HLEN + (mss_opt ? 4 : 0);
    wr16(t, s->local.port);
    wr16(t + 2, s->remote.port);
    wr32(t + 4, seq);
    wr32(t + 8, (flags & TCP_ACK) ? s->rcv_nxt : 0);
    t[12] = (uint8_t)((hlen / 4) << 4);
    t[13] = flags;
    uint32_t wnd = tcp_rcv_window(s);
    wr16(t + 14, (uint16_t)wnd);
    wr16(t + 16, 0);
    wr16(t + 18, 0);
    if (mss_opt) {
        t[20] = 2;
        t[21] = 4;
        wr16(t + 22, tcp_our_mss(s));
    }
    if (len)
        bq_copy(&s->sndq, off, t + hlen, len);
    size_t tl = hlen + len;
    uint32_t sum = csum_pseudo(s->local.ip, s->remote.ip, IP_PROTO_TCP, (uint16_t)tl);
    wr16(t + 16, csum_fold(csum_add(sum, t, tl)));
    if (flags & TCP_ACK) {
        if (SEQ_GT(s->rcv_nxt + wnd, s->rcv_adv))
            s->rcv_adv = s->rcv_nxt + wnd;
        s->delack_at = 0;
        s->acks_pending = 0;
    }
    ipv4_output(st, f, tl, IP_PROTO_TCP, s->local.ip, s->remote.ip);
}

static void arm_rexmit(struct net_socket *s) {
    s->rexmit_at = s->st->now + tcp_rto_now(s);
    net_arm(s->st, s->rexmit_at);
}

static bool can_send_data(enum tcp_state st) {
    return st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT || st == TCP_FIN_WAIT_1 || st == TCP_CLOSING ||
           st == TCP_LAST_ACK;
}

/* force: send one segment even if Nagle or sender-side SWS avoidance would wait (the persist
 * timer's override, RFC 1122 4.2.3.4). */
static void output(struct net_socket *s, bool force) {
    if (!can_send_data(s->state))
        return;
    for (;;) {
        uint32_t off = s->snd_nxt - s->snd_una;
        size_t qlen = s->sndq.len;
        if (off > qlen)
            break;                            /* only our FIN lies beyond, and it is sent */
        size_t avail = qlen - off;
        uint32_t wnd = MIN(s->snd_wnd, s->cwnd);
        uint32_t flight = s->snd_nxt - s->snd_una;
        uint32_t usable = wnd > flight ? wnd - flight : 0;
        size_t n = MIN(MIN(avail, (size_t)s->mss), (size_t)usable);
        bool fin = s->fin_queued && n == avail;
        if (n == 0 && !fin)
            break;
        if (n > 0 && n < s->mss && !fin && !force) {
            /* Nagle: a small segment goes only when it carries all the data and nothing is
             * unacknowledged (or TCP_NODELAY), or when it is at least half the peer's largest
             * window (RFC 1122 4.2.3.4). */
            bool all = n == avail;
            bool half = s->max_sndwnd && n >= s->max_sndwnd / 2;
            if (!((all && (s->nodelay || flight == 0)) || half))
                break;
        }
        uint8_t flags = TCP_ACK;
        if (n && n == avail)
            flags |= TCP_PSH;
        if (fin)
            flags |= TCP_FIN;
        bool new_data = SEQ_GE(s->snd_nxt, s->snd_max);
        send_segment(s, s->snd_nxt, flags, off, n, false);
        if (fin) {
            s->fin_sent = true;
            s->fin_seq = s->snd_nxt + (uint32_t)n;
        }
        if (!s->rtt_timing && n && new_data && s->backoff == 0) {
            s->rtt_timing = true;
            s->rtt_seq = s->snd_nxt + (uint32_t)n;
            s->rtt_start = s->st->now;
        }
        s->snd_nxt += (uint32_t)n + (fin ? 1 : 0);
        if (SEQ_GT(s->snd_nxt, s->snd_max))
            s->snd_max = s->snd_nxt;
        if (!s->rexmit_at || s->persisting) {
            s->persisting = false;
            arm_rexmit(s);
        }
        if (fin || force)
            break;
    }
    /* Data waits, nothing is in flight, and the peer's window is closed or too small to use:
     * the persist timer probes it (zero window) or sends what fits (small window). */
    if (s->snd_max == s->snd_una && s->sndq.len && !s->rexmit_at) {
        s->persisting = true;
        s->backoff = 0;
        s->rexmit_at = s->st->now + MAX(tcp_rto_now(s), TCP_PERSIST_MIN);
        net_arm(s->st, s->rexmit_at);
    }
}

void tcp_output(struct net_socket *s) { output(s, false); }
void tcp_output_force(struct net_socket *s) { output(s, true); }

void tcp_send_ack(struct net_socket *s) {
    if (s->state == TCP_CLOSED || s->state == TCP_LISTEN || s->state == TCP_SYN_SENT)
        return;
    /* snd_max, not snd_nxt: after a timeout rewinds snd_nxt the peer may already hold more,
     * and an ACK below its rcv_nxt would be unacceptable to it (and answered in kind). */
    send_segment(s, s->snd_max, TCP_ACK, 0, 0, false);
}

void tcp_send_syn(struct net_socket *s) {
    uint8_t flags = s->state == TCP_SYN_RECEIVED ? (TCP_SYN | TCP_ACK) : TCP_SYN;
    send_segment(s, s->iss, flags, 0, 0, true);
    s->snd_nxt = s->iss + 1;
    if (SEQ_GT(s->snd_nxt, s->snd_max))
        s->snd_max = s->snd_nxt;
    if (s->backoff == 0) {
        s->rtt_timing = true;
        s->rtt_seq = s->iss + 1;
        s->rtt_start = s->st->now;
    }
    arm_rexmit(s);
}

void tcp_send_rst(struct net_socket *s) {
    if (s->state == TCP_CLOSED || s->state == TCP_LISTEN || s->state == TCP_SYN_SENT)
        return;
    send_segment(s, s->snd_max, TCP_RST | TCP_ACK, 0, 0, false);
}

void tcp_send_probe(struct net_socket *s) {
    /* An old sequence number: the receiver answers with an ACK carrying its window. */
    send_segment(s, s->snd_una - 1, TCP_ACK, 0, 0, false);
}

void tcp_retransmit_first(struct net_socket *s) {
    size_t n = MIN(s->sndq.len, (size_t)s->mss);
    bool fin = s->fin_queued && n == s->sndq.len && SEQ_GT(s->snd_max, s->snd_una + (uint32_t)s->sndq.len);
    if (n == 0 && !fin)
        return;
    send_segment(s, s->snd_una, (uint8_t)(TCP_ACK | (fin ? TCP_FIN : 0)), 0, n, false);
    s->rtt_timing = false;
    if (SEQ_LT(s->snd_nxt, s->snd_una + (uint32_t)n + (fin ? 1 : 0)))
        s->snd_nxt = s->snd_una + (uint32_t)n + (fin ? 1 : 0);
    arm_rexmit(s);
}

void tcp_reset_reply(struct net_stack *st, uint32_t lip, uint32_t rip, const uint8_t *in, size_t seglen) {
    uint8_t *f = st->tx;
    uint8_t *t = f + L4_OFF;
    uint8_t inflags = in[13];
    wr16(t, rd16(in + 2));
    wr16(t + 2, rd16(in));
    if (inflags & TCP_ACK) {
        wr32(t + 4, rd32(in + 8));
        wr32(t + 8, 0);
        t[13] = TCP_RST;
    } else {
        wr32(t + 4, 0);
        wr32(t + 8, rd32(in + 4) + (uint32_t)seglen);
        t[13] = TCP_RST | TCP_ACK;
    }
    t[12] = (TCP_HLEN / 4) << 4;
    wr16(t + 14, 0);
    wr16(t + 16, 0);
    wr16(t + 18, 0);
    uint32_t sum = csum_pseudo(lip, rip, IP_PROTO_TCP, TCP_HLEN);
    wr16(t + 16, csum_fold(csum_add(sum, t, TCP_HLEN)));
    ipv4_output(st, f, TCP_HLEN, IP_PROTO_TCP, lip, rip);
}
