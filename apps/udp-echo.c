/*
 * udp-echo: every datagram received is sent back to its sender, unchanged. Usage:
 * udp-echo [PORT] (default 7). Prints "udp-echo: listening on port P" once it receives.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: udp-echo [PORT]\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		fprintf(stderr, "udp-echo: cannot bind port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("udp-echo: listening on port %d\n", port);
	fflush(stdout);
	static char buf[65536];
	for (;;) {
		struct sockaddr_in from;
		socklen_t flen = sizeof from;
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "udp-echo: recvfrom: %s\n", strerror(errno));
			return 1;
		}
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen) < 0)
			fprintf(stderr, "udp-echo: sendto: %s\n", strerror(errno));
	}
}
