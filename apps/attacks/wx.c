/*
 * Asks for memory that is writable and executable at once: mmap(PROT_READ|PROT_WRITE|PROT_EXEC)
 * ("mmap"), or mprotect of a writable page to add PROT_EXEC ("mprotect", the default). With W^X
 * (medium and up) the kernel refuses with EACCES. Below, the attack writes code into the page and
 * runs it.
 */
#include <sys/mman.h>
#include "attack.h"

static const unsigned char code[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 }; /* mov $42,%eax; ret */

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "mprotect";
	unsigned char *page;
	if (strcmp(how, "mmap") == 0) {
		attack_trying("mmap(PROT_READ|PROT_WRITE|PROT_EXEC)");
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED)
			return attack_refused("mmap(PROT_READ|PROT_WRITE|PROT_EXEC)", errno);
	} else if (strcmp(how, "mprotect") == 0) {
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED)
			return attack_refused("mmap(PROT_READ|PROT_WRITE)", errno);
		attack_trying("mprotect(PROT_READ|PROT_WRITE|PROT_EXEC)");
		if (mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
			return attack_refused("mprotect(PROT_READ|PROT_WRITE|PROT_EXEC)", errno);
	} else {
		fprintf(stderr, "usage: wx mmap|mprotect\n");
		return 2;
	}
	memcpy(page, code, sizeof code);
	int (*f)(void);
	void *p = page;
	memcpy(&f, &p, sizeof f);
	int r = f();
	char what[96];
	snprintf(what, sizeof what, "wrote and ran code in a W+X page from %s: it returned %d", how, r);
	return attack_succeeded(what);
}
