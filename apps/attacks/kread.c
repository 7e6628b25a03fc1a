/*
 * Reads kernel memory from the program: the guest kernel's image lives at 0xffffffff80100000
 * (docs/guest-abi.md). With the program in ring 3 and kernel pages supervisor-only (medium and
 * up) the load faults and the kernel ends the program with a fault report (SIGSEGV, 139). In fast
 * mode (ring 0, the low level only) the load succeeds: the program can read, and write, the kernel.
 * Optional argv[1]: another address, in hex.
 */
#include <inttypes.h>
#include <stdint.h>
#include "attack.h"

int main(int argc, char **argv)
{
	uintptr_t addr = argc > 1 ? (uintptr_t)strtoull(argv[1], NULL, 16) : (uintptr_t)0xffffffff80100000ull;
	char what[96];
	snprintf(what, sizeof what, "read kernel memory at 0x%" PRIxPTR, addr);
	attack_trying(what);
	uint64_t value = *(volatile uint64_t *)addr;
	snprintf(what, sizeof what, "read kernel memory at 0x%" PRIxPTR ": 0x%016" PRIx64, addr, value);
	return attack_succeeded(what);
}
