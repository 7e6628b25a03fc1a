/*
 * Random bytes: ChaCha20 as a generator, keyed from the host's seed (seed= on the command
 * line), RDRAND where the CPU has it, and the TSC, on first use. The key is replaced after every
 * request so earlier outputs cannot be recomputed from the state.
 */
#include "kernel.h"
#include "random.h"
#include "x86.h"

static uint32_t key[8];
static uint64_t counter;
static const uint8_t *seed_at;
static size_t seed_len;
static bool rdrand_ok, keyed;

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

/* The quarter rounds of one double round: four columns, then four diagonals. A loop over this
 * table is a fraction of the unrolled code, which matters when it runs once under TCG. */
static const uint8_t rounds[8][4] = {
    {0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15},
    {0, 5, 10, 15}, {1, 6, 11, 12}, {2, 7, 8, 13}, {3, 4, 9, 14},
};

static void quarter_round(uint32_t *x, const uint8_t *i) {
    uint32_t a = x[i[0]], b = x[i[1]], c = x[i[2]], d = x[i[3]];
    a += b, d ^= a, d = ROTL(d, 16);
    c += d, b ^= c, b = ROTL(b, 12);
    a += b, d ^= a, d = ROTL(d, 8);
    c += d, b ^= c, b = ROTL(b, 7);
    x[i[0]] = a, x[i[1]] = b, x[i[2]] = c, x[i[3]] = d;
}

static void chacha_block(uint32_t out[16]) {
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    memcpy(&in[4], key, sizeof key);
    in[12] = (uint32_t)counter;
    in[13] = (uint32_t)(counter >> 32);
    counter++;
    uint32_t x[16];
    memcpy(x, in, sizeof x);
    for (int r = 0; r < 80; r++)
        quarter_round(x, rounds[r % 8]);
    for (int i = 0; i < 16; i++)
        out[i] = x[i] + in[i];
}

static bool rdrand64(uint64_t *v) {
    unsigned char ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
    return ok;
}

void random_init(const uint8_t *seed, size_t len, bool use_rdrand) {
    seed_at = seed;
    seed_len = len;
    rdrand_ok = use_rdrand;
}

/* The seed's first half when AT_RANDOM took the second (random_startup_bytes), else all of it. */
static size_t key_seed_len(void) { return seed_len >= 32 ? 16 : seed_len; }

static void key_setup(void) {
    keyed = true;
    for (size_t i = 0; i < key_seed_len() && i < sizeof key; i++)
        ((uint8_t *)key)[i] ^= seed_at[i];
    uint64_t t = rdtsc();
    key[6] ^= (uint32_t)t;
    key[7] ^= (uint32_t)(t >> 32);
    for (int i = 0; rdrand_ok && i < 4; i++) {
        uint64_t r = 0;
        for (int tries = 0; tries < 10 && !rdrand64(&r); tries++)
            ;
        key[2 * i] ^= (uint32_t)r;
        key[2 * i + 1] ^= (uint32_t)(r >> 32);
    }
}

void random_startup_bytes(uint8_t out[16]) {
    if (seed_len >= 32)
        memcpy(out, seed_at + 16, 16);
    else
        random_bytes(out, 16);
}

void random_bytes(void *buf, size_t n) {
    if (!keyed)
        key_setup();
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
