/*
 * Calls fork (syscall 57) raw. In the unikernel fork is not implemented, so this prints
 * "fork returned -1 errno=38" (ENOSYS). On Linux fork succeeds: the child exits at once and
 * the parent waits for it, so no process is left behind.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	long pid = syscall(SYS_fork);
	if (pid == 0)
		_exit(0); /* the child: leave without touching the parent's stdio buffers */

	int err = pid < 0 ? errno : 0;
	printf("fork returned %ld errno=%d\n", pid, err);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return 0;
}
