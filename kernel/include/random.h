#ifndef RANDOM_H
#define RANDOM_H
#include "kernel.h"
void random_init(const uint8_t *seed, size_t len, bool use_rdrand);
#endif
