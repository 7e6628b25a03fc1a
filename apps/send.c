/*
 * send: connects to HOST:PORT, writes N bytes (a repeating pattern) and exits at once, without
 * close() or shutdown(): what a program's last write becomes when its process (here its VM) ends
 * right after it. Usage: send A.B.C.D PORT N. Exit status 0 once every byte was written.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: send A.B.C.D PORT BYTES\n");
		return 2;
	}
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "send: bad address %s\n", argv[1]);
		return 2;
	}
	long total = atol(argv[3]);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
		perror("send: connect");
		return 1;
	}
	static char block[16384];
	for (size_t i = 0; i < sizeof block; i++)
		block[i] = (char)('a' + i % 26);
	for (long sent = 0; sent < total;) {
		size_t want = total - sent < (long)sizeof block ? (size_t)(total - sent) : sizeof block;
		ssize_t n = write(fd, block, want);
		if (n <= 0) {
			perror("send: write");
			return 1;
		}
		sent += n;
	}
	printf("send: wrote %ld bytes\n", total);
	return 0;
}
