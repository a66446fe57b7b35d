/* test_park.c: held long-polls (park.c) with real FastCGI requests.
 *
 * Each poll is a real request: the test plays lighttpd on a listening unix
 * socket (fcgi_peer.c), FCGX_Accept_r accepts it as main.c's workers do, and
 * the request goes to park_submit. The reply is read from the lighttpd side
 * with a time bound; "not answered" is a bounded wait that sees nothing.
 * A and B are seated in one room of a real SQLite file; B's polls wait. */
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
 * listening socket, and a park with poll_timeout seconds. With via_link the
 * park reaches the database through a symlink in another directory, so its
 * inotify watch sees none of the writes. */
static int make_fixture(struct fixture *f, int poll_timeout, int via_link)
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
    if (!f->cfg.db || (f->listen_fd = fcgi_peer_listen(f->sock)) < 0) return -1;
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
    remove_tree(f->dir);
    free(f);
    return 0;
}

static int setup_with(void **state, int poll_timeout, int via_link)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    *state = f;
    if (make_fixture(f, poll_timeout, via_link) == 0) return 0;
    teardown(state);
    return -1;
}

static int setup(void **state) { return setup_with(state, 30, 0); }
static int setup_short(void **state) { return setup_with(state, 1, 0); }
static int setup_link(void **state) { return setup_with(state, 30, 1); }

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

/* Park a poll of peer with cursor after; returns the lighttpd side's fd. */
static int park_poll(struct fixture *f, const char *peer, long long after)
{
    FCGX_Request *req;
    int fd = open_request(f, &req);
    park_submit(f->park, req, peer, after);
    return fd;
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
};

UNIT_GROUP(unit_park, "park", tests, group_setup, NULL);
