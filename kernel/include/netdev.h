/* The network device the stack sends and receives Ethernet frames through (drivers/virtio_net.c). */
#ifndef NETDEV_H
#define NETDEV_H
#include "kernel.h"

#define NETDEV_MTU_FRAME 1514   /* the largest Ethernet frame, without FCS */

/* Finds and starts the first virtio-net device; false when the VM has none. */
bool netdev_init(void);
bool netdev_present(void);
void netdev_mac(uint8_t mac[6]);
/* Queues one frame for sending; false when the transmit ring is full (the caller may retry). */
bool netdev_transmit(const void *frame, size_t len);
/* Whether frames handed to the device have not all been taken by it yet. */
bool netdev_transmit_pending(void);
/* Hands every received frame to deliver(); returns how many there were. */
size_t netdev_receive(void (*deliver)(const void *frame, size_t len, void *arg), void *arg);
#endif
