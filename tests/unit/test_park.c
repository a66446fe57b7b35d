/* test_park.c: held long-polls (park.c) with real FastCGI requests.
 *
 * Each poll is a real request: the test plays lighttpd on a listening unix
 * socket (fcgi_peer.c), FCGX_Accept_r accepts it as main.c's workers do, and
 * the request goes to park_submit. The reply is read from the lighttpd side
 * with a time bound; "not answered" is a bounded wait that sees nothing.
 * A and B are seated in one room of a real SQLite file; B's polls wait.
 * Polls come from X unless a test names another address (documentation
 * ranges: nothing here touches a network). */
#include "unit.h"

#include "buf.h"
#include "config.h"
#include "db.h"
#include "fcgi_peer.h"
#include "park.h"
#include "store.h"

#include <dirent.h>
#include <fcgiapp.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define A "aaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbb"
#define REPLY_MS 5000   /* bound on any reply that must come */
#define QUIET_MS 300    /* a poll that must stay held says nothing this long */
#define FAST_MS 125     /* a wake-up must beat the park's 250 ms tick */
#define MANY 2000
#define X "192.0.2.1"
#define Y "192.0.2.2"
#define NO_CAP 1000000   /* polls_per_addr of the tests that are not about it */

struct fixture {
    char dir[256], sock[320];
    struct config cfg;
    struct db *db;       /* the test's own connection: "another thread or process" */
    struct park *park;
    int listen_fd;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A fresh database with A and B in one room (A has B's peer-joined), a
 * listening socket, and a park with poll_timeout seconds and polls_per_addr
 * cap. With via_link the park reaches the database through a symlink in
 * another directory, so its inotify watch sees none of the writes. */
static int make_fixture(struct fixture *f, int poll_timeout, int via_link, int cap)
{
    char path[400], link[700], err[600];
    int polite, peers;
    memset(f, 0, sizeof *f);
    if (unit_tmpdir(f->dir, sizeof f->dir) < 0) return -1;
    snprintf(path, sizeof path, "%s/t.db", f->dir);
    snprintf(link, sizeof link, "%s/l.db", f->dir);
    snprintf(f->sock, sizeof f->sock, "%s/fcgi.sock", f->dir);
    if (!(f->db = db_open(path, 1, err, sizeof err))) return -1;
    if (store_join(f->db, "pin", A, "tok-a", 1000, &polite, &peers) != STORE_OK
        || store_join(f->db, "pin", B, "tok-b", 1000, &polite, &peers) != STORE_OK)
        return -1;
    if (via_link) {
        char sub[300];
        snprintf(sub, sizeof sub, "%s/elsewhere", f->dir);
        snprintf(link, sizeof link, "%s/elsewhere/l.db", f->dir);
        if (mkdir(sub, 0700) < 0 || symlink(path, link) < 0) return -1;
    }
    f->cfg.db = strdup(via_link ? link : path);
    f->cfg.poll_timeout = poll_timeout;
    f->cfg.polls_per_addr = cap;
    f->cfg.secret = strdup("unit-secret-0123456789abcdef");
    if (!f->cfg.db || !f->cfg.secret || (f->listen_fd = fcgi_peer_listen(f->sock)) < 0) return -1;
    f->park = park_start(&f->cfg, err, sizeof err);
    if (!f->park) fprintf(stderr, "park_start: %s\n", err);
    return f->park ? 0 : -1;
}

static void remove_tree(const char *dir)
{
    char sub[300], link[400];
    snprintf(sub, sizeof sub, "%s/elsewhere", dir);
    snprintf(link, sizeof link, "%s/l.db", sub);
    unlink(link);
    rmdir(sub);
    unit_tmpdir_remove(dir);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->park) park_stop(f->park);
    db_close(f->db);
    if (f->listen_fd > 0) close(f->listen_fd);
    free(f->cfg.db);
    free(f->cfg.secret);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static int setup_with(void **state, int poll_timeout, int via_link, int cap)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    *state = f;
    if (make_fixture(f, poll_timeout, via_link, cap) == 0) return 0;
    teardown(state);
    return -1;
}

static int setup(void **state) { return setup_with(state, 30, 0, NO_CAP); }
static int setup_short(void **state) { return setup_with(state, 1, 0, NO_CAP); }
static int setup_link(void **state) { return setup_with(state, 30, 1, NO_CAP); }
static int setup_cap(void **state) { return setup_with(state, 30, 0, 2); }
static int setup_cap_short(void **state) { return setup_with(state, 1, 0, 2); }

/* A GET /api/poll as lighttpd forwards it, accepted by libfcgi. Returns the
 * lighttpd side's fd; *req is the heap request the park will own. */
static int open_request(struct fixture *f, FCGX_Request **req)
{
    static const struct fcgi_param p[] = {
        {"REQUEST_METHOD", "GET", 14, 3},
        {"REQUEST_URI", "/api/poll", 11, 9},
        {"QUERY_STRING", "", 12, 0},
    };
    struct buf b = {0};
    fcgi_peer_encode(&b, p, sizeof p / sizeof p[0], NULL, 0, 0);
    int fd = fcgi_peer_connect(f->sock);
    assert_true(fd >= 0 && !b.failed);
    assert_int_equal(fcgi_peer_write(fd, b.data, b.len, REPLY_MS), (long)b.len);
    buf_free(&b);
    *req = malloc(sizeof **req);
    assert_non_null(*req);
    assert_int_equal(FCGX_InitRequest(*req, f->listen_fd, 0), 0);
    assert_int_equal(FCGX_Accept_r(*req), 0);
    return fd;
}

/* Park a poll of peer with cursor after from client address addr (may be
 * NULL: no REMOTE_ADDR); returns the lighttpd side's fd. */
static int park_poll_from(struct fixture *f, const char *peer, long long after, const char *addr)
{
    FCGX_Request *req;
    int fd = open_request(f, &req);
    park_submit(f->park, req, peer, after, addr);
    return fd;
}

static int park_poll(struct fixture *f, const char *peer, long long after)
{
    return park_poll_from(f, peer, after, X);
}

/* Read the reply on fd within ms: 200 and {"messages":[...]}. Returns the
 * messages array (a new reference) and closes fd. */
static json_t *read_messages(int fd, int ms)
{
    struct buf out = {0};
    char why[128];
    int status;
    const char *head, *body;
    size_t hlen, blen;
    assert_int_equal(fcgi_peer_exchange(fd, NULL, 0, &out, ms, why, sizeof why), FCGI_PEER_DONE);
    close(fd);
    assert_int_equal(fcgi_peer_split(out.data, out.len, &status, &head, &hlen, &body, &blen), 0);
    assert_int_equal(status, 200);
    json_t *o = json_loadb(body, blen, 0, NULL), *list = json_object_get(o, "messages");
    assert_true(json_is_array(list));
    json_incref(list);
    json_decref(o);
    buf_free(&out);
    return list;
}

/* 1 if nothing at all arrives on fd within ms. */
static int quiet(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, ms) == 0;
}

static long long send_msg(struct db *db, const char *from, const char *type, const char *data)
{
    long long seq = 0;
    assert_int_equal(store_send(db, from, type, data, 2000, &seq), STORE_OK);
    return seq;
}

static void assert_message(json_t *list, size_t i, long long seq, const char *type, const char *data)
{
    json_t *m = json_array_get(list, i);
    assert_int_equal(json_integer_value(json_object_get(m, "seq")), seq);
    assert_string_equal(json_string_value(json_object_get(m, "type")), type);
    char *d = json_dumps(json_object_get(m, "data"), JSON_ENCODE_ANY | JSON_COMPACT);
    assert_string_equal(d, data);
    free(d);
}

/* How long a held poll of B takes to be answered once a message for it is
 * committed by commit(f): the best of three tries, in ms. */
static int64_t wake_latency(struct fixture *f, void (*commit)(struct fixture *f, long long *seq))
{
    int64_t best = INT64_MAX;
    long long after = 0;
    for (int i = 0; i < 3; i++) {
        int fd = park_poll(f, B, after);
        assert_true(quiet(fd, 50)); /* held: nothing for B yet */
        long long seq;
        int64_t t0 = now_ms();
        commit(f, &seq);
        json_t *list = read_messages(fd, REPLY_MS);
        int64_t took = now_ms() - t0;
        /* Only what came after the cursor: the earlier tries' messages not. */
        assert_int_equal(json_array_size(list), 1);
        assert_message(list, 0, seq, "offer", "{\"n\":1}");
        json_decref(list);
        after = seq;
        if (took < best) best = took;
    }
    return best;
}

static void commit_and_notify(struct fixture *f, long long *seq)
{
    *seq = send_msg(f->db, A, "offer", "{\"n\":1}");
    park_notify(f->park);
}

static void commit_only(struct fixture *f, long long *seq)
{
    *seq = send_msg(f->db, A, "offer", "{\"n\":1}");
}

/* This process's commit wakes the poll through park_notify, not the tick.
 * The park reaches the database through a symlink elsewhere: inotify on its
 * directory sees no write, so only the notify can be this fast. */
static void notify_answers_held_poll(void **state)
{
    int64_t ms = wake_latency(*state, commit_and_notify);
    if (ms >= FAST_MS) fail_msg("notified poll answered after %lld ms (tick: 250)", (long long)ms);
}

/* Another connection's commit, with no notify, wakes it through inotify. */
static void other_connection_commit_answers_held_poll(void **state)
{
    int64_t ms = wake_latency(*state, commit_only);
    if (ms >= FAST_MS) fail_msg("poll answered %lld ms after another process's commit", (long long)ms);
}

/* Messages committed before the poll was parked go out at once, those at or
 * below the cursor not, even when the waker's scan has already passed them
 * (nobody was waiting then): A's poll is answered by the scan that also saw
 * B's messages, and only then does B poll. */
static void earlier_messages_are_delivered_at_once(void **state)
{
    struct fixture *f = *state;
    int fd_a = park_poll(f, A, 1); /* seq 1 is A's peer-joined */
    assert_true(quiet(fd_a, 50));
    long long s1 = send_msg(f->db, A, "a", "1");
    long long s2 = send_msg(f->db, A, "b", "\"two\"");
    long long s3 = send_msg(f->db, A, "c", "[3]");
    long long s4 = send_msg(f->db, B, "to-a", "null");
    park_notify(f->park);
    json_t *list = read_messages(fd_a, REPLY_MS);
    assert_message(list, json_array_size(list) - 1, s4, "to-a", "null");
    json_decref(list);
    int fd = park_poll(f, B, s1);
    list = read_messages(fd, REPLY_MS);
    assert_int_equal(json_array_size(list), 2);
    assert_message(list, 0, s2, "b", "\"two\"");
    assert_message(list, 1, s3, "c", "[3]");
    json_decref(list);
}

static void held_poll_times_out_empty(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = now_ms();
    int fd = park_poll(f, B, 0);
    json_t *list = read_messages(fd, REPLY_MS);
    int64_t took = now_ms() - t0;
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    if (took < 900) fail_msg("a 1 s poll answered after %lld ms", (long long)took);
}

static void newer_poll_answers_older(void **state)
{
    struct fixture *f = *state;
    int old = park_poll(f, B, 0);
    assert_true(quiet(old, 50));
    int newer = park_poll(f, B, 0);
    json_t *list = read_messages(old, REPLY_MS);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_true(quiet(newer, QUIET_MS));
    long long seq = send_msg(f->db, A, "offer", "{}");
    park_notify(f->park);
    list = read_messages(newer, REPLY_MS);
    assert_int_equal(json_array_size(list), 1);
    assert_message(list, 0, seq, "offer", "{}");
    json_decref(list);
}

/* Open descriptors of this process. */
static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* Wait (bounded) until the process has want descriptors open again. */
static int fds_back_to(int want, int ms)
{
    int64_t end = now_ms() + ms;
    struct pollfd none = {.fd = -1};
    while (count_fds() != want) {
        if (now_ms() > end) return 0;
        poll(&none, 1, 10); /* re-check; the wait is bounded by ms */
    }
    return 1;
}

/* lighttpd closes the backend socket when its client goes: the park drops
 * the poll and closes its end at once, long before poll_timeout (30 s). A
 * half-close (tcp-fin-propagate) gets no reply either, only the record
 * stream's end. Then the park still serves B. */
static void gone_client_is_dropped_not_answered(void **state)
{
    struct fixture *f = *state;
    int base = count_fds();
    for (int i = 0; i < 50; i++) close(park_poll(f, i % 2 ? A : B, 1000000));
    assert_true(fds_back_to(base, REPLY_MS));

    int fd = park_poll(f, B, 0);
    assert_true(quiet(fd, 50));
    shutdown(fd, SHUT_WR);
    struct buf out = {0};
    char why[128];
    enum fcgi_peer_rc rc = fcgi_peer_exchange(fd, NULL, 0, &out, REPLY_MS, why, sizeof why);
    assert_true(rc == FCGI_PEER_DONE || rc == FCGI_PEER_EOF);
    assert_int_equal(out.len, 0); /* no Status, no body */
    close(fd);
    buf_free(&out);
    assert_true(fds_back_to(base, REPLY_MS));

    fd = park_poll(f, B, 0);
    long long seq = send_msg(f->db, A, "offer", "1");
    park_notify(f->park);
    json_t *list = read_messages(fd, REPLY_MS);
    assert_message(list, 0, seq, "offer", "1");
    json_decref(list);
}

/* park_stop answers every held poll (and any still queued) with no
 * messages, closes their sockets and frees them (LeakSanitizer checks). */
static void stop_answers_thousands(void **state)
{
    struct fixture *f = *state;
    static int fds[MANY];
    int base = count_fds();
    for (int i = 0; i < MANY; i++) {
        char peer[STORE_PEER_HEX];
        snprintf(peer, sizeof peer, "%016x", i); /* unknown peers: nothing to send */
        fds[i] = park_poll(f, peer, 0);
    }
    assert_int_equal(count_fds(), base + 2 * MANY);
    park_stop(f->park);
    f->park = NULL;
    /* Every application side is closed now: the park's own descriptors
     * (epoll, eventfd, inotify, database) went too. */
    assert_true(count_fds() < base + MANY);
    for (int i = 0; i < MANY; i++) {
        json_t *list = read_messages(fds[i], REPLY_MS);
        assert_int_equal(json_array_size(list), 0);
        json_decref(list);
    }
}

/* ---- polls_per_addr: held polls per client address (the cap tests: 2) ---- */

#define P1 "c000000000000001" /* peers nobody writes to: their polls wait */
#define P2 "c000000000000002"
#define P3 "c000000000000003"
#define P4 "c000000000000004"
#define P5 "c000000000000005"

/* The poll on fd is refused within REPLY_MS (far below poll_timeout): 429
 * too_many_polls with Retry-After, as JSON. Closes fd. */
static void assert_refused(int fd)
{
    struct buf out = {0};
    char why[128];
    int status;
    const char *head, *body;
    size_t hlen, blen;
    assert_int_equal(fcgi_peer_exchange(fd, NULL, 0, &out, REPLY_MS, why, sizeof why), FCGI_PEER_DONE);
    close(fd);
    assert_int_equal(fcgi_peer_split(out.data, out.len, &status, &head, &hlen, &body, &blen), 0);
    assert_int_equal(status, 429);
    assert_true(fcgi_peer_has_header(head, hlen, "Retry-After: 2"));
    json_t *o = json_loadb(body, blen, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "too_many_polls");
    assert_non_null(json_string_value(json_object_get(o, "message")));
    json_decref(o);
    buf_free(&out);
}

/* The poll on fd times out (or is stopped) with no messages. */
static void assert_empty(int fd, int ms)
{
    json_t *list = read_messages(fd, ms);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

/* X holds 2: a third poll from X is refused at once and the two held ones
 * stay held; another address still has its own 2. */
static void cap_refuses_the_poll_past_it(void **state)
{
    struct fixture *f = *state;
    int h1 = park_poll(f, P1, 0), h2 = park_poll(f, P2, 0);
    assert_refused(park_poll(f, P3, 0));
    assert_true(quiet(h1, QUIET_MS) && quiet(h2, 0));
    int y1 = park_poll_from(f, P3, 0, Y), y2 = park_poll_from(f, P4, 0, Y);
    assert_true(quiet(y1, QUIET_MS) && quiet(y2, 0));
    assert_refused(park_poll_from(f, P5, 0, Y));
    assert_true(quiet(h1, 0) && quiet(h2, 0) && quiet(y1, 0) && quiet(y2, 0));
    close(h1), close(h2), close(y1), close(y2);
}

/* IPv6 counts per /64 (one subscriber holds a whole /64), an IPv4-mapped
 * address as its IPv4 address. No REMOTE_ADDR, an empty one and anything
 * that is not an address are held or refused like any other, never crash:
 * the first two cannot be told apart and share one count. */
static void cap_counts_ipv6_per_64_and_odd_addresses(void **state)
{
    struct fixture *f = *state;
    static char junk[5000];
    static const char *const from[] = {
        "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "-2001:db8:1:2::77", /* one /64 */
        "2001:db8:1:3::1",                                              /* the next */
        X, "::ffff:192.0.2.1", "-::ffff:192.0.2.1",                     /* X twice */
        NULL, "", "-",                                                  /* no address */
        junk, "not an address\x01\xff", "0.0.0.0.0",                   /* junk */
    };
    enum { N = sizeof from / sizeof from[0] };
    int fds[N];
    memset(junk, 'z', sizeof junk - 1);
    for (int i = 0; i < N; i++) {
        char peer[STORE_PEER_HEX];
        snprintf(peer, sizeof peer, "d%015d", i); /* a peer each: no replacement */
        const char *addr = from[i] && from[i][0] == '-' ? (from[i][1] ? from[i] + 1 : NULL) : from[i];
        fds[i] = park_poll_from(f, peer, 0, addr);
        if (from[i] && from[i][0] == '-') assert_refused(fds[i]); /* '-': past the cap */
    }
    assert_true(quiet(fds[0], QUIET_MS));
    for (int i = 0; i < N; i++) {
        if (from[i] && from[i][0] == '-') continue;
        assert_true(quiet(fds[i], 0));
        close(fds[i]);
    }
}

/* A newer poll of the same peer replaces its older one: it counts once, and
 * moves to the newer poll's address. */
static void cap_counts_a_replaced_poll_once(void **state)
{
    struct fixture *f = *state;
    int prev = park_poll(f, B, 0);
    for (int i = 0; i < 4; i++) {
        int fd = park_poll(f, B, 0);
        assert_empty(prev, REPLY_MS);
        prev = fd;
    }
    int other = park_poll(f, P1, 0); /* X holds B's newest and P1's */
    assert_true(quiet(other, QUIET_MS) && quiet(prev, 0));
    assert_refused(park_poll(f, P2, 0));
    int moved = park_poll_from(f, B, 0, Y); /* B's poll now comes from Y */
    assert_empty(prev, REPLY_MS);
    int again = park_poll(f, P2, 0); /* X holds P1's and this one */
    assert_true(quiet(again, QUIET_MS) && quiet(moved, 0) && quiet(other, 0));
    assert_refused(park_poll(f, P3, 0));
    close(other), close(moved), close(again);
}

/* A poll whose client went away gives its count back. */
static void cap_released_by_a_gone_client(void **state)
{
    struct fixture *f = *state;
    int base = count_fds();
    int h1 = park_poll(f, P1, 0), h2 = park_poll(f, P2, 0);
    close(h1);
    assert_true(fds_back_to(base + 2, REPLY_MS)); /* the park closed its end of h1 */
    int h3 = park_poll(f, P3, 0);
    assert_true(quiet(h3, QUIET_MS) && quiet(h2, 0));
    assert_refused(park_poll(f, P4, 0));
    close(h2), close(h3);
}

/* A poll answered by a message gives its count back. */
static void cap_released_by_a_message(void **state)
{
    struct fixture *f = *state;
    int b = park_poll(f, B, 0), h1 = park_poll(f, P1, 0);
    assert_refused(park_poll(f, P2, 0));
    long long seq = send_msg(f->db, A, "offer", "1");
    park_notify(f->park);
    json_t *list = read_messages(b, REPLY_MS);
    assert_message(list, 0, seq, "offer", "1");
    json_decref(list);
    int h2 = park_poll(f, P2, 0);
    assert_true(quiet(h2, QUIET_MS) && quiet(h1, 0));
    assert_refused(park_poll(f, P3, 0));
    close(h1), close(h2);
}

/* A poll that times out gives its count back (poll_timeout 1: the polls
 * after the time-outs are shown held by timing out empty, not refused). */
static void cap_released_by_a_timeout(void **state)
{
    struct fixture *f = *state;
    int h1 = park_poll(f, P1, 0), h2 = park_poll(f, P2, 0);
    assert_refused(park_poll(f, P3, 0));
    assert_empty(h1, REPLY_MS);
    assert_empty(h2, REPLY_MS);
    int h3 = park_poll(f, P3, 0), h4 = park_poll(f, P4, 0);
    assert_refused(park_poll(f, P5, 0));
    assert_empty(h3, REPLY_MS);
    assert_empty(h4, REPLY_MS);
}

/* park_stop answers what is held, refused polls stay answered, and every
 * count is given back: park_free asserts that none is left (and
 * LeakSanitizer would see one). 100 addresses at the cap. */
static void cap_released_at_stop(void **state)
{
    struct fixture *f = *state;
    enum { ADDRS = 100 };
    static int fds[ADDRS][2];
    char addr[40], peer[STORE_PEER_HEX];
    for (int i = 0; i < ADDRS; i++) {
        snprintf(addr, sizeof addr, "198.51.100.%d", i);
        for (int j = 0; j < 3; j++) {
            snprintf(peer, sizeof peer, "%016x", i * 4 + j);
            int fd = park_poll_from(f, peer, 0, addr);
            if (j < 2) fds[i][j] = fd;
            else assert_refused(fd);
        }
    }
    park_stop(f->park);
    f->park = NULL;
    for (int i = 0; i < ADDRS; i++) {
        assert_empty(fds[i][0], REPLY_MS);
        assert_empty(fds[i][1], REPLY_MS);
    }
}

static int group_setup(void **state)
{
    (void)state;
    return FCGX_Init() == 0 ? 0 : -1;
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(notify_answers_held_poll, setup_link, teardown),
    cmocka_unit_test_setup_teardown(other_connection_commit_answers_held_poll, setup, teardown),
    cmocka_unit_test_setup_teardown(earlier_messages_are_delivered_at_once, setup, teardown),
    cmocka_unit_test_setup_teardown(held_poll_times_out_empty, setup_short, teardown),
    cmocka_unit_test_setup_teardown(newer_poll_answers_older, setup, teardown),
    cmocka_unit_test_setup_teardown(gone_client_is_dropped_not_answered, setup, teardown),
    cmocka_unit_test_setup_teardown(stop_answers_thousands, setup, teardown),
    cmocka_unit_test_setup_teardown(cap_refuses_the_poll_past_it, setup_cap, teardown),
    cmocka_unit_test_setup_teardown(cap_counts_ipv6_per_64_and_odd_addresses, setup_cap, teardown),
    cmocka_unit_test_setup_teardown(cap_counts_a_replaced_poll_once, setup_cap, teardown),
    cmocka_unit_test_setup_teardown(cap_released_by_a_gone_client, setup_cap, teardown),
    cmocka_unit_test_setup_teardown(cap_released_by_a_message, setup_cap, teardown),
    cmocka_unit_test_setup_teardown(cap_released_by_a_timeout, setup_cap_short, teardown),
    cmocka_unit_test_setup_teardown(cap_released_at_stop, setup_cap, teardown),
};

UNIT_GROUP(unit_park, "park", tests, group_setup, NULL);
