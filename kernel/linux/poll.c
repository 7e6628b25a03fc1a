/*
 * Waiting on many descriptors: poll, ppoll, select, pselect6, epoll, and eventfd (the object
 * event loops pair with epoll). Readiness comes from file_ready(); waiting runs the network and
 * halts (core/wait.c). Signal masks are accepted and ignored: signals are never delivered
 * asynchronously here.
 */
#include "fs.h"
#include "linux_fs.h"
#include "syscalls.h"
#include "wait.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define FD_SETSIZE_ 1024

static uint64_t deadline_after_ms(long ms) {
    return ms < 0 ? WAIT_FOREVER : clock_monotonic_ns() + (uint64_t)ms * NS_PER_MS;
}

/* A timespec timeout (NULL: forever) as a deadline; -EINVAL or -EFAULT on a bad one. */
static long deadline_from_timespec(long uts, uint64_t *deadline) {
    if (!uts) {
        *deadline = WAIT_FOREVER;
        return 0;
    }
    int64_t ts[2];
    if (copy_from_user(ts, (uint64_t)uts, sizeof ts))
        return -EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= (int64_t)NS_PER_S)
        return -EINVAL;
    *deadline = clock_monotonic_ns() + (uint64_t)ts[0] * NS_PER_S + (uint64_t)ts[1];
    return 0;
}

/* ---- poll / ppoll ---- */

struct poll_set { struct linux_pollfd *fds; size_t n; long ready; };

static bool poll_scan(void *arg) {
    struct poll_set *p = arg;
    p->ready = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct linux_pollfd *q = &p->fds[i];
        if (q->fd < 0) {
            q->revents = 0;
            continue;
        }
        struct file *f = fd_get(q->fd);
        q->revents = (int16_t)(f ? file_ready(f, (uint16_t)q->events) : POLLNVAL);
        p->ready += q->revents != 0;
    }
    return p->ready > 0;
}

static long do_poll(long ufds, long nfds, uint64_t deadline) {
    if ((uint64_t)nfds > MAX_FDS)
        return -EINVAL;
    size_t n = (size_t)nfds;
    struct poll_set p = {kmalloc(n ? n * sizeof(struct linux_pollfd) : 1), n, 0};
    if (!p.fds)
        return -ENOMEM;
    long r = copy_from_user(p.fds, (uint64_t)ufds, n * sizeof(struct linux_pollfd)) ? -EFAULT : 0;
    if (r == 0) {
        wait_until(poll_scan, &p, deadline);
        r = p.ready;
        if (copy_to_user((uint64_t)ufds, p.fds, n * sizeof(struct linux_pollfd)))
            r = -EFAULT;
    }
    kfree(p.fds);
    return r;
}

long sys_poll(long ufds, long nfds, long timeout_ms) {
    return do_poll(ufds, nfds, deadline_after_ms((int)timeout_ms));
}

long sys_ppoll(long ufds, long nfds, long uts, long sigmask, long sigsetsize) {
    (void)sigmask, (void)sigsetsize;
    uint64_t deadline;
    long r = deadline_from_timespec(uts, &deadline);
    return r ? r : do_poll(ufds, nfds, deadline);
}

/* ---- select / pselect6 ---- */

struct select_set { int n; uint64_t in[3][FD_SETSIZE_ / 64], out[3][FD_SETSIZE_ / 64]; long ready; bool bad; };
static const unsigned select_events[3] = {POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, POLLPRI};

static bool select_scan(void *arg) {
    struct select_set *s = arg;
    s->ready = 0;
    memset(s->out, 0, sizeof s->out);
    for (int fd = 0; fd < s->n; fd++) {
        uint64_t bit = 1ULL << (fd % 64);
        bool wanted = (s->in[0][fd / 64] | s->in[1][fd / 64] | s->in[2][fd / 64]) & bit;
        if (!wanted)
            continue;
        struct file *f = fd_get(fd);
        if (!f) {
            s->bad = true;
            return true;
        }
        unsigned r = file_ready(f, POLLIN | POLLOUT | POLLPRI);
        for (int k = 0; k < 3; k++)
            if ((s->in[k][fd / 64] & bit) && (r & select_events[k])) {
                s->out[k][fd / 64] |= bit;
                s->ready++;
            }
    }
    return s->ready > 0;
}

static long do_select(long n, const long usets[3], uint64_t deadline) {
    if (n < 0 || n > FD_SETSIZE_)
        return -EINVAL;
    struct select_set *s = kzalloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->n = (int)n;
    size_t bytes = ALIGN_UP((size_t)n, 64) / 8;
    long r = 0;
    for (int k = 0; k < 3 && !r; k++)
        if (usets[k] && copy_from_user(s->in[k], (uint64_t)usets[k], bytes))
            r = -EFAULT;
    if (!r) {
        wait_until(select_scan, s, deadline);
        r = s->bad ? -EBADF : s->ready;
    }
    for (int k = 0; k < 3 && r >= 0; k++)
        if (usets[k] && copy_to_user((uint64_t)usets[k], s->out[k], bytes))
            r = -EFAULT;
    kfree(s);
    return r;
}

long sys_select(long n, long rfds, long wfds, long efds, long utv) {
    uint64_t deadline = WAIT_FOREVER;
    if (utv) {
        int64_t tv[2];
        if (copy_from_user(tv, (uint64_t)utv, sizeof tv))
            return -EFAULT;
        if (tv[0] < 0 || tv[1] < 0)
            return -EINVAL;
        deadline = clock_monotonic_ns() + (uint64_t)tv[0] * NS_PER_S + (uint64_t)tv[1] * 1000;
    }
    const long sets[3] = {rfds, wfds, efds};
    return do_select(n, sets, deadline);
}

long sys_pselect6(long n, long rfds, long wfds, long efds, long uts, long usig) {
    (void)usig;
    uint64_t deadline;
    long r = deadline_from_timespec(uts, &deadline);
    const long sets[3] = {rfds, wfds, efds};
    return r ? r : do_select(n, sets, deadline);
}

/* ---- eventfd ---- */

#define EFD_SEMAPHORE 1
struct eventfd { uint64_t count; bool semaphore; };
static const struct file_ops eventfd_ops;

static bool eventfd_readable(void *arg) { return ((struct eventfd *)arg)->count > 0; }

static long eventfd_read(struct file *f, void *buf, size_t n) {
    struct eventfd *e = file_object(f, &eventfd_ops);
    if (n < 8)
        return -EINVAL;
    if (!e->count) {
        if (file_status_flags(f) & O_NONBLOCK)
            return -EAGAIN;
        wait_until(eventfd_readable, e, WAIT_FOREVER);
    }
    uint64_t v = e->semaphore ? 1 : e->count;
    e->count -= v;
    memcpy(buf, &v, 8);
    return 8;
}

static long eventfd_write(struct file *f, const void *buf, size_t n) {
    struct eventfd *e = file_object(f, &eventfd_ops);
    uint64_t v;
    if (n < 8)
        return -EINVAL;
    memcpy(&v, buf, 8);
    if (v == UINT64_MAX)
        return -EINVAL;
    if (v > UINT64_MAX - 1 - e->count)
        return -EAGAIN;   /* one thread: nobody will read it down */
    e->count += v;
    return 8;
}

static unsigned eventfd_poll(struct file *f) {
    struct eventfd *e = file_object(f, &eventfd_ops);
    return (e->count ? POLLIN : 0) | (e->count < UINT64_MAX - 1 ? POLLOUT : 0);
}

static void eventfd_release(struct file *f) { kfree(file_object(f, &eventfd_ops)); }

static const struct file_ops eventfd_ops = {eventfd_read, eventfd_write, eventfd_poll, eventfd_release};

long sys_eventfd2(long initval, long flags) {
    if (flags & ~(long)(EFD_SEMAPHORE | O_NONBLOCK | O_CLOEXEC))
        return -EINVAL;
    struct eventfd *e = kzalloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    e->count = (uint32_t)initval;
    e->semaphore = flags & EFD_SEMAPHORE;
    long fd = fd_new_object(&eventfd_ops, e, 0600, (uint32_t)(flags & O_NONBLOCK), flags & O_CLOEXEC);
    if (fd < 0)
        kfree(e);
    return fd;
}

long sys_eventfd(long initval) { return sys_eventfd2(initval, 0); }

/* ---- epoll ---- */

#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EPOLLET (1u << 31)
#define EPOLLONESHOT (1u << 30)
#define EPOLLEXCLUSIVE (1u << 28)
#define EPOLLWAKEUP (1u << 29)

struct epoll_event_ { uint32_t events; uint64_t data; } __attribute__((packed));

/* An interest: the descriptor and the open file it named when added (a closed and reused
 * number is not the same interest). The file is told by its serial: once closed, its memory may
 * hold the next file opened, often under the same number. */
struct interest { int fd; struct file *file; uint64_t serial; uint32_t events; uint64_t data; bool disarmed; };
struct epoll { struct interest *items; size_t n, cap; };
static const struct file_ops epoll_ops;

/* The interest's descriptor still names the open file it was added for. */
static bool interest_live(const struct interest *it) {
    struct file *f = fd_get(it->fd);
    return f && f == it->file && file_serial(f) == it->serial;
}

static struct interest *find(struct epoll *ep, int fd, struct file *f) {
    for (size_t i = 0; i < ep->n; i++)
        if (ep->items[i].fd == fd && ep->items[i].file == f && ep->items[i].serial == file_serial(f))
            return &ep->items[i];
    return NULL;
}

/* Drops the interests whose descriptors were closed (their files are gone), as Linux does when
 * the last descriptor of an open file closes. */
static void prune(struct epoll *ep) {
    for (size_t i = 0; i < ep->n;) {
        if (interest_live(&ep->items[i]))
            i++;
        else
            ep->items[i] = ep->items[--ep->n];
    }
}

static unsigned interest_ready(struct interest *it) {
    if (it->disarmed || !interest_live(it))
        return 0;
    return file_ready(it->file, it->events | POLLERR | POLLHUP) & ~(EPOLLET | EPOLLONESHOT);
}

static unsigned epoll_poll(struct file *f) {
    struct epoll *ep = file_object(f, &epoll_ops);
    for (size_t i = 0; i < ep->n; i++)
        if (interest_ready(&ep->items[i]))
            return POLLIN;
    return 0;
}

static void epoll_release(struct file *f) {
    struct epoll *ep = file_object(f, &epoll_ops);
    kfree(ep->items);
    kfree(ep);
}

static const struct file_ops epoll_ops = {NULL, NULL, epoll_poll, epoll_release};

long sys_epoll_create1(long flags) {
    if (flags & ~(long)O_CLOEXEC)
        return -EINVAL;
    struct epoll *ep = kzalloc(sizeof *ep);
    if (!ep)
        return -ENOMEM;
    long fd = fd_new_object(&epoll_ops, ep, 0600, 0, flags & O_CLOEXEC);
    if (fd < 0)
        kfree(ep);
    return fd;
}

long sys_epoll_create(long size) { return size <= 0 ? -EINVAL : sys_epoll_create1(0); }

long sys_epoll_ctl(long epfd, long op, long fd, long uevent) {
    struct file *ef = fd_get((int)epfd), *f = fd_get((int)fd);
    struct epoll *ep = file_object(ef, &epoll_ops);
    if (!ef || !f)
        return -EBADF;
    if (!ep || epfd == fd)
        return -EINVAL;
    struct epoll_event_ ev = {0, 0};
    if (op != EPOLL_CTL_DEL && copy_from_user(&ev, (uint64_t)uevent, sizeof ev))
        return -EFAULT;
    prune(ep);
    struct interest *it = find(ep, (int)fd, f);
    switch (op) {
    case EPOLL_CTL_ADD:
        if (it)
            return -EEXIST;
        if (ep->n == ep->cap) {
            size_t cap = ep->cap ? ep->cap * 2 : 8;
            struct interest *grown = krealloc(ep->items, cap * sizeof *grown);
            if (!grown)
                return -ENOMEM;
            ep->items = grown;
            ep->cap = cap;
        }
        ep->items[ep->n++] = (struct interest){(int)fd, f, file_serial(f), ev.events, ev.data, false};
        return 0;
    case EPOLL_CTL_MOD:
        if (!it)
            return -ENOENT;
        if (ev.events & EPOLLEXCLUSIVE)
            return -EINVAL;
        it->events = ev.events;
        it->data = ev.data;
        it->disarmed = false;
        return 0;
    case EPOLL_CTL_DEL:
        if (!it)
            return -ENOENT;
        *it = ep->items[--ep->n];
        return 0;
    default:
        return -EINVAL;
    }
}

struct epoll_wait_args { struct epoll *ep; struct epoll_event_ *out; int max, got; };

/* Level-triggered reporting; edge-triggered interests are reported the same way, which costs an
 * extra wake-up at most, since edge-triggered programs read until EAGAIN anyway. */
static bool epoll_scan(void *arg) {
    struct epoll_wait_args *a = arg;
    a->got = 0;
    for (size_t i = 0; i < a->ep->n && a->got < a->max; i++) {
        struct interest *it = &a->ep->items[i];
        if (!interest_live(it)) {
            /* The descriptor was closed: its interest goes with it, as on Linux. */
            *it = a->ep->items[--a->ep->n];
            i--;
            continue;
        }
        unsigned r = interest_ready(it);
        if (!r)
            continue;
        a->out[a->got++] = (struct epoll_event_){r, it->data};
        if (it->events & EPOLLONESHOT)
            it->disarmed = true;
    }
    return a->got > 0;
}

long sys_epoll_pwait(long epfd, long uevents, long maxevents, long timeout_ms, long sigmask, long sigsetsize) {
    (void)sigmask, (void)sigsetsize;
    struct file *ef = fd_get((int)epfd);
    struct epoll *ep = file_object(ef, &epoll_ops);
    if (!ef)
        return -EBADF;
    if (!ep || maxevents <= 0 || maxevents > 65536)
        return -EINVAL;
    if (!user_range_ok((uint64_t)uevents, (size_t)maxevents * sizeof(struct epoll_event_), true))
        return -EFAULT;
    struct epoll_wait_args a = {ep, kmalloc((size_t)maxevents * sizeof(struct epoll_event_)), (int)maxevents, 0};
    if (!a.out)
        return -ENOMEM;
    wait_until(epoll_scan, &a, deadline_after_ms((int)timeout_ms));
    long r = copy_to_user((uint64_t)uevents, a.out, (size_t)a.got * sizeof(struct epoll_event_)) ? -EFAULT : a.got;
    kfree(a.out);
    return r;
}

long sys_epoll_wait(long epfd, long uevents, long maxevents, long timeout_ms) {
    return sys_epoll_pwait(epfd, uevents, maxevents, timeout_ms, 0, 8);
}
