/*
 * The network policy (docs/guest-abi.md: the netpolicy flag, listen= and egress=): the program
 * binds only declared ports, and connects or sends only to declared targets. Checked where the
 * socket calls enter the stack, so no path around it exists short of the program running in
 * ring 0 (the `low` level). Each refusal is -EACCES, one "unikit: " line for the user and one
 * "@netpolicy" marker for the host's audit, up to NET_POLICY_LOG_MAX per boot.
 *
 * Loopback stays allowed: it never leaves the guest, and it can only reach the program's own
 * listeners, which are on declared ports. A UDP server (bound to a declared port) may answer the
 * last NET_POLICY_PEERS addresses it received from, as a TCP server answers on accepted
 * connections.
 */
#include "net_internal.h"
#include "unikit_abi.h"

static const char *proto_name(const struct net_socket *s) { return s->type == NET_SOCK_DGRAM ? "udp" : "tcp"; }

#define IP_FMT "%u.%u.%u.%u"
#define IP_ARGS(ip) (unsigned)((ip) >> 24), (unsigned)(((ip) >> 16) & 255), (unsigned)(((ip) >> 8) & 255), (unsigned)((ip) & 255)

/* One refusal of op ("bind", "listen", "connect", "send"): counted, logged while under the
 * limit, -EACCES. */
static int refuse(struct net_socket *s, const char *op, const struct net_addr *a, const char *why) {
    struct net_policy *p = s->st->policy;
    p->refused++;
    if (p->refused <= NET_POLICY_LOG_MAX) {
        kprintf("unikit: network policy: %s %s " IP_FMT ":%u refused (%s, %s)\n", op, strcmp(op, "listen") ? "to" : "on",
                IP_ARGS(a->ip), a->port, proto_name(s), why);
        kprintf(UNIKIT_MARK_NETPOLICY " %s %s " IP_FMT ":%u\n", op, proto_name(s), IP_ARGS(a->ip), a->port);
    } else if (p->refused == NET_POLICY_LOG_MAX + 1) {
        kprintf("unikit: network policy: more refusals, not logged\n");
    }
    return -EACCES;
}

static bool listen_declared(const struct net_policy *p, uint16_t port) {
    for (int i = 0; i < p->nlisten; i++)
        if (p->listen[i] == port)
            return true;
    return false;
}

int policy_bind(struct net_socket *s, const struct net_addr *a) {
    struct net_policy *p = s->st->policy;
    if (!p || a->port == 0 || listen_declared(p, a->port))
        return 0;
    return refuse(s, "bind", a, "not a declared listen port");
}

int policy_listen(struct net_socket *s) {
    struct net_policy *p = s->st->policy;
    if (!p || (s->bound && listen_declared(p, s->local.port)))
        return 0;
    /* Unbound, listen() would pick an ephemeral port: never a declared one. */
    struct net_addr a = {s->local.ip, s->bound ? s->local.port : 0};
    return refuse(s, "listen", &a, "not a declared listen port");
}

static bool egress_declared(const struct net_policy *p, const struct net_addr *dst) {
    for (int i = 0; i < p->negress; i++) {
        const struct net_egress *e = &p->egress[i];
        if ((dst->ip & e->mask) == e->ip && (e->port == 0 || e->port == dst->port))
            return true;
    }
    return false;
}

static bool answers_peer(const struct net_socket *s, const struct net_addr *dst) {
    if (!s->peers)
        return false;
    for (int i = 0; i < NET_POLICY_PEERS; i++)
        if (s->peers[i].ip == dst->ip && s->peers[i].port == dst->port)
            return true;
    return false;
}

int policy_egress(struct net_socket *s, const struct net_addr *dst, const char *op) {
    struct net_policy *p = s->st->policy;
    if (!p || net_is_local_ip(s->st, dst->ip) || egress_declared(p, dst) || answers_peer(s, dst))
        return 0;
    return refuse(s, op, dst, "not a declared egress target");
}

void policy_note_peer(struct net_socket *s, const struct net_addr *from) {
    struct net_policy *p = s->st->policy;
    if (!p || !s->bound || !listen_declared(p, s->local.port) || answers_peer(s, from))
        return;
    if (!s->peers) {
        s->peers = net_alloc(s->st, sizeof *s->peers * NET_POLICY_PEERS);
        if (!s->peers)
            return;                           /* out of memory: no answer, never more access */
        memset(s->peers, 0, sizeof *s->peers * NET_POLICY_PEERS);
    }
    s->peers[s->npeer++ % NET_POLICY_PEERS] = *from;
}

void policy_free_peers(struct net_socket *s) {
    if (s->peers)
        net_free(s->st, s->peers, sizeof *s->peers * NET_POLICY_PEERS);
    s->peers = NULL;
}

void net_set_policy(struct net_stack *st, struct net_policy *p) { st->policy = p; }

/* ---- parsing listen= and egress= ---- */

static int item_len(const char *s) {
    int n = 0;
    while (s[n] && s[n] != ',')
        n++;
    return n;
}

static bool parse_port(const char **s, uint16_t *port) {
    uint32_t v = 0;
    const char *c = *s;
    if (*c < '0' || *c > '9')
        return false;
    for (; *c >= '0' && *c <= '9'; c++) {
        v = v * 10 + (uint32_t)(*c - '0');
        if (v > 65535)
            return false;
    }
    if (v == 0)
        return false;
    *port = (uint16_t)v;
    *s = c;
    return true;
}

/* The next comma-separated item of *s into buf (NUL-terminated); false when too long or
 * followed by a trailing comma. */
static bool next_item(const char **s, char *buf, size_t size) {
    if (!**s)
        return false;
    size_t n = 0;
    while (**s && **s != ',') {
        if (n + 1 >= size)
            return false;
        buf[n++] = *(*s)++;
    }
    buf[n] = 0;
    if (**s == ',' && !*++*s)
        return false;                         /* a trailing comma: an empty item */
    return true;
}

static bool parse_listen(struct net_policy *p, const char *list) {
    char item[16];
    for (const char *s = list; *s;) {
        const char *start = s;
        uint16_t port;
        const char *c = item;
        if (!next_item(&s, item, sizeof item) || !parse_port(&c, &port) || *c) {
            kprintf("unikit: command line: listen=%s: '%.*s' is not a port (1 to 65535)\n", list, item_len(start), start);
            return false;
        }
        if (p->nlisten == NET_POLICY_MAX_LISTEN) {
            kprintf("unikit: command line: listen= has more than %d ports\n", NET_POLICY_MAX_LISTEN);
            return false;
        }
        p->listen[p->nlisten++] = port;
    }
    return true;
}

/* "A.B.C.D[/LEN]:PORT" or ":*" */
static bool parse_target(char *item, struct net_egress *e) {
    char *colon = strrchr(item, ':');
    if (!colon)
        return false;
    *colon = 0;
    uint32_t ip, mask = 0xffffffffu;
    if (!net_parse_cidr(item, &ip, &mask) && !net_parse_ipv4(item, &ip)) {
        /* net_parse_cidr takes LEN 1..32; /0 means anywhere. */
        size_t n = strlen(item);
        if (n < 3 || strcmp(item + n - 2, "/0"))
            return false;
        item[n - 2] = 0;
        if (!net_parse_ipv4(item, &ip))
            return false;
        mask = 0;
    }
    e->mask = mask;
    e->ip = ip & mask;
    const char *port = colon + 1;
    if (!strcmp(port, "*")) {
        e->port = 0;
        return true;
    }
    return parse_port(&port, &e->port) && !*port;
}

static bool parse_egress(struct net_policy *p, const char *list) {
    char item[40];
    for (const char *s = list; *s;) {
        const char *start = s;
        if (!next_item(&s, item, sizeof item) || !parse_target(item, &p->egress[p->negress])) {
            kprintf("unikit: command line: egress=: '%.*s' is not A.B.C.D[/LEN]:PORT or A.B.C.D[/LEN]:*\n",
                    item_len(start), start);
            return false;
        }
        if (++p->negress == NET_POLICY_MAX_EGRESS && *s) {
            kprintf("unikit: command line: egress= has more than %d targets\n", NET_POLICY_MAX_EGRESS);
            return false;
        }
    }
    return true;
}

bool net_policy_parse(struct net_policy *p, const char *listen, const char *egress) {
    memset(p, 0, sizeof *p);
    if ((listen && !parse_listen(p, listen)) || (egress && !parse_egress(p, egress))) {
        memset(p, 0, sizeof *p);              /* fail closed: nothing declared */
        return false;
    }
    return true;
}
