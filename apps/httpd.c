/*
 * httpd: a small static HTTP/1.1 server, single-threaded over epoll, for the network tests and
 * the network benchmark. Usage: httpd [PORT [DOCROOT]] (default 80 and /www).
 *
 *  - GET and HEAD of files under DOCROOT ("/" is /index.html); keep-alive (HTTP/1.1 by default,
 *    HTTP/1.0 with "Connection: keep-alive"); pipelined requests answered in order.
 *  - /compute?n=N: N rounds of an integer mix; the cost grows linearly with N (light and heavy
 *    requests). The answer is "n=N result=HEX\n", the same on Linux and in the unikernel.
 *  - /bytes?n=N: N bytes of a fixed pattern (byte i is 'a' + i % 26), for transfer tests.
 *  - /stats: "connections=... requests=... active=... freeram=... totalram=...\n": the server's
 *    own counters, and the memory sysinfo() reports (flat memory under load shows here).
 *  - Small responses go out in one write with TCP_NODELAY set: no Nagle delay, one segment.
 *    Larger files go out with sendfile() after the header.
 *  - Requests with headers over 8 KiB get 431 and the connection is closed; a request body
 *    (Content-Length) is read and discarded; idle connections are closed after 60 s.
 *  - On EMFILE from accept, a reserve descriptor is released to accept and close the newcomer,
 *    so the listener does not spin.
 * It prints "httpd: listening on port P, root R" once it accepts connections.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 8192            /* request line + headers */
#define OUT_INLINE 16384        /* bodies up to this size are copied behind the header */
#define BYTES_CHUNK 16384
#define IDLE_SECONDS 60
#define MAX_EVENTS 256

struct conn {
	int fd;
	char in[REQ_MAX];
	size_t in_len;
	size_t body_left;       /* request body bytes still to discard */
	char *out;              /* pending bytes to write (header and small bodies) */
	size_t out_len, out_off, out_cap;
	int file_fd;            /* a large body being sent with sendfile, or -1 */
	off_t file_off, file_end;
	uint64_t gen_left;      /* /bytes: pattern bytes still to send */
	uint64_t gen_pos;
	int close_after;        /* close once everything pending is written */
	int peer_closed;        /* read end of stream */
	uint32_t events;        /* what epoll watches for */
	time_t last_active;
	struct conn *next, *prev;
};

static const char *docroot = "/www";
static int epfd, reserve_fd = -1;
static struct conn *conns;
static unsigned long long n_connections, n_requests, n_active;

static void die(const char *what)
{
	fprintf(stderr, "httpd: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int out_reserve(struct conn *c, size_t more)
{
	if (c->out_len + more <= c->out_cap)
		return 0;
	size_t cap = c->out_cap ? c->out_cap : 2048;
	while (cap < c->out_len + more)
		cap *= 2;
	char *p = realloc(c->out, cap);
	if (!p)
		return -1;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static void out_add(struct conn *c, const void *data, size_t n)
{
	if (out_reserve(c, n) < 0) {
		c->close_after = 1;
		return;
	}
	memcpy(c->out + c->out_len, data, n);
	c->out_len += n;
}

static void out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct conn *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_add(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void header(struct conn *c, int status, const char *reason, const char *type, uint64_t length)
{
	out_printf(c, "HTTP/1.1 %d %s\r\nServer: unikit-httpd\r\nContent-Type: %s\r\nContent-Length: %llu\r\n%s\r\n",
		   status, reason, type, (unsigned long long)length, c->close_after ? "Connection: close\r\n" : "");
}

static void simple(struct conn *c, int status, const char *reason, int head_only)
{
	char body[128];
	int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
	header(c, status, reason, "text/plain", (uint64_t)n);
	if (!head_only)
		out_add(c, body, (size_t)n);
}

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot)
		return "application/octet-stream";
	static const char *const types[][2] = {
		{".html", "text/html"}, {".htm", "text/html"}, {".txt", "text/plain"}, {".css", "text/css"},
		{".js", "text/javascript"}, {".json", "application/json"}, {".png", "image/png"},
		{".jpg", "image/jpeg"}, {".svg", "image/svg+xml"},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

/* Decodes %XX in place; refuses NUL and "..": 0 when the path is acceptable. */
static int clean_path(char *p)
{
	char *w = p;
	for (char *r = p; *r; r++) {
		if (*r == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
			char hex[3] = {r[1], r[2], 0};
			*w = (char)strtol(hex, NULL, 16);
			if (*w == 0)
				return -1;
			w++;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	if (p[0] != '/')
		return -1;
	for (char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0))
			return -1;
	return 0;
}

static uint64_t query_n(const char *query, uint64_t fallback)
{
	const char *n = query ? strstr(query, "n=") : NULL;
	if (!n || (n != query && n[-1] != '&'))
		return fallback;
	return strtoull(n + 2, NULL, 10);
}

/* N rounds of a 64-bit mix (splitmix64 steps): linear in N, deterministic. */
static uint64_t compute(uint64_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0;
	for (uint64_t i = 0; i < n; i++) {
		x += 0x9e3779b97f4a7c15ull;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		acc ^= z ^ (z >> 31);
	}
	return acc;
}

static void serve_file(struct conn *c, const char *path, int head_only)
{
	char full[4096];
	if (snprintf(full, sizeof full, "%s%s%s", docroot, path,
		     path[strlen(path) - 1] == '/' ? "index.html" : "") >= (int)sizeof full) {
		simple(c, 414, "URI Too Long", head_only);
		return;
	}
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		if (errno == EMFILE || errno == ENFILE)
			simple(c, 503, "Service Unavailable", head_only);
		else
			simple(c, 404, "Not Found", head_only);
		return;
	}
	header(c, 200, "OK", content_type(full), (uint64_t)st.st_size);
	if (head_only || st.st_size == 0) {
		close(fd);
	} else if (st.st_size <= OUT_INLINE) {
		if (out_reserve(c, (size_t)st.st_size) == 0) {
			ssize_t n = pread(fd, c->out + c->out_len, (size_t)st.st_size, 0);
			if (n == st.st_size)
				c->out_len += (size_t)n;
			else
				c->close_after = 1;   /* the length promised cannot be kept: end the connection */
		} else {
			c->close_after = 1;
		}
		close(fd);
	} else {
		c->file_fd = fd;
		c->file_off = 0;
		c->file_end = st.st_size;
	}
}

static void serve_stats(struct conn *c, int head_only)
{
	struct sysinfo si;
	char body[256];
	memset(&si, 0, sizeof si);
	sysinfo(&si);
	int n = snprintf(body, sizeof body, "connections=%llu requests=%llu active=%llu freeram=%llu totalram=%llu\n",
			 n_connections, n_requests, n_active,
			 (unsigned long long)si.freeram * si.mem_unit, (unsigned long long)si.totalram * si.mem_unit);
	header(c, 200, "OK", "text/plain", (uint64_t)n);
	if (!head_only)
		out_add(c, body, (size_t)n);
}

/* Looks for a header (case-insensitive name) in the block between the request line and the
 * blank line; copies its value (trimmed) into val. */
static int find_header(const char *headers, const char *name, char *val, size_t cap)
{
	size_t len = strlen(name);
	for (const char *line = headers; line && *line; ) {
		const char *eol = strstr(line, "\r\n");
		if (!eol || eol == line)
			break;
		if ((size_t)(eol - line) > len && strncasecmp(line, name, len) == 0 && line[len] == ':') {
			const char *v = line + len + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			size_t n = (size_t)(eol - v);
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= cap)
				n = cap - 1;
			memcpy(val, v, n);
			val[n] = 0;
			return 1;
		}
		line = eol + 2;
	}
	return 0;
}

/* One complete request in req (NUL-terminated, ending with the blank line). */
static void handle_request(struct conn *c, char *req)
{
	n_requests++;
	char *line_end = strstr(req, "\r\n");
	*line_end = 0;
	char *headers = line_end + 2;
	char method[16], target[4096], version[16];
	if (sscanf(req, "%15s %4095s %15s", method, target, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0) {
		c->close_after = 1;
		simple(c, 400, "Bad Request", 0);
		return;
	}
	char val[256];
	int http10 = strcmp(version, "HTTP/1.0") == 0;
	int has_conn = find_header(headers, "Connection", val, sizeof val);
	if (http10 ? !(has_conn && strcasecmp(val, "keep-alive") == 0) : (has_conn && strcasecmp(val, "close") == 0))
		c->close_after = 1;
	if (find_header(headers, "Content-Length", val, sizeof val)) {
		char *end;
		unsigned long long n = strtoull(val, &end, 10);
		if (*end || val[0] == '-' || n > (1ull << 30)) {
			c->close_after = 1;
			simple(c, 400, "Bad Request", 0);
			return;
		}
		c->body_left = (size_t)n;
	}
	if (find_header(headers, "Transfer-Encoding", val, sizeof val)) {
		c->close_after = 1;
		simple(c, 501, "Not Implemented", 0);
		return;
	}
	int head_only = strcmp(method, "HEAD") == 0;
	if (!head_only && strcmp(method, "GET") != 0) {
		simple(c, 405, "Method Not Allowed", 0);
		return;
	}
	char *query = strchr(target, '?');
	if (query)
		*query++ = 0;
	if (clean_path(target) < 0) {
		simple(c, 400, "Bad Request", head_only);
		return;
	}
	if (strcmp(target, "/compute") == 0) {
		uint64_t n = query_n(query, 1000);
		char body[96];
		int len = snprintf(body, sizeof body, "n=%llu result=%016llx\n", (unsigned long long)n,
				   (unsigned long long)compute(n));
		header(c, 200, "OK", "text/plain", (uint64_t)len);
		if (!head_only)
			out_add(c, body, (size_t)len);
	} else if (strcmp(target, "/bytes") == 0) {
		uint64_t n = query_n(query, 0);
		header(c, 200, "OK", "application/octet-stream", n);
		if (!head_only) {
			c->gen_left = n;
			c->gen_pos = 0;
		}
	} else if (strcmp(target, "/stats") == 0) {
		serve_stats(c, head_only);
	} else {
		serve_file(c, target, head_only);
	}
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	if (c->file_fd >= 0)
		close(c->file_fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->out);
	free(c);
	n_active--;
}

static int busy(const struct conn *c)
{
	return c->out_off < c->out_len || c->file_fd >= 0 || c->gen_left > 0;
}

/* Writes what is pending: 1 when all of it went, 0 when the socket is full, -1 on error. */
static int flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > 65536) {   /* a pipelined burst grew it: give the memory back */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	while (c->file_fd >= 0) {
		ssize_t n = sendfile(c->fd, c->file_fd, &c->file_off, (size_t)(c->file_end - c->file_off));
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0 || c->file_off >= c->file_end) {
			close(c->file_fd);
			c->file_fd = -1;
			if (c->file_off < c->file_end)
				return -1;   /* the file shrank */
		}
	}
	static char pattern[BYTES_CHUNK + 26];
	if (!pattern[0])
		for (size_t i = 0; i < sizeof pattern; i++)
			pattern[i] = (char)('a' + i % 26);
	while (c->gen_left > 0) {
		size_t len = c->gen_left < BYTES_CHUNK ? (size_t)c->gen_left : BYTES_CHUNK;
		ssize_t n = write(c->fd, pattern + c->gen_pos % 26, len);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->gen_left -= (uint64_t)n;
		c->gen_pos += (uint64_t)n;
	}
	return 1;
}

/* Sending a file or generated bytes: later requests wait until it is out. */
static int streaming(const struct conn *c)
{
	return c->file_fd >= 0 || c->gen_left > 0;
}

/* Answers the complete requests in the input buffer, in order, until a large body must go first. */
static void process(struct conn *c)
{
	for (;;) {
		if (c->body_left) {
			size_t skip = c->body_left < c->in_len ? c->body_left : c->in_len;
			memmove(c->in, c->in + skip, c->in_len - skip);
			c->in_len -= skip;
			c->body_left -= skip;
			if (c->body_left)
				return;
		}
		if (c->close_after || streaming(c))
			return;
		char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		if (!end) {
			if (c->in_len == sizeof c->in) {
				c->close_after = 1;
				simple(c, 431, "Request Header Fields Too Large", 0);
			}
			return;
		}
		size_t len = (size_t)(end - c->in) + 4;
		char req[REQ_MAX + 1];
		memcpy(req, c->in, len);
		req[len] = 0;
		memmove(c->in, c->in + len, c->in_len - len);
		c->in_len -= len;
		if (memchr(req, 0, len)) {
			c->close_after = 1;
			simple(c, 400, "Bad Request", 0);
			return;
		}
		handle_request(c, req);
	}
}

/*
 * One read of what has arrived, and answers to every complete request in it: -1 on a read error.
 * One read per event, not until EAGAIN: epoll is level-triggered, so the rest comes back on the
 * next round, after the other ready connections. A keep-alive client that sends its next request
 * as soon as it has an answer would otherwise keep the loop to itself and starve the others.
 */
static int on_readable(struct conn *c)
{
	if (c->peer_closed || c->close_after || streaming(c) || c->in_len >= sizeof c->in)
		return 0;
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		c->peer_closed = 1;   /* answer what came, then close (a truncated request is dropped) */
	c->in_len += (size_t)n;
	process(c);
	return 0;
}

/* Level-triggered interest: input while we may take requests, output while bytes wait. */
static void rewatch(struct conn *c)
{
	uint32_t want = 0;
	if (!c->peer_closed && !c->close_after && !streaming(c))
		want |= EPOLLIN;
	if (busy(c))
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	struct epoll_event ev = {.events = want, .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = want;
}

static void on_event(struct conn *c, uint32_t events)
{
	c->last_active = time(NULL);
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		conn_close(c);
		return;
	}
	int read_budget = 1;      /* reads for this event: see on_readable */
	if ((events & EPOLLIN) && read_budget-- && on_readable(c) < 0) {
		conn_close(c);
		return;
	}
	for (;;) {
		int f = flush(c);
		if (f < 0) {
			conn_close(c);
			return;
		}
		if (f == 0)
			break;
		if (c->close_after || (c->peer_closed && c->in_len == 0)) {
			conn_close(c);
			return;
		}
		/* Requests held back behind a large body can go now. */
		process(c);
		if (!busy(c)) {
			if (read_budget && read_budget-- && on_readable(c) < 0) {
				conn_close(c);
				return;
			}
			if (!busy(c)) {
				if (c->peer_closed) {
					conn_close(c);
					return;
				}
				break;
			}
		}
	}
	rewatch(c);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: take the newcomer with the reserve and refuse it. */
				if (reserve_fd >= 0) {
					close(reserve_fd);
					int dropped = accept(lfd, NULL, NULL);
					if (dropped >= 0)
						close(dropped);
					reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
				}
				return;
			}
			if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
				fprintf(stderr, "httpd: accept: %s\n", strerror(errno));
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->file_fd = -1;
		c->last_active = time(NULL);
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		n_connections++;
		n_active++;
		c->events = EPOLLIN;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(c);
	}
}

static void reap_idle(void)
{
	time_t now = time(NULL);
	for (struct conn *c = conns, *next; c; c = next) {
		next = c->next;
		if (now - c->last_active > IDLE_SECONDS)
			conn_close(c);
	}
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
	int port = argc > 1 ? atoi(argv[1]) : 80;
	if (argc > 2)
		docroot = argv[2];
	if (port <= 0 || port > 65535 || argc > 3) {
		fprintf(stderr, "usage: httpd [PORT [DOCROOT]]\n");
		return 2;
	}
	ignore_sigpipe();
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0)
		die("bind");
	if (listen(lfd, 1024) < 0)
		die("listen");
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
		die("epoll_ctl");
	reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
	printf("httpd: listening on port %d, root %s\n", port, docroot);
	fflush(stdout);

	struct epoll_event events[MAX_EVENTS];
	time_t last_reap = time(NULL);
	for (;;) {
		int n = epoll_wait(epfd, events, MAX_EVENTS, 1000);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (events[i].data.ptr == NULL)
				on_accept(lfd);
			else
				on_event(events[i].data.ptr, events[i].events);
		}
		if (time(NULL) - last_reap >= 5) {
			reap_idle();
			last_reap = time(NULL);
		}
	}
}
