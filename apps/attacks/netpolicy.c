/*
 * Network policy: reach the network where the policy does not allow it.
 *   listen PORT            bind PORT and listen on it (TCP)
 *   connect A.B.C.D:PORT   open a TCP connection there and send a line
 *   send A.B.C.D:PORT      send a UDP datagram there
 * Under a policy that declares neither the port nor the target, bind, connect and sendto fail
 * with EACCES (status 1); without a policy each succeeds (status 0). A connection the network
 * itself refuses (no listener) is status 3: it says nothing about the policy.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "attack.h"

static int parse_target(const char *text, struct sockaddr_in *sa)
{
	char host[32];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof host)
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = 0;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int do_listen(const char *port_text)
{
	char what[64];
	snprintf(what, sizeof what, "listen on undeclared port %s", port_text);
	attack_trying(what);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return attack_refused("socket", errno);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port_text))};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return attack_refused(what, errno);
	if (listen(fd, 1) < 0)
		return attack_refused(what, errno);
	return attack_succeeded(what);
}

static int do_connect(const char *target, int type)
{
	struct sockaddr_in sa;
	char what[96];
	if (parse_target(target, &sa) < 0) {
		printf("bad target %s: write A.B.C.D:PORT\n", target);
		return 2;
	}
	snprintf(what, sizeof what, "%s undeclared target %s", type == SOCK_STREAM ? "connect to" : "send to", target);
	attack_trying(what);
	int fd = socket(AF_INET, type, 0);
	if (fd < 0)
		return attack_refused("socket", errno);
	if (type == SOCK_DGRAM) {
		if (sendto(fd, "ping\n", 5, 0, (struct sockaddr *)&sa, sizeof sa) != 5)
			return attack_refused(what, errno);
		return attack_succeeded(what);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno != EACCES) {
			printf("the network refused the connection: %s (no listener?)\n", strerror(errno));
			return 3;
		}
		return attack_refused(what, errno);
	}
	if (write(fd, "exfiltrated\n", 12) != 12)
		return attack_refused(what, errno);
	close(fd);
	return attack_succeeded(what);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return do_listen(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "connect"))
		return do_connect(argv[2], SOCK_STREAM);
	if (argc == 3 && !strcmp(argv[1], "send"))
		return do_connect(argv[2], SOCK_DGRAM);
	printf("usage: attack-netpolicy listen PORT | connect A.B.C.D:PORT | send A.B.C.D:PORT\n");
	return 2;
}
