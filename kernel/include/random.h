#ifndef RANDOM_H
#define RANDOM_H
#include "kernel.h"
/* Keeps the host's seed (len 0: none; it must stay valid) for the generator, which is keyed on
 * first use: a program that asks for no random bytes (hello) never runs ChaCha at all. */
void random_init(const uint8_t *seed, size_t len, bool use_rdrand);
/* AT_RANDOM's 16 bytes: the second half of a 32-byte host seed as it is (the generator is keyed
 * from the first half), else bytes from the generator. */
void random_startup_bytes(uint8_t out[16]);
#endif
