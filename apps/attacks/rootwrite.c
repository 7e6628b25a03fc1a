/*
 * Writes under /: creates /attack-written (argv[1] another path). With a read-only root (high and
 * strict) open fails with EROFS; /tmp stays writable, which the program checks first (a failure
 * there is status 3).
 */
#include <fcntl.h>
#include <unistd.h>
#include "attack.h"

static int write_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return errno;
	if (write(fd, "owned\n", 6) != 6) {
		int e = errno;
		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/attack-written";
	int e = write_file("/tmp/scratch");
	if (e != 0) {
		printf("writing /tmp/scratch failed: %s\n", strerror(e));
		return 3;
	}
	char what[128];
	snprintf(what, sizeof what, "create %s", path);
	attack_trying(what);
	e = write_file(path);
	if (e != 0)
		return attack_refused(what, e);
	snprintf(what, sizeof what, "created %s", path);
	return attack_succeeded(what);
}
