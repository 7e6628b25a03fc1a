/* Waiting for a condition: run the network, then HLT until an interrupt or the next deadline. */
#include "lapic.h"
#include "wait.h"

bool wait_until(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns) {
    uint64_t flags = irq_save();
    bool result;
    for (;;) {
        network_pump();
        if (ready(arg)) {
            result = true;
            break;
        }
        uint64_t now = clock_monotonic_ns();
        if (now >= deadline_ns) {
            result = false;
            break;
        }
        uint64_t wake = MIN(deadline_ns, network_deadline());
        if (wake <= now)
            continue;   /* the stack has work due (loopback frames, a timer) */
        /* A frame that arrived since the pump has raised its interrupt: the halt ends at once. */
        lapic_timer_arm(wake - now);
        cpu_halt_until_interrupt();
    }
    irq_restore(flags);
    return result;
}
