/*
 * virtio over MMIO (virtio 1.x, "modern" register layout, version 2), as QEMU microvm offers
 * it: up to 24 transports at VIRTIO_MMIO_BASE + i * 0x200. Split virtqueues.
 */
#ifndef VIRTIO_H
#define VIRTIO_H
#include "kernel.h"

#define VIRTIO_MMIO_BASE 0xfeb00000UL
#define VIRTIO_MMIO_SLOTS 24
#define VIRTIO_MMIO_SLOT_SIZE 0x200
#define VIRTIO_ID_NET 1

struct virtq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct virtq_used_elem { uint32_t id, len; };

struct virtq {
    uint16_t size, last_used, free_head, num_free;
    struct virtq_desc *desc;
    volatile uint16_t *avail;            /* flags, idx, ring[size] */
    volatile uint8_t *used;              /* flags, idx, ring[size] of virtq_used_elem */
    void **cookies;                      /* per descriptor head: the driver's buffer */
    unsigned index;
};

struct virtio_dev {
    volatile uint8_t *regs;
    unsigned slot, gsi;
    uint32_t device_id;
};

/* Finds the first transport with device_id; returns false when there is none. */
bool virtio_find(uint32_t device_id, struct virtio_dev *dev);
/* Resets and negotiates: the driver's wanted features (VERSION_1 is added); false on refusal. */
bool virtio_negotiate(struct virtio_dev *dev, uint64_t wanted, uint64_t *accepted);
bool virtq_init(struct virtio_dev *dev, struct virtq *q, unsigned index, uint16_t max_size);
void virtio_driver_ok(struct virtio_dev *dev);
/* Adds one buffer (device-readable unless write) and returns false when the ring is full. */
bool virtq_add(struct virtq *q, void *buf, uint32_t len, bool device_writes, void *cookie);
void virtq_kick(struct virtio_dev *dev, struct virtq *q);
/* Takes one used buffer: its cookie and the length the device wrote; NULL when none. */
void *virtq_take(struct virtq *q, uint32_t *len);
uint32_t virtio_ack_interrupt(struct virtio_dev *dev);
uint8_t virtio_config_byte(struct virtio_dev *dev, unsigned offset);
#endif
