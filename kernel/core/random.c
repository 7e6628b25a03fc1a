/*
 * Random bytes: ChaCha20 as a generator, keyed from the host's seed (seed= on the command
 * line), RDRAND where the CPU has it, and the TSC. The key is replaced after every request so
 * earlier outputs cannot be recomputed from the state.
 */
#include "kernel.h"
#include "random.h"
#include "x86.h"

static uint32_t key[8];
static uint64_t counter;

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d) \
    a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), \
    a += b, d ^= a, d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7)

static void chacha_block(uint32_t out[16]) {
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    memcpy(&in[4], key, sizeof key);
    in[12] = (uint32_t)counter;
    in[13] = (uint32_t)(counter >> 32);
    counter++;
    uint32_t x[16];
    memcpy(x, in, sizeof x);
    for (int i = 0; i < 10; i++) {
        QR(x[0], x[4], x[8], x[12]);
        QR(x[1], x[5], x[9], x[13]);
        QR(x[2], x[6], x[10], x[14]);
        QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]);
        QR(x[1], x[6], x[11], x[12]);
        QR(x[2], x[7], x[8], x[13]);
        QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        out[i] = x[i] + in[i];
}

static bool rdrand64(uint64_t *v) {
    unsigned char ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
    return ok;
}

void random_init(const uint8_t *seed, size_t len, bool use_rdrand) {
    for (size_t i = 0; i < len && i < sizeof key; i++)
        ((uint8_t *)key)[i] ^= seed[i];
    uint64_t t = rdtsc();
    key[6] ^= (uint32_t)t;
    key[7] ^= (uint32_t)(t >> 32);
    for (int i = 0; use_rdrand && i < 4; i++) {
        uint64_t r;
        for (int tries = 0; tries < 10 && !rdrand64(&r); tries++)
            ;
        key[2 * i] ^= (uint32_t)r;
        key[2 * i + 1] ^= (uint32_t)(r >> 32);
    }
}

void random_bytes(void *buf, size_t n) {
    uint8_t *p = buf;
    uint32_t block[16];
    while (n) {
        chacha_block(block);
        size_t k = MIN(n, sizeof block);
        memcpy(p, block, k);
        p += k;
        n -= k;
    }
    chacha_block(block);
    memcpy(key, block, sizeof key);
    memset(block, 0, sizeof block);
}
