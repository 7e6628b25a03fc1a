/*
 * The BSD socket calls over the TCP/IP stack (kernel/net, include/net.h): AF_INET stream and
 * datagram sockets as descriptors. The stack never blocks; a blocking call here waits
 * (core/wait.c) until the socket is ready, running the network meanwhile.
 */
#include "fs.h"
#include "linux_fs.h"
#include "net.h"
#include "process.h"
#include "syscalls.h"
#include "wait.h"

#define AF_INET 2
#define SOCK_TYPE_MASK 0xf
#define SOCK_NONBLOCK 0x800
#define SOCK_CLOEXEC 0x80000
#define IPPROTO_IP 0
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP 17
#define MSG_DONTWAIT 0x40
#define MSG_WAITALL 0x100
#define MSG_NOSIGNAL 0x4000
#define SIGPIPE 13
#define S_IFSOCK_ 0140000
#define SO_LINGER 13
#define SO_RCVTIMEO 20
#define SO_SNDTIMEO 21
#define UDP_MAX_DATAGRAM 65507

struct sockaddr_in_ {
    uint16_t family, port;   /* port in network order */
    uint32_t addr;           /* network order */
    uint8_t zero[8];
};

struct msghdr_ {
    uint64_t name;
    uint32_t namelen, pad0;
    uint64_t iov, iovlen, control, controllen;
    int32_t flags, pad1;
};

static const struct file_ops socket_ops;

static struct net_socket *sock_of(long fd, long *err) {
    struct file *f = fd_get((int)fd);
    struct net_socket *s = file_object(f, &socket_ops);
    *err = !f ? -EBADF : !s ? -ENOTSOCK : 0;
    return s;
}

static bool nonblocking(long fd, int msg_flags) {
    struct file *f = fd_get((int)fd);
    return (msg_flags & MSG_DONTWAIT) || (f && (file_status_flags(f) & O_NONBLOCK));
}

struct ready_args { struct net_socket *s; unsigned events; };
static bool socket_ready(void *arg) {
    struct ready_args *a = arg;
    return net_socket_poll(a->s) & (a->events | NET_POLLERR | NET_POLLHUP);
}
static void wait_socket(struct net_socket *s, unsigned events) {
    struct ready_args a = {s, events};
    wait_until(socket_ready, &a, WAIT_FOREVER);
}

static inline uint16_t swap16(uint16_t v) { return (uint16_t)((v >> 8) | (v << 8)); }
static inline uint32_t swap32(uint32_t v) { return __builtin_bswap32(v); }

static long get_addr(long uaddr, long len, struct net_addr *out) {
    struct sockaddr_in_ sa;
    if (len < (long)sizeof sa - 8 || len > 128)
        return -EINVAL;
    if (copy_from_user(&sa, (uint64_t)uaddr, MIN((size_t)len, sizeof sa)))
        return -EFAULT;
    if (sa.family != AF_INET)
        return -EAFNOSUPPORT;
    out->ip = swap32(sa.addr);
    out->port = swap16(sa.port);
    return 0;
}

/* Writes an address the way Linux does: truncated to *ulen, which then says the full size. */
static long put_addr(long uaddr, long ulen, const struct net_addr *a) {
    if (!uaddr)
        return 0;
    int32_t len;
    if (copy_from_user(&len, (uint64_t)ulen, sizeof len))
        return -EFAULT;
    if (len < 0)
        return -EINVAL;
    struct sockaddr_in_ sa = {AF_INET, swap16(a->port), swap32(a->ip), {0}};
    if (copy_to_user((uint64_t)uaddr, &sa, MIN((size_t)len, sizeof sa)))
        return -EFAULT;
    len = sizeof sa;
    return copy_to_user((uint64_t)ulen, &len, sizeof len);
}

/* A send that would find the connection closed raises SIGPIPE, as on Linux. */
static long pipe_signal(long r, int flags) {
    if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
        signal_raise(SIGPIPE);
    return r;
}

/* Sends all of buf unless non-blocking (then what fits), like a Linux stream socket. */
static long sock_send(struct net_socket *s, bool nb, const void *buf, size_t n, int flags,
                      const struct net_addr *to) {
    size_t done = 0;
    for (;;) {
        long r = net_sendto(s, (const char *)buf + done, n - done, flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL), to);
        if (r > 0)
            done += (size_t)r;
        if (net_socket_type(s) == NET_SOCK_DGRAM)
            return r < 0 ? pipe_signal(r, flags) : r;
        if (done == n && (r >= 0 || done))
            return (long)done;
        if (r < 0 && r != -EAGAIN)
            return done ? (long)done : pipe_signal(r, flags);
        if (nb)
            return done ? (long)done : -EAGAIN;
        network_pump();   /* let what is queued go out before waiting for room */
        wait_socket(s, NET_POLLOUT);
    }
}

static long sock_recv(struct net_socket *s, bool nb, void *buf, size_t n, int flags, struct net_addr *from) {
    size_t done = 0;
    for (;;) {
        long r = net_recvfrom(s, (char *)buf + done, n - done, flags & ~(MSG_DONTWAIT | MSG_WAITALL), from);
        if (r != -EAGAIN) {
            if (r > 0 && (flags & MSG_WAITALL) && net_socket_type(s) == NET_SOCK_STREAM && done + (size_t)r < n) {
                done += (size_t)r;
                continue;
            }
            return r < 0 ? (done ? (long)done : r) : (long)(done + (size_t)r);
        }
        if (nb)
            return done ? (long)done : -EAGAIN;
        wait_socket(s, NET_POLLIN);
    }
}

/* Descriptor operations: read/write on a socket are recv/send with no flags. */
static long op_read(struct file *f, void *buf, size_t n) {
    return sock_recv(file_object(f, &socket_ops), file_status_flags(f) & O_NONBLOCK, buf, n, 0, NULL);
}

static long op_write(struct file *f, const void *buf, size_t n) {
    return sock_send(file_object(f, &socket_ops), file_status_flags(f) & O_NONBLOCK, buf, n, 0, NULL);
}

static unsigned op_poll(struct file *f) {
    network_pump();
    return net_socket_poll(file_object(f, &socket_ops));
}

static void op_release(struct file *f) { net_close(file_object(f, &socket_ops)); }

static const struct file_ops socket_ops = {op_read, op_write, op_poll, op_release};

static long install(struct net_socket *s, long flags) {
    long fd = fd_new_object(&socket_ops, s, S_IFSOCK_ | 0777, (flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0,
                            flags & SOCK_CLOEXEC);
    if (fd < 0)
        net_close(s);
    return fd;
}

long sys_socket(long domain, long type, long protocol) {
    if (domain != AF_INET)
        return -EAFNOSUPPORT;
    if (type & ~(long)(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    int kind = (int)(type & SOCK_TYPE_MASK);
    if (kind != NET_SOCK_STREAM && kind != NET_SOCK_DGRAM)
        return -ESOCKTNOSUPPORT;
    if (protocol != IPPROTO_IP && protocol != (kind == NET_SOCK_STREAM ? IPPROTO_TCP_ : IPPROTO_UDP))
        return -EPROTONOSUPPORT;
    struct net_stack *st = network_stack();
    if (!st)
        return -ENOMEM;
    struct net_socket *s;
    int r = net_socket(st, kind, &s);
    return r < 0 ? r : install(s, type);
}

/* The socket behind fd and the address the program passed, for bind and connect. */
static struct net_socket *sock_and_addr(long fd, long uaddr, long len, struct net_addr *a, long *err) {
    struct net_socket *s = sock_of(fd, err);
    if (s && (*err = get_addr(uaddr, len, a)))
        return NULL;
    return s;
}

long sys_bind(long fd, long uaddr, long len) {
    long err;
    struct net_addr a;
    struct net_socket *s = sock_and_addr(fd, uaddr, len, &a, &err);
    return s ? net_bind(s, &a) : err;
}

long sys_listen(long fd, long backlog) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    return s ? net_listen(s, (int)backlog) : err;
}

long sys_accept4(long fd, long uaddr, long ulen, long flags) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    if (!s)
        return err;
    if (flags & ~(long)(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (uaddr && !user_range_ok((uint64_t)ulen, 4, true))
        return -EFAULT;
    struct net_socket *conn;
    struct net_addr peer;
    for (;;) {
        int r = net_accept(s, &conn, &peer);
        if (r == 0)
            break;
        if (r != -EAGAIN || nonblocking(fd, 0))
            return r;
        wait_socket(s, NET_POLLIN);
    }
    long nfd = install(conn, flags);
    if (nfd >= 0 && (err = put_addr(uaddr, ulen, &peer))) {
        sys_close(nfd);
        return err;
    }
    return nfd;
}

long sys_accept(long fd, long uaddr, long ulen) { return sys_accept4(fd, uaddr, ulen, 0); }

long sys_connect(long fd, long uaddr, long len) {
    long err;
    struct net_addr a;
    struct net_socket *s = sock_and_addr(fd, uaddr, len, &a, &err);
    if (!s)
        return err;
    int r = net_connect(s, &a);
    if (r != -EINPROGRESS || nonblocking(fd, 0))
        return r;
    wait_socket(s, NET_POLLOUT);
    int so_error = 0;
    net_getsockopt(s, NET_SOL_SOCKET, NET_SO_ERROR, &so_error);
    return so_error ? -so_error : 0;
}

static long socket_name(long fd, long uaddr, long ulen, int (*which)(const struct net_socket *, struct net_addr *)) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    struct net_addr a;
    if (!s)
        return err;
    int r = which(s, &a);
    return r ? r : put_addr(uaddr, ulen, &a);
}

long sys_getsockname(long fd, long uaddr, long ulen) { return socket_name(fd, uaddr, ulen, net_getsockname); }
long sys_getpeername(long fd, long uaddr, long ulen) { return socket_name(fd, uaddr, ulen, net_getpeername); }

/* Options the stack has no use for but programs set routinely: accepted and kept quiet. */
static bool harmless_option(long level, long name) {
    if (level == NET_SOL_SOCKET)
        return name == SO_LINGER || name == SO_RCVTIMEO || name == SO_SNDTIMEO;
    if (level == NET_IPPROTO_TCP)
        return name >= 3 && name <= 12;   /* TCP_CORK, keepalive timings, TCP_DEFER_ACCEPT, ... */
    return level == IPPROTO_IP;
}

long sys_setsockopt(long fd, long level, long name, long uval, long len) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    if (!s)
        return err;
    if (len < 0)
        return -EINVAL;
    int value = 0;
    if (len >= 4 && copy_from_user(&value, (uint64_t)uval, 4))
        return -EFAULT;
    int r = net_setsockopt(s, (int)level, (int)name, value);
    if (r == -ENOPROTOOPT && harmless_option(level, name))
        return 0;
    if (r == 0 && len < 4)
        return -EINVAL;
    return r;
}

long sys_getsockopt(long fd, long level, long name, long uval, long ulen) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    if (!s)
        return err;
    int32_t len;
    if (copy_from_user(&len, (uint64_t)ulen, sizeof len))
        return -EFAULT;
    if (len < 0)
        return -EINVAL;
    int value = 0;
    int r = net_getsockopt(s, (int)level, (int)name, &value);
    if (r == -ENOPROTOOPT && harmless_option(level, name))
        r = 0, value = 0;
    if (r)
        return r;
    size_t n = MIN((size_t)len, sizeof value);
    if (copy_to_user((uint64_t)uval, &value, n))
        return -EFAULT;
    len = (int32_t)n;
    return copy_to_user((uint64_t)ulen, &len, sizeof len);
}

long sys_shutdown(long fd, long how) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    return s ? net_shutdown(s, (int)how) : err;
}

long sys_sendto(long fd, long ubuf, long len, long flags, long uaddr, long addrlen) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    struct net_addr to;
    if (!s)
        return err;
    if (len < 0)
        return -EINVAL;
    if (uaddr && (err = get_addr(uaddr, addrlen, &to)))
        return err;
    if (!user_range_ok((uint64_t)ubuf, (size_t)len, false))
        return -EFAULT;
    return sock_send(s, nonblocking(fd, (int)flags), (const void *)ubuf, (size_t)len, (int)flags,
                     uaddr ? &to : NULL);
}

long sys_recvfrom(long fd, long ubuf, long len, long flags, long uaddr, long ulen) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    struct net_addr from = {0, 0};
    if (!s)
        return err;
    if (len < 0)
        return -EINVAL;
    if (!user_range_ok((uint64_t)ubuf, (size_t)len, true))
        return -EFAULT;
    long r = sock_recv(s, nonblocking(fd, (int)flags), (void *)ubuf, (size_t)len, (int)flags, &from);
    if (r >= 0 && uaddr && net_socket_type(s) == NET_SOCK_DGRAM && (err = put_addr(uaddr, ulen, &from)))
        return err;
    return r;
}

/* sendmsg/recvmsg: the iovecs are gathered into, or scattered from, one kernel buffer so a
 * datagram stays one datagram. Control messages are not supported (none are sent back). */
static long iov_total(const struct msghdr_ *m, struct linux_iovec **out) {
    if (m->iovlen > MAX_IOV)
        return -EMSGSIZE;
    struct linux_iovec *iov = kmalloc(sizeof *iov * (m->iovlen ? m->iovlen : 1));
    if (!iov)
        return -ENOMEM;
    if (copy_from_user(iov, m->iov, sizeof *iov * m->iovlen)) {
        kfree(iov);
        return -EFAULT;
    }
    uint64_t total = 0;
    for (uint64_t i = 0; i < m->iovlen; i++) {
        if ((int64_t)iov[i].iov_len < 0 || total + iov[i].iov_len < total) {
            kfree(iov);
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    *out = iov;
    return (long)MIN(total, (uint64_t)1 << 30);
}

long sys_sendmsg(long fd, long umsg, long flags) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    struct msghdr_ m;
    struct net_addr to;
    struct linux_iovec *iov;
    if (!s)
        return err;
    if (copy_from_user(&m, (uint64_t)umsg, sizeof m))
        return -EFAULT;
    if (m.name && (err = get_addr((long)m.name, m.namelen, &to)))
        return err;
    long total = iov_total(&m, &iov);
    if (total < 0)
        return total;
    if (net_socket_type(s) == NET_SOCK_DGRAM && total > UDP_MAX_DATAGRAM) {
        kfree(iov);
        return -EMSGSIZE;
    }
    char *buf = kmalloc(total ? (size_t)total : 1);
    long r = buf ? 0 : -ENOMEM;
    for (uint64_t i = 0, at = 0; r == 0 && i < m.iovlen && at < (uint64_t)total; i++) {
        size_t n = MIN(iov[i].iov_len, (uint64_t)total - at);
        r = copy_from_user(buf + at, iov[i].iov_base, n);
        at += n;
    }
    if (r == 0)
        r = sock_send(s, nonblocking(fd, (int)flags), buf, (size_t)total, (int)flags, m.name ? &to : NULL);
    kfree(buf);
    kfree(iov);
    return r;
}

long sys_recvmsg(long fd, long umsg, long flags) {
    long err;
    struct net_socket *s = sock_of(fd, &err);
    struct msghdr_ m;
    struct linux_iovec *iov;
    struct net_addr from = {0, 0};
    if (!s)
        return err;
    if (copy_from_user(&m, (uint64_t)umsg, sizeof m))
        return -EFAULT;
    long total = iov_total(&m, &iov);
    if (total < 0)
        return total;
    char *buf = kmalloc(total ? (size_t)total : 1);
    long r = buf ? sock_recv(s, nonblocking(fd, (int)flags), buf, (size_t)total, (int)flags, &from) : -ENOMEM;
    for (uint64_t i = 0, at = 0; r > 0 && i < m.iovlen && at < (uint64_t)r; i++) {
        size_t n = MIN(iov[i].iov_len, (uint64_t)r - at);
        if (copy_to_user(iov[i].iov_base, buf + at, n))
            r = -EFAULT;
        at += n;
    }
    kfree(buf);
    kfree(iov);
    if (r < 0)
        return r;
    m.controllen = 0;
    m.flags = 0;
    if (m.name && net_socket_type(s) == NET_SOCK_DGRAM) {
        struct sockaddr_in_ sa = {AF_INET, swap16(from.port), swap32(from.ip), {0}};
        if (copy_to_user(m.name, &sa, MIN((size_t)m.namelen, sizeof sa)))
            return -EFAULT;
        m.namelen = sizeof sa;
    } else {
        m.namelen = 0;
    }
    if (copy_to_user((uint64_t)umsg, &m, sizeof m))
        return -EFAULT;
    return r;
}
