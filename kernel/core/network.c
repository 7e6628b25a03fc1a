/*
 * Glue between the virtio-net driver and the TCP/IP stack: the interface's address comes from
 * the command line (ip=, gw=, dns=) or QEMU user networking's defaults. Without a NIC the stack
 * is made on first use, loopback only.
 */
#include "cmdline.h"
#include "config.h"
#include "net.h"
#include "netdev.h"
#include "wait.h"

static struct netif nif;
static bool attempted;
static const struct boot_config *config;
static struct net_policy policy;     /* with the netpolicy flag: what the stack enforces */
static bool policed;

/* The policy is read at boot, so a bad listen= or egress= is reported before the program runs
 * (and then nothing is declared: the policy fails closed). */
void network_configure(const struct boot_config *cfg) {
    config = cfg;
    policed = cfg->netpolicy;
    if (policed)
        net_policy_parse(&policy, cfg->listen, cfg->egress);
}

static int transmit(struct netif *n, const void *frame, size_t len) {
    (void)n;
    return netdev_transmit(frame, len) ? 0 : -ENOBUFS;
}

static bool configure(const struct boot_config *cfg) {
    uint32_t ip = nif.ip, mask = nif.netmask, gw = nif.gateway, dns = nif.dns;
    if (cfg->ip && !net_parse_cidr(cfg->ip, &ip, &mask) && !net_parse_ipv4(cfg->ip, &ip)) {
        kprintf("unikit: command line: ip=%s is not an IPv4 address (a.b.c.d or a.b.c.d/len)\n", cfg->ip);
        return false;
    }
    if (cfg->gw && !net_parse_ipv4(cfg->gw, &gw)) {
        kprintf("unikit: command line: gw=%s is not an IPv4 address\n", cfg->gw);
        return false;
    }
    if (cfg->dns && !net_parse_ipv4(cfg->dns, &dns)) {
        kprintf("unikit: command line: dns=%s is not an IPv4 address\n", cfg->dns);
        return false;
    }
    return net_configure(&nif, ip, mask, gw, dns) == 0;
}

void network_init(const struct boot_config *cfg) {
    attempted = true;
    if (!netdev_init())
        return;
    netdev_mac(nif.mac);
    nif.transmit = transmit;
    net_default_config(&nif);
    if (!configure(cfg))
        return;
    net_kernel = net_create(&nif);
    if (!net_kernel)
        kprintf("unikit: not enough memory for the network stack; raise --mem\n");
    else if (klog_verbose)
        kprintf("unikit: network up, %u.%u.%u.%u\n", nif.ip >> 24, (nif.ip >> 16) & 255, (nif.ip >> 8) & 255,
                nif.ip & 255);
}

/* The NIC is probed on first use, so programs without sockets never pay for the probe. */
struct net_stack *network_stack(void) {
    if (!attempted && config)
        network_init(config);
    if (!net_kernel)
        net_kernel = net_create(NULL);
    if (net_kernel && policed)
        net_set_policy(net_kernel, &policy);
    return net_kernel;
}

static void deliver(const void *frame, size_t len, void *arg) {
    (void)arg;
    net_input(&nif, frame, len);
}

/* Kernels without socket calls never have a stack: the constant test lets the linker drop it. */
void network_pump(void) {
    if (!NET_ENABLED || !net_kernel)
        return;
    if (netdev_present())
        netdev_receive(deliver, NULL);
    net_poll(net_kernel, clock_monotonic_ns());
}

/*
 * Linux keeps sending a socket's data after its process has ended; here the VM ends with the
 * program. So exit waits, at most EXIT_LINGER_NS, until the peers have acknowledged what was sent
 * and the NIC has handed every frame to the host: QEMU sends queued frames from a bottom half,
 * which never runs once isa-debug-exit has ended its process (a program that connects, sends and
 * exits lost its handshake's last ACK that way).
 */
#define EXIT_LINGER_NS 1000000000ULL
#define EXIT_POLL_NS 1000000ULL

void network_flush_before_exit(void) {
    if (!NET_ENABLED || !net_kernel)
        return;
    uint64_t deadline = clock_monotonic_ns() + EXIT_LINGER_NS;
    for (;;) {
        network_pump();
        if (!net_output_pending(net_kernel) && !netdev_transmit_pending())
            return;
        uint64_t now = clock_monotonic_ns();
        if (now >= deadline)
            return;
        clock_sleep_until(now + EXIT_POLL_NS < deadline ? now + EXIT_POLL_NS : deadline);
    }
}

uint64_t network_deadline(void) {
    return NET_ENABLED && net_kernel ? net_next_deadline_ns(net_kernel) : UINT64_MAX;
}
