/* Copies between the kernel and the program's memory, every range checked first. */
#include "kernel.h"

long copy_from_user(void *k, uint64_t u, size_t n) {
    if (!user_range_ok(u, n, false))
        return -EFAULT;
    memcpy(k, (const void *)u, n);
    return 0;
}

long copy_to_user(uint64_t u, const void *k, size_t n) {
    if (!user_range_ok(u, n, true))
        return -EFAULT;
    memcpy((void *)u, k, n);
    return 0;
}

long strncpy_from_user(char *k, uint64_t u, size_t max) {
    for (size_t i = 0; i < max; i++) {
        /* Check page by page: the string may end just before an unmapped page. */
        if (i == 0 || ((u + i) & (PAGE_SIZE - 1)) == 0)
            if (!user_range_ok(u + i, 1, false))
                return -EFAULT;
        k[i] = ((const char *)u)[i];
        if (!k[i])
            return (long)i;
    }
    return -ENAMETOOLONG;
}
