/* Test helpers: checks that end the current test, frame builders for hand-made packets. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "link.h"
#include "net_internal.h"
#include "shim.h"

extern int test_failed;
#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, "\n");                                                    \
            test_failed = 1;                                                          \
            return;                                                                   \
        }                                                                             \
    } while (0)

#define A_IP NET_IP(10, 0, 0, 1)
#define B_IP NET_IP(10, 0, 0, 2)
#define X_IP NET_IP(10, 0, 0, 9)
static const uint8_t X_MAC[6] = {0x02, 0, 0, 0, 0, 9};
#endif
