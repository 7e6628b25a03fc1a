/* Waiting for a condition: run the network, then HLT until an interrupt or the next deadline. */
#include "lapic.h"
#include "wait.h"

bool wait_until(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns) {
    for (;;) {
        network_pump();
        if (ready(arg))
            return true;
        uint64_t now = clock_monotonic_ns();
        if (now >= deadline_ns)
            return false;
        uint64_t wake = MIN(deadline_ns, network_deadline());
        if (wake <= now)
            continue;   /* the stack has work due (loopback frames, a timer) */
        /* A frame that arrived since the pump has raised its interrupt: the halt ends at once. */
        lapic_timer_arm(wake - now);
        cpu_halt_until_interrupt();
    }
}
