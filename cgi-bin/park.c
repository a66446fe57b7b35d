/* park.c: held long-polls and the waker thread that answers them.
 *
 * Every parked poll is owned by the waker thread alone: request threads hand
 * polls over through a locked queue, and only the waker looks them up, answers
 * them and frees them. So no lock guards the table itself.
 *
 * The waker sleeps in epoll_wait on:
 *   - an eventfd, written when a poll is handed over or when this process
 *     commits a message (park_notify);
 *   - inotify on the database's directory, which fires when another process
 *     (another FastCGI process, an operator's sqlite3) writes the WAL;
 *   - each parked request's socket, for EPOLLRDHUP: lighttpd closes it when
 *     the client goes away, and the poll is then dropped.
 * On a wake-up it asks the database for messages with seq above the highest
 * seq it has seen (one range read on the primary key) and answers the parked
 * polls of their recipients. A WAL write is seen by inotify a moment before
 * the commit is visible, and one commit writes several pages, so an inotify
 * wake schedules one scan a couple of milliseconds later instead of scanning
 * at once; this process's own commits come through the eventfd and are
 * scanned at once. A slow tick scans regardless, for filesystems without
 * inotify (NFS on shared hosts).
 *
 * A poll handed over is first checked for messages committed before it was
 * parked (they might be below the seen seq already), so none is missed.
 * Polls all have the same timeout, so the deadline list is a FIFO.
 *
 * Held polls per client address (polls_per_addr, docs/config.md). Each poll
 * carries a 64-bit key: an HMAC (keyed with the secret) of its address, an
 * IPv6 address's /64, made by the request thread in park_submit; the address
 * itself is not kept. The waker counts held polls per key in a second table
 * (addrs.c):
 *   1. a count exists exactly while its key holds at least one poll, and
 *      equals the number of held polls (in the FIFO) with that key;
 *   2. link_entry and unlink_entry are the only places a count changes, so
 *      every way out of the table (answered by a message, replaced by a
 *      newer poll of its peer, timed out, its client gone, the stop) gives
 *      the count back;
 *   3. a peer's older held poll is answered before the newer one is counted,
 *      so a replacement never counts twice, whatever its address.
 * A poll that would pass the cap is answered at once with 429 and changes
 * nothing else: the polls already held are the ones in use, and a refused
 * client backs off, where answering the oldest instead would make them
 * replace one another in a loop of immediate re-polls.
 */
#include "park.h"

#include "addrs.h"
#include "buf.h"
#include "clock.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#define BUCKETS 16384
#define RESCAN_MS 2       /* after an inotify wake: the commit is visible by then */
#define TICK_MS 250       /* fallback scan without any wake-up */
#define MAX_EVENTS 256
#define REFUSED_RETRY_S 2 /* Retry-After (seconds) of a poll past polls_per_addr */

struct parked {
    FCGX_Request *req;
    char peer[STORE_PEER_HEX];
    long long after;
    uint64_t addr;              /* key of the client address */
    struct addr_count *count;   /* its count while held */
    int64_t deadline_ms;
    struct parked *prev, *next; /* FIFO by deadline; next also links the queue */
    struct parked *hnext;       /* bucket chain */
};

struct park {
    const struct config *cfg;
    struct db *db;
    pthread_t thread;
    int epfd, evfd, infd;
    pthread_mutex_t lock;       /* guards queue and stopping */
    struct parked *queue;
    int stopping;
    /* waker-only from here */
    struct parked *head, *tail;
    struct parked *buckets[BUCKETS];
    struct addrs addrs;         /* held polls per client address */
    long long seen;             /* highest message seq scanned */
    struct buf out;
    size_t held;
};

static unsigned bucket(const char *peer)
{
    unsigned h = 2166136261u;
    for (; *peer; peer++) h = (h ^ (unsigned char)*peer) * 16777619u;
    return h % BUCKETS;
}

static struct parked *find(struct park *p, const char *peer)
{
    for (struct parked *e = p->buckets[bucket(peer)]; e; e = e->hnext)
        if (!strcmp(e->peer, peer)) return e;
    return NULL;
}

/* Hold e, counted in c (which has room). */
static void link_entry(struct park *p, struct parked *e, struct addr_count *c)
{
    unsigned b = bucket(e->peer);
    e->hnext = p->buckets[b];
    p->buckets[b] = e;
    e->prev = p->tail;
    e->next = NULL;
    if (p->tail) p->tail->next = e;
    else p->head = e;
    p->tail = e;
    p->held++;
    e->count = c;
    c->held++;
}

static void unlink_entry(struct park *p, struct parked *e)
{
    struct parked **pp = &p->buckets[bucket(e->peer)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev) e->prev->next = e->next;
    else p->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else p->tail = e->prev;
    p->held--;
    e->count->held--;
    addrs_put(&p->addrs, e->count);
    e->count = NULL;
}

/* Finish and free an answered poll. A poll is a GET: lighttpd has sent all
 * it will send. Detached, the close skips libfcgi's shutdown-and-drain,
 * which would block this thread until lighttpd closes its end, one held poll
 * after another. */
static void finish(FCGX_Request *req)
{
    FCGX_Detach(req);
    http_finish(req);
}

/* Answer req with the peer's messages after its cursor (possibly none), then
 * finish and free it. */
static void answer(struct park *p, FCGX_Request *req, const char *peer, long long after)
{
    int count = 0;
    buf_reset(&p->out);
    if (store_fetch(p->db, peer, after, &p->out, &count) == STORE_OK)
        http_reply(req, 200, p->out.data, p->out.len, NULL);
    else
        http_error(req, 503, "unavailable", "The database is not available; poll again.");
    finish(req);
}

/* 429 too_many_polls: the client's address holds polls_per_addr polls. */
static void refuse(FCGX_Request *req)
{
    http_error_retry(req, 429, "too_many_polls",
                     "Too many polls are held for this address; try again in a moment.", REFUSED_RETRY_S);
    finish(req);
}

/* Remove e from the table and its socket from epoll; the caller owns it. */
static void take(struct park *p, struct parked *e)
{
    unlink_entry(p, e);
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->req->ipcFd, NULL);
}

static void answer_entry(struct park *p, struct parked *e)
{
    take(p, e);
    answer(p, e->req, e->peer, e->after);
    free(e);
}

/* Hold e if its address has room: 0, or -1 when it was not held (refused
 * past the cap, or answered when it cannot be watched). */
static int hold(struct park *p, struct parked *e)
{
    struct addr_count *c = addrs_get(&p->addrs, e->addr);
    if (c && c->held >= (unsigned)p->cfg->polls_per_addr) {
        refuse(e->req);
        addrs_put(&p->addrs, c);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = e};
    if (!c || epoll_ctl(p->epfd, EPOLL_CTL_ADD, e->req->ipcFd, &ev) < 0) {
        log_msg("park: cannot hold a poll: %s", c ? strerror(errno) : "out of memory");
        addrs_put(&p->addrs, c);
        answer(p, e->req, e->peer, e->after);
        return -1;
    }
    e->deadline_ms = clock_mono_ms() + (int64_t)p->cfg->poll_timeout * 1000;
    link_entry(p, e, c);
    return 0;
}

/* A poll handed over: deliver what is already there, else hold it. */
static void admit(struct park *p, struct parked *e)
{
    struct parked *old = find(p, e->peer);
    if (old) answer_entry(p, old); /* a newer poll of the same peer wins (invariant 3) */
    int count = 0;
    buf_reset(&p->out);
    if (store_fetch(p->db, e->peer, e->after, &p->out, &count) != STORE_OK || count > 0) {
        answer(p, e->req, e->peer, e->after);
        free(e);
        return;
    }
    if (hold(p, e) < 0) free(e);
}

struct hit_list {
    struct park *p;
    struct parked *hits;
    long long last;
};

static void on_new(const char *peer, long long seq, void *arg)
{
    struct hit_list *h = arg;
    h->last = seq;
    struct parked *e = find(h->p, peer);
    if (!e) return;
    unlink_entry(h->p, e);
    e->next = h->hits; /* reuse next: e is out of the FIFO now */
    h->hits = e;
}

/* Answer every held poll that has a message above the seen seq. */
static void scan(struct park *p)
{
    struct hit_list h = {p, NULL, p->seen};
    /* One read transaction for the scan and the answers it leads to. */
    if (db_read_begin(p->db) < 0) return;
    if (store_each_new(p->db, p->seen, on_new, &h) == STORE_OK) p->seen = h.last;
    while (h.hits) {
        struct parked *e = h.hits;
        h.hits = e->next;
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->req->ipcFd, NULL);
        answer(p, e->req, e->peer, e->after);
        free(e);
    }
    db_read_end(p->db);
}

static void expire(struct park *p, int64_t now)
{
    while (p->head && p->head->deadline_ms <= now) answer_entry(p, p->head);
}

/* Take the queue of handed-over polls; returns 1 if stopping was asked. */
static int drain_queue(struct park *p)
{
    uint64_t v;
    if (read(p->evfd, &v, sizeof v) < 0 && errno != EAGAIN) log_msg("park: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&p->lock);
    struct parked *q = p->queue;
    int stopping = p->stopping;
    p->queue = NULL;
    pthread_mutex_unlock(&p->lock);
    /* The queue is newest first; admit oldest first. */
    struct parked *rev = NULL;
    while (q) {
        struct parked *n = q->next;
        q->next = rev;
        rev = q;
        q = n;
    }
    while (rev) {
        struct parked *n = rev->next;
        admit(p, rev);
        rev = n;
    }
    return stopping;
}

static void drain_inotify(struct park *p)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(p->infd, buf, sizeof buf) > 0) {}
}

static int wait_ms(struct park *p, int64_t now, int64_t rescan_at)
{
    int64_t t = now + TICK_MS;
    if (p->head && p->head->deadline_ms < t) t = p->head->deadline_ms;
    if (rescan_at && rescan_at < t) t = rescan_at;
    return t > now ? (int)(t - now) : 0;
}

static void *waker(void *arg)
{
    struct park *p = arg;
    struct epoll_event evs[MAX_EVENTS];
    int64_t rescan_at = 0;
    for (;;) {
        int n = epoll_wait(p->epfd, evs, MAX_EVENTS, wait_ms(p, clock_mono_ms(), rescan_at));
        if (n < 0 && errno != EINTR) log_msg("park: epoll_wait: %s", strerror(errno));
        int stopping = 0;
        /* Closed sockets first, before anything else may answer or free. */
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &p->evfd || ptr == &p->infd) continue;
            struct parked *e = ptr;
            take(p, e);
            http_finish(e->req); /* the client is gone: nothing to say */
            free(e);
        }
        int due = n == 0; /* the tick, a deadline or a re-scan is due */
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &p->infd) {
                /* One commit writes several WAL pages, each an event: scan
                 * once, shortly after, when the commit is visible. */
                drain_inotify(p);
                if (!rescan_at) rescan_at = clock_mono_ms() + RESCAN_MS;
            } else if (evs[i].data.ptr == &p->evfd) {
                stopping = drain_queue(p);
                due = 1;
            }
        }
        if (stopping) break;
        int64_t now = clock_mono_ms();
        if (rescan_at && rescan_at <= now) {
            rescan_at = 0;
            due = 1;
        }
        if (due) scan(p);
        expire(p, now);
    }
    while (p->head) answer_entry(p, p->head);
    return NULL;
}

static int watch_dir(struct park *p, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", p->cfg->db);
    const char *dir = dirname(path);
    p->infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (p->infd < 0 || inotify_add_watch(p->infd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
        /* Not fatal: the tick still finds commits of other processes. */
        log_msg("park: no inotify on %s (%s); other processes' messages wake polls within %d ms",
                dir, strerror(errno), TICK_MS);
        if (p->infd >= 0) close(p->infd);
        p->infd = -1;
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->infd};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->infd, &ev) < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void park_free(struct park *p)
{
    assert(p->addrs.n == 0); /* every poll, hence every count, is gone (invariant 1) */
    if (p->epfd >= 0) close(p->epfd);
    if (p->evfd >= 0) close(p->evfd);
    if (p->infd >= 0) close(p->infd);
    db_close(p->db);
    buf_free(&p->out);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

struct park *park_start(const struct config *cfg, char *err, size_t errlen)
{
    struct park *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->epfd = p->evfd = p->infd = -1;
    pthread_mutex_init(&p->lock, NULL);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->evfd};
    if (p->epfd < 0 || p->evfd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    if (watch_dir(p, err, errlen) < 0) goto fail;
    if (!(p->db = db_open(cfg->db, 0, err, errlen))) goto fail;
    if (store_max_seq(p->db, &p->seen) != STORE_OK) {
        snprintf(err, errlen, "cannot read the message sequence");
        goto fail;
    }
    int rc = pthread_create(&p->thread, NULL, waker, p);
    if (rc) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        goto fail;
    }
    return p;
fail:
    park_free(p);
    return NULL;
}

static void wake(struct park *p)
{
    uint64_t one = 1;
    if (write(p->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_msg("park: eventfd write: %s", strerror(errno));
}

void park_submit(struct park *p, FCGX_Request *req, const char *peer_id, long long after,
                 const char *client_addr)
{
    struct parked *e = calloc(1, sizeof *e);
    if (!e) {
        http_reply(req, 200, "{\"messages\":[]}", 15, NULL);
        http_finish(req);
        return;
    }
    e->req = req;
    snprintf(e->peer, sizeof e->peer, "%s", peer_id);
    e->after = after;
    e->addr = addrs_key(p->cfg->secret, client_addr);
    pthread_mutex_lock(&p->lock);
    int stopping = p->stopping;
    if (!stopping) {
        e->next = p->queue;
        p->queue = e;
    }
    pthread_mutex_unlock(&p->lock);
    if (stopping) {
        http_reply(req, 200, "{\"messages\":[]}", 15, NULL);
        http_finish(req);
        free(e);
        return;
    }
    wake(p);
}

void park_notify(struct park *p) { wake(p); }

void park_stop(struct park *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->thread, NULL);
    /* Polls queued after the waker's last drain. */
    for (struct parked *e = p->queue, *n; e; e = n) {
        n = e->next;
        http_reply(e->req, 200, "{\"messages\":[]}", 15, NULL);
        http_finish(e->req);
        free(e);
    }
    park_free(p);
}
