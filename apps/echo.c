/*
 * echo: a TCP echo server over poll(), single-threaded, many connections. Usage: echo [PORT]
 * (default 7). Every byte a client sends comes back on the same connection; a client's end of
 * stream closes its connection. Prints "echo: listening on port P" once it accepts connections.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CONNS 1000
#define BUF_SIZE 65536

struct conn {
	char buf[BUF_SIZE];
	size_t len, off;    /* bytes read and not yet written back: buf[off..len) */
	int eof;
};

static struct pollfd fds[MAX_CONNS + 1];
static struct conn *conns[MAX_CONNS + 1];
static int nfds = 1;

static void drop(int i)
{
	close(fds[i].fd);
	free(conns[i]);
	nfds--;
	fds[i] = fds[nfds];
	conns[i] = conns[nfds];
}

/* SIGPIPE ignored with the raw call: musl's signal() links a signal-return trampoline
 * (rt_sigreturn), which a program that never handles a signal does not need, and which
 * `unikit build` would count as a syscall the kernel lacks. */
static void ignore_sigpipe(void)
{
	struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } act = {SIG_IGN, 0, NULL, 0};
	syscall(SYS_rt_sigaction, SIGPIPE, &act, NULL, sizeof act.mask);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: echo [PORT]\n");
		return 2;
	}
	ignore_sigpipe();
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 128) < 0) {
		fprintf(stderr, "echo: cannot listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("echo: listening on port %d\n", port);
	fflush(stdout);
	fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	for (;;) {
		if (poll(fds, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "echo: poll: %s\n", strerror(errno));
			return 1;
		}
		for (int i = nfds - 1; i >= 1; i--) {
			struct conn *c = conns[i];
			short re = fds[i].revents;
			if (!re)
				continue;
			if ((re & POLLIN) && c->len == 0 && !c->eof) {
				ssize_t n = read(fds[i].fd, c->buf, BUF_SIZE);
				if (n < 0 && errno != EAGAIN) {
					drop(i);
					continue;
				}
				if (n == 0)
					c->eof = 1;
				if (n > 0)
					c->len = (size_t)n, c->off = 0;
			} else if ((re & (POLLERR | POLLHUP)) && !(re & POLLIN) && c->len == 0) {
				drop(i);
				continue;
			}
			while (c->off < c->len) {
				ssize_t n = write(fds[i].fd, c->buf + c->off, c->len - c->off);
				if (n < 0)
					break;
				c->off += (size_t)n;
			}
			if (c->off < c->len && errno != EAGAIN) {
				drop(i);
				continue;
			}
			if (c->off == c->len)
				c->len = c->off = 0;
			if (c->eof && c->len == 0) {
				drop(i);
				continue;
			}
			fds[i].events = c->len ? POLLOUT : POLLIN;
		}
		if (fds[0].revents & POLLIN) {
			while (nfds <= MAX_CONNS) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					break;
				struct conn *c = calloc(1, sizeof *c);
				if (!c) {
					close(fd);
					break;
				}
				fds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
				conns[nfds++] = c;
			}
		}
	}
}
