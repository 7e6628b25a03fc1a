/*
 * The "small server that waits" of bench/scale.ts: says it is ready, then sleeps for ever (the
 * guest kernel halts while it sleeps, so an idle instance costs no host CPU). With an argument
 * N it instead prints N numbered lines, one every 100 ms, and exits 0 (for log tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc > 1) {
        int n = atoi(argv[1]);
        for (int i = 1; i <= n; i++) {
            printf("tick %d\n", i);
            fflush(stdout);
            struct timespec t = {0, 100 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
        return 0;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct timespec t = {3600, 0};
        nanosleep(&t, NULL);
    }
}
