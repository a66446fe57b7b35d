/* test_store.c: rooms, peers, messages and join rates (store.c, db.c) against
 * a real SQLite file, fresh for each test. Times are fixed unix seconds; the
 * monotonic clock (clock.h) is made to read the same numbers. */
#include "unit.h"

#include "clock.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000000
#define A "aaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbb"
#define C "cccccccccccccccc"

struct fixture {
    char dir[256];
    struct db *db;
};

static int64_t now_s = T0;
static int64_t fake_now(void) { return now_s; }
static const struct clock_source fake = {fake_now, fake_now};

static int setup(void **state)
{
    static struct fixture f;
    char path[512], err[600];
    memset(&f, 0, sizeof f);
    now_s = T0;
    clock_use(&fake);
    if (unit_tmpdir(f.dir, sizeof f.dir) < 0) return -1;
    snprintf(path, sizeof path, "%s/t.db", f.dir);
    f.db = db_open(path, 1, err, sizeof err);
    if (!f.db) {
        fprintf(stderr, "%s\n", err);
        unit_tmpdir_remove(f.dir);
        return -1;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    clock_use(NULL);
    db_close(f->db);
    unit_tmpdir_remove(f->dir);
    return 0;
}

/* Join peer id with token hash "tok-<id>" to the room of pin. */
static enum store_rc join(struct db *db, const char *pin, const char *id, int64_t now, int *polite,
                          int *peers)
{
    char tok[64];
    snprintf(tok, sizeof tok, "tok-%s", id);
    return store_join(db, pin, id, tok, now, polite, peers);
}

/* Join A then B to room "pin1". */
/* One poll's heartbeat and acknowledgement, written at once. */
static enum store_rc store_touch(struct db *db, const char *peer, long long after, int64_t now)
{
    struct store_beat b = {.after = after, .when = now, .mono = now};
    snprintf(b.peer, sizeof b.peer, "%s", peer);
    return store_beats(db, &b, 1);
}

/* The cleanup as the cleaner runs it at now (both clocks). */
static enum store_rc cleanup_at(struct db *db, int64_t now, int grace, int ttl, int window,
                                int *removed)
{
    now_s = now;
    return store_cleanup(db, now, grace, ttl, window, removed);
}

static void join_pair(struct db *db)
{
    int polite, peers;
    assert_int_equal(join(db, "pin1", A, T0, &polite, &peers), STORE_OK);
    assert_int_equal(join(db, "pin1", B, T0, &polite, &peers), STORE_OK);
}

/* store_fetch into a string compared with expect. */
static void assert_fetch(struct db *db, const char *peer, long long after, const char *expect)
{
    struct buf out = {0};
    int count = -1;
    assert_int_equal(store_fetch(db, peer, after, &out, &count), STORE_OK);
    assert_string_equal(out.data, expect);
    buf_free(&out);
}

static void open_uses_wal_and_is_healthy(void **state)
{
    struct fixture *f = *state;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db->h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(db_health(f->db), 0);
}

static void open_unwritable_path_fails_with_message(void **state)
{
    struct fixture *f = *state;
    char path[512], err[600] = "";
    snprintf(path, sizeof path, "%s/missing-dir/t.db", f->dir);
    assert_null(db_open(path, 1, err, sizeof err));
    assert_non_null(strstr(err, "missing-dir"));
}

static void join_first_is_impolite_alone(void **state)
{
    struct fixture *f = *state;
    int polite = -1, peers = -1;
    assert_int_equal(join(f->db, "pin1", A, T0, &polite, &peers), STORE_OK);
    assert_int_equal(polite, 0);
    assert_int_equal(peers, 1);
}

static void join_second_gets_opposite_polite(void **state)
{
    struct fixture *f = *state;
    int p1, p2, n1, n2;
    assert_int_equal(join(f->db, "pin1", A, T0, &p1, &n1), STORE_OK);
    assert_int_equal(join(f->db, "pin1", B, T0, &p2, &n2), STORE_OK);
    assert_int_not_equal(p1, p2);
    assert_int_equal(n2, 2);
}

static void join_third_is_full_and_changes_nothing(void **state)
{
    struct fixture *f = *state;
    int polite, peers;
    join_pair(f->db);
    assert_int_equal(join(f->db, "pin1", C, T0, &polite, &peers), STORE_FULL);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM peers"), 2);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM peers WHERE id = '" C "'"), 0);
}

static void join_other_pin_is_other_room(void **state)
{
    struct fixture *f = *state;
    int polite, peers;
    join_pair(f->db);
    assert_int_equal(join(f->db, "pin2", C, T0, &polite, &peers), STORE_OK);
    assert_int_equal(peers, 1);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM rooms"), 2);
}

static void join_second_queues_peer_joined_for_first(void **state)
{
    struct fixture *f = *state;
    join_pair(f->db);
    assert_fetch(f->db, A, 0, "{\"messages\":[{\"seq\":1,\"type\":\"peer-joined\",\"data\":null}]}");
    assert_fetch(f->db, B, 0, "{\"messages\":[]}");
}

static void rejoin_after_leave_keeps_polite_different(void **state)
{
    struct fixture *f = *state;
    int polite, peers;
    join_pair(f->db); /* A impolite, B polite */
    assert_int_equal(store_leave(f->db, A, T0), STORE_OK);
    assert_int_equal(join(f->db, "pin1", C, T0, &polite, &peers), STORE_OK);
    assert_int_equal(polite, 0);
    assert_int_equal(peers, 2);
    assert_int_equal(store_leave(f->db, C, T0), STORE_OK);
    assert_int_equal(store_leave(f->db, B, T0), STORE_OK);
    assert_int_equal(join(f->db, "pin1", C, T0, &polite, &peers), STORE_OK);
    assert_int_equal(polite, 0);
    assert_int_equal(peers, 1);
}

static void auth_finds_peer_by_token_hash(void **state)
{
    struct fixture *f = *state;
    char peer[STORE_PEER_HEX] = "";
    join_pair(f->db);
    assert_int_equal(store_auth(f->db, "tok-" B, peer), STORE_OK);
    assert_string_equal(peer, B);
    assert_int_equal(store_auth(f->db, "tok-unknown", peer), STORE_UNKNOWN);
}

static void send_alone_is_no_peer(void **state)
{
    struct fixture *f = *state;
    int polite, peers;
    long long seq = -1;
    assert_int_equal(join(f->db, "pin1", A, T0, &polite, &peers), STORE_OK);
    assert_int_equal(store_send(f->db, A, "offer", "{}", T0, &seq), STORE_NO_PEER);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages"), 0);
}

static void send_then_fetch_in_seq_order(void **state)
{
    struct fixture *f = *state;
    long long s1, s2;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "offer", "{\"sdp\":\"v=0\"}", T0, &s1), STORE_OK);
    assert_int_equal(store_send(f->db, A, "ice", "[1,2]", T0, &s2), STORE_OK);
    assert_int_equal(s1, 2); /* 1 is A's peer-joined */
    assert_int_equal(s2, 3);
    assert_fetch(f->db, B, 0,
                 "{\"messages\":[{\"seq\":2,\"type\":\"offer\",\"data\":{\"sdp\":\"v=0\"}},"
                 "{\"seq\":3,\"type\":\"ice\",\"data\":[1,2]}]}");
}

static void fetch_only_after_cursor(void **state)
{
    struct fixture *f = *state;
    long long s1, s2;
    struct buf out = {0};
    int count = -1;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "a", "1", T0, &s1), STORE_OK);
    assert_int_equal(store_send(f->db, A, "b", "2", T0, &s2), STORE_OK);
    assert_int_equal(store_fetch(f->db, B, s1, &out, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_string_equal(out.data, "{\"messages\":[{\"seq\":3,\"type\":\"b\",\"data\":2}]}");
    buf_reset(&out);
    assert_int_equal(store_fetch(f->db, B, s2, &out, &count), STORE_OK);
    assert_int_equal(count, 0);
    assert_string_equal(out.data, "{\"messages\":[]}");
    buf_free(&out);
}

static void touch_acks_up_to_cursor_and_sets_last_seen(void **state)
{
    struct fixture *f = *state;
    long long s1, s2;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "a", "1", T0, &s1), STORE_OK);
    assert_int_equal(store_send(f->db, A, "b", "2", T0, &s2), STORE_OK);
    assert_int_equal(store_touch(f->db, B, s1, T0 + 5), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE peer_id = '" B "'"), 1);
    assert_int_equal(unit_query_int(f->db, "SELECT seq FROM messages WHERE peer_id = '" B "'"), s2);
    assert_int_equal(unit_query_int(f->db, "SELECT last_seen FROM peers WHERE id = '" B "'"), T0 + 5);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE peer_id = '" A "'"), 1);
}

static void seq_not_reused_after_ack(void **state)
{
    struct fixture *f = *state;
    long long s1, s2, max = -1;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "a", "1", T0, &s1), STORE_OK);
    assert_int_equal(store_touch(f->db, B, s1, T0), STORE_OK);
    assert_int_equal(store_touch(f->db, A, s1, T0), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(store_max_seq(f->db, &max), STORE_OK);
    assert_int_equal(max, s1);
    assert_int_equal(store_send(f->db, A, "b", "2", T0, &s2), STORE_OK);
    assert_true(s2 > s1);
}

static void leave_queues_peer_left_and_drops_own_messages(void **state)
{
    struct fixture *f = *state;
    long long seq;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, B, "x", "1", T0, &seq), STORE_OK); /* for A */
    assert_int_equal(store_leave(f->db, A, T0), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE peer_id = '" A "'"), 0);
    assert_fetch(f->db, B, 0, "{\"messages\":[{\"seq\":3,\"type\":\"peer-left\",\"data\":null}]}");
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM rooms"), 1);
    assert_int_equal(store_auth(f->db, "tok-" A, (char[STORE_PEER_HEX]){0}), STORE_UNKNOWN);
}

static void leave_of_last_peer_deletes_room(void **state)
{
    struct fixture *f = *state;
    join_pair(f->db);
    assert_int_equal(store_leave(f->db, A, T0), STORE_OK);
    assert_int_equal(store_leave(f->db, B, T0), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM rooms"), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM peers"), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages"), 0);
}

static void leave_twice_is_unknown(void **state)
{
    struct fixture *f = *state;
    join_pair(f->db);
    assert_int_equal(store_leave(f->db, A, T0), STORE_OK);
    assert_int_equal(store_leave(f->db, A, T0), STORE_UNKNOWN);
    assert_int_equal(store_leave(f->db, C, T0), STORE_UNKNOWN);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE type = 'peer-left'"), 1);
}

static void cleanup_removes_silent_peer_and_tells_other(void **state)
{
    struct fixture *f = *state;
    int removed = -1;
    join_pair(f->db);
    assert_int_equal(store_touch(f->db, B, 0, T0 + 100), STORE_OK);
    assert_int_equal(cleanup_at(f->db, T0 + 100, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM peers WHERE id = '" A "'"), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE peer_id = '" B "'"
                                  " AND type = 'peer-left'"), 1);
}

static void cleanup_keeps_peers_within_grace(void **state)
{
    struct fixture *f = *state;
    int removed = -1;
    join_pair(f->db);
    assert_int_equal(cleanup_at(f->db, T0 + 60, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM peers"), 2);
}

static void cleanup_of_both_peers_deletes_room(void **state)
{
    struct fixture *f = *state;
    int removed = -1;
    join_pair(f->db);
    assert_int_equal(cleanup_at(f->db, T0 + 61, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM rooms"), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM peers"), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages"), 0);
}

static void cleanup_expires_old_messages(void **state)
{
    struct fixture *f = *state;
    long long s_old, s_new;
    int removed;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "old", "1", T0, &s_old), STORE_OK);
    assert_int_equal(store_send(f->db, A, "new", "2", T0 + 1, &s_new), STORE_OK);
    assert_int_equal(store_touch(f->db, A, 0, T0 + 601), STORE_OK);
    assert_int_equal(store_touch(f->db, B, 0, T0 + 601), STORE_OK);
    assert_int_equal(cleanup_at(f->db, T0 + 601, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(removed, 0);
    /* created < now - ttl goes: T0 (and A's peer-joined at T0) do, T0 + 1 stays. */
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages"), 1);
    assert_int_equal(unit_query_int(f->db, "SELECT seq FROM messages"), s_new);
}

static void cleanup_drops_past_rate_windows(void **state)
{
    struct fixture *f = *state;
    int retry, removed;
    assert_int_equal(store_rate_hit(f->db, "addr1", T0, 5, 60, &retry), STORE_OK);
    assert_int_equal(cleanup_at(f->db, T0 + 19, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM join_rate"), 1); /* same window */
    assert_int_equal(cleanup_at(f->db, T0 + 20, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM join_rate"), 0);
}

static void rate_hit_limits_with_retry_after(void **state)
{
    struct fixture *f = *state;
    int retry = -1;
    /* T0 = 1000000 is 40 s into its 60 s window (1000000 = 16666 * 60 + 40). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_rate_hit(f->db, "addr1", T0, 3, 60, &retry), STORE_OK);
    assert_int_equal(store_rate_hit(f->db, "addr1", T0, 3, 60, &retry), STORE_LIMITED);
    assert_int_equal(retry, 20);
    assert_int_equal(store_rate_hit(f->db, "addr1", T0 + 19, 3, 60, &retry), STORE_LIMITED);
    assert_int_equal(retry, 1);
}

static void rate_hit_counts_per_address_and_window(void **state)
{
    struct fixture *f = *state;
    int retry;
    assert_int_equal(store_rate_hit(f->db, "addr1", T0, 1, 60, &retry), STORE_OK);
    assert_int_equal(store_rate_hit(f->db, "addr1", T0, 1, 60, &retry), STORE_LIMITED);
    assert_int_equal(store_rate_hit(f->db, "addr2", T0, 1, 60, &retry), STORE_OK);
    assert_int_equal(store_rate_hit(f->db, "addr1", T0 + 20, 1, 60, &retry), STORE_OK);
}

static void max_seq_zero_then_last_assigned(void **state)
{
    struct fixture *f = *state;
    long long max = -1, seq;
    assert_int_equal(store_max_seq(f->db, &max), STORE_OK);
    assert_int_equal(max, 0);
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "a", "1", T0, &seq), STORE_OK);
    assert_int_equal(store_max_seq(f->db, &max), STORE_OK);
    assert_int_equal(max, seq);
}

struct seen {
    int n;
    char peer[8][STORE_PEER_HEX];
    long long seq[8];
};

static void collect(const char *peer_id, long long seq, void *arg)
{
    struct seen *s = arg;
    if (s->n >= 8) return;
    snprintf(s->peer[s->n], STORE_PEER_HEX, "%s", peer_id);
    s->seq[s->n++] = seq;
}

static void each_new_in_seq_order_after_cursor(void **state)
{
    struct fixture *f = *state;
    struct seen s = {0};
    long long seq;
    join_pair(f->db);                                                 /* 1: to A */
    assert_int_equal(store_send(f->db, A, "a", "1", T0, &seq), STORE_OK); /* 2: to B */
    assert_int_equal(store_send(f->db, B, "b", "2", T0, &seq), STORE_OK); /* 3: to A */
    assert_int_equal(store_each_new(f->db, 1, collect, &s), STORE_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[0], 2);
    assert_string_equal(s.peer[0], B);
    assert_int_equal(s.seq[1], 3);
    assert_string_equal(s.peer[1], A);
}

/* Queue caps (store_send_capped) and the queues counters behind them. */
static const struct store_cap CAP3 = {.max_messages = 3, .max_bytes = 10};

/* B's counters: count * 1000000 + bytes, -1 when B has no row. */
static long long queue_of_b(struct db *db)
{
    return unit_query_int(db, "SELECT coalesce((SELECT count * 1000000 + bytes FROM queues"
                     " WHERE peer_id = 'bbbbbbbbbbbbbbbb'), -1)");
}

static void send_capped_refuses_by_count_and_changes_nothing(void **state)
{
    struct fixture *f = *state;
    long long seq = -1;
    join_pair(f->db);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_send_capped(f->db, A, "x", "1", T0, &CAP3, &seq), STORE_OK);
    assert_int_equal(queue_of_b(f->db), 3000003);
    seq = -1;
    assert_int_equal(store_send_capped(f->db, A, "x", "1", T0, &CAP3, &seq), STORE_QUEUE_FULL);
    assert_int_equal(seq, -1);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE peer_id = '" B "'"), 3);
    assert_int_equal(queue_of_b(f->db), 3000003);
    /* B polls with its cursor: the queue drains and sending works again. */
    assert_int_equal(store_touch(f->db, B, 4, T0 + 1), STORE_OK);
    assert_int_equal(queue_of_b(f->db), -1);
    assert_int_equal(store_send_capped(f->db, A, "x", "1", T0, &CAP3, &seq), STORE_OK);
    assert_int_equal(seq, 5); /* the refused one took no seq */
}

static void send_capped_refuses_by_bytes_of_stored_data(void **state)
{
    struct fixture *f = *state;
    long long seq;
    join_pair(f->db);
    assert_int_equal(store_send_capped(f->db, A, "x", "\"\xc3\xa9\xc3\xa9\"", T0, &CAP3, &seq), STORE_OK);
    assert_int_equal(queue_of_b(f->db), 1000006); /* bytes, not characters */
    assert_int_equal(store_send_capped(f->db, A, "x", "12345", T0, &CAP3, &seq), STORE_QUEUE_FULL);
    assert_int_equal(store_send_capped(f->db, A, "x", "1234", T0, &CAP3, &seq), STORE_OK);
    assert_int_equal(queue_of_b(f->db), 2000010);
    assert_int_equal(store_send_capped(f->db, A, "x", "1", T0, &CAP3, &seq), STORE_QUEUE_FULL);
    /* Without a cap nothing is refused. */
    assert_int_equal(store_send_capped(f->db, A, "x", "1", T0, NULL, &seq), STORE_OK);
}

static void queue_counters_follow_leave_and_cleanup(void **state)
{
    struct fixture *f = *state;
    long long seq;
    int removed;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, B, "x", "12", T0, &seq), STORE_OK);  /* to A */
    assert_int_equal(store_send(f->db, A, "x", "123", T0, &seq), STORE_OK); /* to B */
    assert_int_equal(store_send(f->db, A, "x", "4", T0 + 1, &seq), STORE_OK);
    assert_int_equal(unit_query_int(f->db, "SELECT bytes FROM queues WHERE peer_id = '" A "'"), 6); /* null, 12 */
    assert_int_equal(store_touch(f->db, A, 0, T0 + 601), STORE_OK);
    assert_int_equal(store_touch(f->db, B, 0, T0 + 601), STORE_OK);
    assert_int_equal(store_cleanup(f->db, T0 + 601, 60, 600, 60, &removed), STORE_OK);
    assert_int_equal(queue_of_b(f->db), 1000001); /* the T0 message expired */
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM queues WHERE peer_id = '" A "'"), 0);
    assert_int_equal(store_leave(f->db, B, T0 + 602), STORE_OK);
    assert_int_equal(queue_of_b(f->db), -1);
    assert_int_equal(unit_query_int(f->db, "SELECT count * 100 + bytes FROM queues WHERE peer_id = '" A "'"), 104);
}

static void cleanup_finds_expired_messages_by_index(void **state)
{
    struct fixture *f = *state;
    sqlite3_stmt *st;
    char plan[512] = "";
    assert_int_equal(sqlite3_prepare_v2(f->db->h, "EXPLAIN QUERY PLAN DELETE FROM messages WHERE created < 1",
                                        -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s;", sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    assert_non_null(strstr(plan, "USING COVERING INDEX messages_created"));
}

static void reopen_recounts_queues_of_an_old_database(void **state)
{
    struct fixture *f = *state;
    char path[512], err[600];
    long long seq;
    join_pair(f->db);
    assert_int_equal(store_send(f->db, A, "x", "123", T0, &seq), STORE_OK);
    /* As before the counters existed: no triggers, no table, a message more. */
    assert_int_equal(sqlite3_exec(f->db->h, "DROP TRIGGER messages_queue_add; DROP TRIGGER messages_queue_del;"
                                  "DROP TABLE queues; INSERT INTO messages(peer_id, type, data, created)"
                                  " VALUES ('" B "', 'y', '45', 1)", NULL, NULL, NULL), SQLITE_OK);
    db_close(f->db);
    snprintf(path, sizeof path, "%s/t.db", f->dir);
    f->db = db_open(path, 1, err, sizeof err);
    assert_non_null(f->db);
    assert_int_equal(queue_of_b(f->db), 2000005);
    /* The schema again (every start): idempotent, same counts. */
    db_close(f->db);
    f->db = db_open(path, 1, err, sizeof err);
    assert_non_null(f->db);
    assert_int_equal(queue_of_b(f->db), 2000005);
}

static void write_check_probes_only_without_recent_evidence(void **state)
{
    struct fixture *f = *state;
    struct db_write_error last;
    join_pair(f->db); /* a commit that changed rows, just now */
    assert_int_equal(db_write_check(f->db, &last), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM health"), 0); /* no probe */
    now_s += 10; /* nothing written since: the check proves it */
    assert_int_equal(db_write_check(f->db, &last), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM health"), 1);
    /* A failing statement inside a write transaction is remembered... */
    sqlite3_stmt *bad;
    assert_int_equal(sqlite3_prepare_v2(f->db->h, "INSERT INTO health(id, checked) VALUES (2, 0)",
                                        -1, &bad, NULL), SQLITE_OK);
    assert_int_equal(db_begin(f->db), 0);
    assert_int_equal(db_step_done(f->db, bad), -1);
    sqlite3_finalize(bad);
    db_rollback(f->db);
    /* ...and reported for a few seconds, without a write... */
    assert_int_equal(db_write_check(f->db, &last), -1);
    assert_non_null(strstr(last.message, "CHECK constraint failed"));
    assert_int_equal(last.code, SQLITE_CONSTRAINT_CHECK);
    assert_int_equal(last.at, now_s);
    /* ...then a write is proved again, and the error still reported. */
    now_s += 10;
    assert_int_equal(unit_query_int(f->db, "UPDATE health SET checked = 0 RETURNING checked"), 0);
    assert_int_equal(db_write_check(f->db, &last), 0);
    assert_int_equal(unit_query_int(f->db, "SELECT checked FROM health"), now_s);
    assert_non_null(strstr(last.message, "CHECK constraint failed"));
}

static const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    T(open_uses_wal_and_is_healthy),
    T(open_unwritable_path_fails_with_message),
    T(join_first_is_impolite_alone),
    T(join_second_gets_opposite_polite),
    T(join_third_is_full_and_changes_nothing),
    T(join_other_pin_is_other_room),
    T(join_second_queues_peer_joined_for_first),
    T(rejoin_after_leave_keeps_polite_different),
    T(auth_finds_peer_by_token_hash),
    T(send_alone_is_no_peer),
    T(send_then_fetch_in_seq_order),
    T(fetch_only_after_cursor),
    T(touch_acks_up_to_cursor_and_sets_last_seen),
    T(seq_not_reused_after_ack),
    T(leave_queues_peer_left_and_drops_own_messages),
    T(leave_of_last_peer_deletes_room),
    T(leave_twice_is_unknown),
    T(cleanup_removes_silent_peer_and_tells_other),
    T(cleanup_keeps_peers_within_grace),
    T(cleanup_of_both_peers_deletes_room),
    T(cleanup_expires_old_messages),
    T(cleanup_drops_past_rate_windows),
    T(rate_hit_limits_with_retry_after),
    T(rate_hit_counts_per_address_and_window),
    T(max_seq_zero_then_last_assigned),
    T(each_new_in_seq_order_after_cursor),
    T(send_capped_refuses_by_count_and_changes_nothing),
    T(send_capped_refuses_by_bytes_of_stored_data),
    T(queue_counters_follow_leave_and_cleanup),
    T(cleanup_finds_expired_messages_by_index),
    T(reopen_recounts_queues_of_an_old_database),
    T(write_check_probes_only_without_recent_evidence),
#undef T
};

UNIT_GROUP(unit_store, "store", tests, NULL, NULL);
