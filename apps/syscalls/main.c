/*
 * The syscall conformance program: checks return values and errno of the Linux system calls
 * unikit implements, in normal and error cases. Prints "FAIL <call>: ..." for each failed
 * check, then "SUCCESS" (exit 0) or "FAILED <n>" (exit 1). Everything it creates is in /tmp,
 * and removed at the end.
 */
#include "check.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	/* One line at a time, so that the lines before a crash still come out. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (work_dir_create() < 0) {
		printf("FAILED %d\n", failure_count());
		return 1;
	}
	test_fds();
	test_paths(argc > 0 ? argv[0] : "");
	test_memory();
	test_process();
	test_time();
	work_dir_remove();

	if (failure_count() > 0) {
		printf("FAILED %d\n", failure_count());
		return 1;
	}
	puts("SUCCESS");
	return 0;
}
