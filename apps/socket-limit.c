/*
 * socket-limit: opens TCP sockets until socket() fails, then prints how it failed
 * ("socket failed after N: EMFILE"), closes them all and checks one can be opened again
 * ("reopen ok"). Exits 0 when the failure was EMFILE, 1 otherwise. The limit is
 * RLIMIT_NOFILE: on Linux it depends on `ulimit -n`, in the unikernel it is 1024.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	static int fds[1 << 20];
	int n = 0, err = 0;
	while (n < (int)(sizeof fds / sizeof fds[0])) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			err = errno;
			break;
		}
		fds[n++] = fd;
	}
	printf("socket failed after %d: %s\n", n, err == EMFILE ? "EMFILE" : strerror(err));
	for (int i = 0; i < n; i++)
		close(fds[i]);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	printf(fd >= 0 ? "reopen ok\n" : "reopen failed\n");
	return err == EMFILE && fd >= 0 ? 0 : 1;
}
