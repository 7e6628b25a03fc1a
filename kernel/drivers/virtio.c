/* virtio-mmio transport and split virtqueues (see include/virtio.h). */
#include "virtio.h"
#include "mm.h"

#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC 0x080
#define REG_QUEUE_DRIVER 0x090
#define REG_QUEUE_DEVICE 0x0a0
#define REG_CONFIG 0x100
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define F_VERSION_1 (1ULL << 32)
#define DESC_F_WRITE 2
#define MAGIC 0x74726976

/* QEMU microvm wires transport i to GSI VIRTIO_GSI_BASE + i (its second IOAPIC). */
#define VIRTIO_GSI_BASE 24

static inline uint32_t rd(struct virtio_dev *d, unsigned r) { return *(volatile uint32_t *)(d->regs + r); }
static inline void wr(struct virtio_dev *d, unsigned r, uint32_t v) { *(volatile uint32_t *)(d->regs + r) = v; }

bool virtio_find(uint32_t device_id, struct virtio_dev *dev) {
    static volatile uint8_t *window;
    if (!window && !(window = mmio_map(VIRTIO_MMIO_BASE, VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_SLOT_SIZE)))
        return false;
    for (unsigned i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
        struct virtio_dev d = {window + i * VIRTIO_MMIO_SLOT_SIZE, i, VIRTIO_GSI_BASE + i, 0};
        if (rd(&d, REG_MAGIC) != MAGIC || rd(&d, REG_DEVICE_ID) != device_id)
            continue;
        if (rd(&d, REG_VERSION) != 2) {
            kprintf("unikit: virtio-mmio slot %u is a legacy (version %u) device; start QEMU with "
                    "-global virtio-mmio.force-legacy=false\n", i, rd(&d, REG_VERSION));
            continue;
        }
        d.device_id = device_id;
        *dev = d;
        return true;
    }
    return false;
}

bool virtio_negotiate(struct virtio_dev *d, uint64_t wanted, uint64_t *accepted) {
    wr(d, REG_STATUS, 0);
    wr(d, REG_STATUS, STATUS_ACKNOWLEDGE);
    wr(d, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    wr(d, REG_DEVICE_FEATURES_SEL, 0);
    uint64_t offered = rd(d, REG_DEVICE_FEATURES);
    wr(d, REG_DEVICE_FEATURES_SEL, 1);
    offered |= (uint64_t)rd(d, REG_DEVICE_FEATURES) << 32;
    uint64_t take = offered & (wanted | F_VERSION_1);
    if (!(take & F_VERSION_1))
        return false;
    wr(d, REG_DRIVER_FEATURES_SEL, 0);
    wr(d, REG_DRIVER_FEATURES, (uint32_t)take);
    wr(d, REG_DRIVER_FEATURES_SEL, 1);
    wr(d, REG_DRIVER_FEATURES, (uint32_t)(take >> 32));
    wr(d, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(rd(d, REG_STATUS) & STATUS_FEATURES_OK))
        return false;
    *accepted = take;
    return true;
}

bool virtq_init(struct virtio_dev *d, struct virtq *q, unsigned index, uint16_t max_size) {
    wr(d, REG_QUEUE_SEL, index);
    uint32_t dev_max = rd(d, REG_QUEUE_NUM_MAX);
    if (!dev_max)
        return false;
    uint16_t size = (uint16_t)MIN(dev_max, max_size);
    size_t desc_bytes = 16u * size, avail_bytes = 6 + 2u * size, used_bytes = 6 + 8u * size;
    size_t pages = (ALIGN_UP(desc_bytes + avail_bytes, PAGE_SIZE) + used_bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    uint8_t *mem = page_alloc(pages);
    q->cookies = kzalloc(sizeof(void *) * size);
    if (!mem || !q->cookies)
        return false;
    q->size = size;
    q->index = index;
    q->desc = (struct virtq_desc *)mem;
    q->avail = (volatile uint16_t *)(mem + desc_bytes);
    q->used = mem + ALIGN_UP(desc_bytes + avail_bytes, PAGE_SIZE);
    q->last_used = 0;
    for (uint16_t i = 0; i < size; i++)
        q->desc[i].next = (uint16_t)(i + 1);
    q->free_head = 0;
    q->num_free = size;
    wr(d, REG_QUEUE_NUM, size);
    uint64_t desc_pa = virt_to_phys(q->desc), avail_pa = virt_to_phys((void *)q->avail),
             used_pa = virt_to_phys((void *)q->used);
    wr(d, REG_QUEUE_DESC, (uint32_t)desc_pa);
    wr(d, REG_QUEUE_DESC + 4, (uint32_t)(desc_pa >> 32));
    wr(d, REG_QUEUE_DRIVER, (uint32_t)avail_pa);
    wr(d, REG_QUEUE_DRIVER + 4, (uint32_t)(avail_pa >> 32));
    wr(d, REG_QUEUE_DEVICE, (uint32_t)used_pa);
    wr(d, REG_QUEUE_DEVICE + 4, (uint32_t)(used_pa >> 32));
    wr(d, REG_QUEUE_READY, 1);
    return true;
}

void virtio_driver_ok(struct virtio_dev *d) {
    wr(d, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

bool virtq_add(struct virtq *q, void *buf, uint32_t len, bool device_writes, void *cookie) {
    if (!q->num_free)
        return false;
    uint16_t head = q->free_head;
    struct virtq_desc *desc = &q->desc[head];
    q->free_head = desc->next;
    q->num_free--;
    desc->addr = virt_to_phys(buf);
    desc->len = len;
    desc->flags = device_writes ? DESC_F_WRITE : 0;
    q->cookies[head] = cookie;
    uint16_t idx = q->avail[1];
    q->avail[2 + idx % q->size] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the ring entry before the index the device reads */
    q->avail[1] = (uint16_t)(idx + 1);
    return true;
}

void virtq_kick(struct virtio_dev *d, struct virtq *q) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    wr(d, REG_QUEUE_NOTIFY, q->index);
}

void *virtq_take(struct virtq *q, uint32_t *len) {
    volatile uint16_t *used_idx = (volatile uint16_t *)(q->used + 2);
    if (q->last_used == *used_idx)
        return NULL;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    volatile struct virtq_used_elem *e =
        (volatile struct virtq_used_elem *)(q->used + 4) + q->last_used % q->size;
    uint16_t head = (uint16_t)e->id;
    *len = e->len;
    q->last_used++;
    void *cookie = q->cookies[head];
    q->desc[head].next = q->free_head;
    q->free_head = head;
    q->num_free++;
    return cookie;
}

uint32_t virtio_ack_interrupt(struct virtio_dev *d) {
    uint32_t s = rd(d, REG_INTERRUPT_STATUS);
    if (s)
        wr(d, REG_INTERRUPT_ACK, s);
    return s;
}

uint8_t virtio_config_byte(struct virtio_dev *d, unsigned offset) { return d->regs[REG_CONFIG + offset]; }
