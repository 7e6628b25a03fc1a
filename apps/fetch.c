/*
 * fetch: a client service for the orchestrator's tests. `fetch NAME...`: for each NAME it reads
 * NAME_HOST and NAME_PORT from the environment (what a ConnectsTo requirement gives an instance)
 * and, once a second, forever, sends "GET / HTTP/1.0" there and reads the status line. It prints
 * a line whenever a target's outcome changes:
 *   fetch NAME HOST:PORT: HTTP/1.1 200 OK
 *   fetch NAME HOST:PORT: connect: Permission denied     (the network policy said no)
 *   fetch NAME HOST:PORT: closed without an answer       (reset or closed by the other end)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TARGETS 8

struct target {
	const char *name;
	char where[64];
	struct sockaddr_in sa;
	char last[128];
};

/* One request; the outcome (status line or error) goes to `out`. */
static void fetch_once(struct target *t, char *out, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(out, size, "socket: %s", strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&t->sa, sizeof t->sa) < 0) {
		snprintf(out, size, "connect: %s", strerror(errno));
		close(fd);
		return;
	}
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
		snprintf(out, size, "write: %s", strerror(errno));
		close(fd);
		return;
	}
	char buf[128];
	size_t got = 0;
	while (got < sizeof buf - 1) {
		ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(buf, '\r', got))
			break;
	}
	close(fd);
	buf[got] = 0;
	char *eol = strpbrk(buf, "\r\n");
	if (eol)
		*eol = 0;
	snprintf(out, size, "%s", got ? buf : "closed without an answer");
}

int main(int argc, char **argv)
{
	struct target targets[MAX_TARGETS];
	int n = 0;
	if (argc < 2 || argc - 1 > MAX_TARGETS) {
		printf("usage: fetch NAME... (reads NAME_HOST and NAME_PORT; at most %d)\n", MAX_TARGETS);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char key[64];
		struct target *t = &targets[n++];
		memset(t, 0, sizeof *t);
		t->name = argv[i];
		snprintf(key, sizeof key, "%s_HOST", argv[i]);
		const char *host = getenv(key);
		snprintf(key, sizeof key, "%s_PORT", argv[i]);
		const char *port = getenv(key);
		if (!host || !port) {
			printf("fetch %s: no %s_HOST or %s_PORT in the environment\n", argv[i], argv[i], argv[i]);
			return 2;
		}
		t->sa.sin_family = AF_INET;
		t->sa.sin_port = htons((unsigned short)atoi(port));
		if (inet_pton(AF_INET, host, &t->sa.sin_addr) != 1) {
			printf("fetch %s: %s is not an IPv4 address\n", argv[i], host);
			return 2;
		}
		snprintf(t->where, sizeof t->where, "%s:%s", host, port);
	}
	for (;;) {
		for (int i = 0; i < n; i++) {
			char now[128];
			fetch_once(&targets[i], now, sizeof now);
			if (strcmp(now, targets[i].last)) {
				printf("fetch %s %s: %s\n", targets[i].name, targets[i].where, now);
				fflush(stdout);
				memcpy(targets[i].last, now, sizeof now);
			}
		}
		sleep(1);
	}
}
