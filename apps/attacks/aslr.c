/*
 * A static PIE that prints where things are: its load base, a stack address, the heap start
 * (brk) and an mmap address, on one line. Run it many times: with ASLR (medium and up) every boot
 * gives different addresses; without, the same ones each time.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "attack.h"

extern const char __ehdr_start[];

int main(void)
{
	int local = 0;
	void *brk = (void *)syscall(SYS_brk, 0);
	void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return attack_refused("mmap", errno);
	printf("base=%p stack=%p heap=%p mmap=%p\n", (void *)__ehdr_start, (void *)&local, brk, map);
	return 0;
}
