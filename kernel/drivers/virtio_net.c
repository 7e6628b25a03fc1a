/*
 * virtio-net: one receive and one transmit queue, no offloads (the stack computes checksums and
 * never sends more than one MTU). Receive buffers are posted once and reposted after each frame;
 * transmit buffers come from a small pool reclaimed as the device finishes with them.
 */
#include "lapic.h"
#include "netdev.h"
#include "virtio.h"

#define F_MAC (1ULL << 5)
#define RX_QUEUE 0
#define TX_QUEUE 1
#define RING_SIZE 128
#define BUF_SIZE 2048

struct net_hdr {   /* struct virtio_net_hdr with VERSION_1: 12 bytes */
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

static struct virtio_dev dev;
static struct virtq rxq, txq;
static bool present;
static uint8_t mac[6];
static uint8_t *tx_free[RING_SIZE];
static unsigned tx_free_count, tx_buffers;

static void on_interrupt(void *arg) {
    (void)arg;
    virtio_ack_interrupt(&dev);   /* waking the CPU was the point; queues are polled */
}

bool netdev_present(void) { return present; }
void netdev_mac(uint8_t out[6]) { memcpy(out, mac, 6); }

bool netdev_init(void) {
    uint64_t features;
    if (!virtio_find(VIRTIO_ID_NET, &dev))
        return false;
    if (!virtio_negotiate(&dev, F_MAC, &features)) {
        kprintf("unikit: virtio-net: the device refused the features unikit needs\n");
        return false;
    }
    if (!virtq_init(&dev, &rxq, RX_QUEUE, RING_SIZE) || !virtq_init(&dev, &txq, TX_QUEUE, RING_SIZE)) {
        kprintf("unikit: virtio-net: cannot set up the queues (out of memory?)\n");
        return false;
    }
    for (int i = 0; i < 6; i++)
        mac[i] = (features & F_MAC) ? virtio_config_byte(&dev, (unsigned)i) : (uint8_t)(i == 0 ? 0x02 : i);
    for (uint16_t i = 0; i < rxq.size; i++) {
        uint8_t *buf = kmalloc(BUF_SIZE);
        if (!buf || !virtq_add(&rxq, buf, BUF_SIZE, true, buf))
            break;
    }
    for (uint16_t i = 0; i < txq.size && tx_free_count < RING_SIZE; i++) {
        uint8_t *buf = kmalloc(BUF_SIZE);
        if (!buf)
            break;
        tx_free[tx_free_count++] = buf;
    }
    tx_buffers = tx_free_count;
    irq_register(dev.gsi, on_interrupt, NULL);
    virtio_driver_ok(&dev);
    virtq_kick(&dev, &rxq);
    present = true;
    if (klog_verbose)
        kprintf("unikit: virtio-net at slot %u (irq %u), mac %x:%x:%x:%x:%x:%x\n", dev.slot, dev.gsi, mac[0],
                mac[1], mac[2], mac[3], mac[4], mac[5]);
    return true;
}

static void reclaim_tx(void) {
    uint32_t len;
    uint8_t *buf;
    while ((buf = virtq_take(&txq, &len)))
        tx_free[tx_free_count++] = buf;
}

bool netdev_transmit_pending(void) {
    if (!present)
        return false;
    reclaim_tx();
    return tx_free_count < tx_buffers;
}

bool netdev_transmit(const void *frame, size_t len) {
    if (!present || len > NETDEV_MTU_FRAME)
        return false;
    reclaim_tx();
    if (!tx_free_count)
        return false;
    uint8_t *buf = tx_free[--tx_free_count];
    memset(buf, 0, sizeof(struct net_hdr));
    memcpy(buf + sizeof(struct net_hdr), frame, len);
    if (!virtq_add(&txq, buf, (uint32_t)(sizeof(struct net_hdr) + len), false, buf)) {
        tx_free[tx_free_count++] = buf;
        return false;
    }
    virtq_kick(&dev, &txq);
    return true;
}

size_t netdev_receive(void (*deliver)(const void *frame, size_t len, void *arg), void *arg) {
    if (!present)
        return 0;
    size_t n = 0;
    uint32_t len;
    uint8_t *buf;
    while ((buf = virtq_take(&rxq, &len))) {
        if (len > sizeof(struct net_hdr))
            deliver(buf + sizeof(struct net_hdr), len - sizeof(struct net_hdr), arg);
        virtq_add(&rxq, buf, BUF_SIZE, true, buf);
        n++;
    }
    if (n)
        virtq_kick(&dev, &rxq);
    return n;
}
