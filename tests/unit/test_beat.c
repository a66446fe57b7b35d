/* test_beat.c: batched heartbeats and acknowledgements (beat.c) against a
 * real SQLite file. Written against beat.h's contract: a beat's time is
 * whatever the caller passes (WHEN(k), later for larger k), and the test
 * only checks that the later one is what the database ends up with. */
#include "unit.h"

#include "beat.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000             /* when the peers joined */
#define WHEN(k) (T0 + (k))  /* the k-th moment after that */
#define A "aaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbb"
#define C "cccccccccccccccc"
#define THREADS 4
#define PER_THREAD 50
#define ROUNDS 200

struct fixture {
    char dir[256], path[320];
    struct db *db;
    struct beat_table *t;
};

static int teardown(void **state)
{
    struct fixture *f = *state;
    beat_free(f->t);
    db_close(f->db);
    unit_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[600];
    int polite, peers;
    if (!f) return -1;
    *state = f;
    if (unit_tmpdir(f->dir, sizeof f->dir) < 0) return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    if (!(f->db = db_open(f->path, 1, err, sizeof err)) || !(f->t = beat_new())
        || store_join(f->db, "pin1", A, "tok-a", T0, &polite, &peers) != STORE_OK
        || store_join(f->db, "pin1", B, "tok-b", T0, &polite, &peers) != STORE_OK
        || store_join(f->db, "pin2", C, "tok-c", T0, &polite, &peers) != STORE_OK) {
        teardown(state);
        return -1;
    }
    return 0;
}

static long long last_seen(struct db *db, const char *peer)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT last_seen FROM peers WHERE id = '%s'", peer);
    return unit_query_int(db, sql);
}

static int has_message(struct db *db, long long seq)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE seq = %lld", seq);
    return (int)unit_query_int(db, sql);
}

static long long send_to(struct db *db, const char *from)
{
    long long seq = 0;
    assert_int_equal(store_send(db, from, "m", "null", T0, &seq), STORE_OK);
    return seq;
}

static int count_commit(void *arg)
{
    ++*(int *)arg;
    return 0; /* let it commit */
}

/* Three polls before a flush: the later cursor wins whatever order they
 * came in, and last_seen is the wall time of the last poll (monotonic order:
 * a wall clock stepped back in between does not hide it); messages up to the
 * cursor go, later ones stay. */
static void fold_keeps_later_cursor_and_time(void **state)
{
    struct fixture *f = *state;
    long long s1 = send_to(f->db, B), s2 = send_to(f->db, B), s3 = send_to(f->db, B);
    beat_record(f->t, A, s2, WHEN(5));
    beat_record(f->t, A, s1, WHEN(9));
    beat_record(f->t, A, 0, WHEN(2));
    assert_int_equal(beat_flush(f->t, f->db), 1);
    assert_int_equal(last_seen(f->db, A), WHEN(2));
    assert_false(has_message(f->db, s1));
    assert_false(has_message(f->db, s2));
    assert_true(has_message(f->db, s3));
    assert_int_equal(last_seen(f->db, B), T0); /* no beat, untouched */
}

/* Every beat is written in one transaction, then forgotten. */
static void flush_is_one_transaction_then_empty(void **state)
{
    struct fixture *f = *state;
    int commits = 0;
    long long sa = send_to(f->db, B), sb = send_to(f->db, A);
    beat_record(f->t, A, sa, WHEN(1));
    beat_record(f->t, B, sb, WHEN(2));
    beat_record(f->t, C, 0, WHEN(3));
    beat_record(f->t, "0000000000000000", 7, WHEN(4)); /* gone peers are skipped */
    sqlite3_commit_hook(f->db->h, count_commit, &commits);
    assert_int_equal(beat_flush(f->t, f->db), 4);
    assert_int_equal(commits, 1);
    assert_int_equal(last_seen(f->db, A), WHEN(1));
    assert_int_equal(last_seen(f->db, B), WHEN(2));
    assert_int_equal(last_seen(f->db, C), WHEN(3));
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(beat_flush(f->t, f->db), 0);
    assert_int_equal(commits, 1);
    sqlite3_commit_hook(f->db->h, NULL, NULL);
}

/* Another process holds the write lock: the flush fails, changes nothing
 * and keeps its beats, which fold with newer ones and are written next. */
static void failed_flush_keeps_beats(void **state)
{
    struct fixture *f = *state;
    char err[600];
    long long s1 = send_to(f->db, B);
    struct db *other = db_open(f->path, 0, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(sqlite3_exec(other->h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_busy_timeout(f->db->h, 1); /* fail fast instead of after 5 s */
    beat_record(f->t, A, s1, WHEN(5));
    assert_int_equal(beat_flush(f->t, f->db), -1);
    assert_int_equal(last_seen(f->db, A), T0);
    assert_true(has_message(f->db, s1));
    beat_record(f->t, A, 0, WHEN(3)); /* a later poll, its wall clock stepped back */
    assert_int_equal(sqlite3_exec(other->h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    db_close(other);
    assert_int_equal(beat_flush(f->t, f->db), 1);
    assert_int_equal(last_seen(f->db, A), WHEN(3));
    assert_false(has_message(f->db, s1)); /* the kept cursor still counts */
}

struct worker {
    struct beat_table *t;
    int first; /* its peers: first .. first + PER_THREAD - 1 */
    atomic_int *running;
};

static void peer_id(char out[STORE_PEER_HEX], int i) { snprintf(out, STORE_PEER_HEX, "%016x", 0x100 + i); }

static long long base_seq(int i) { return 1000000 + (long long)i * 1000; }

static void *recorder(void *arg)
{
    struct worker *w = arg;
    char peer[STORE_PEER_HEX];
    for (int k = 1; k <= ROUNDS; k++) {
        for (int i = w->first; i < w->first + PER_THREAD; i++) {
            peer_id(peer, i);
            beat_record(w->t, peer, base_seq(i) + k, WHEN(k));
        }
    }
    atomic_fetch_sub(w->running, 1);
    return NULL;
}

/* Seat every worker's peer, with a message at its last cursor and one
 * after it (explicit seqs). */
static void seat_workers(struct db *db)
{
    char peer[STORE_PEER_HEX], pin[32], tok[32], sql[256];
    int polite, peers;
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        peer_id(peer, i);
        snprintf(pin, sizeof pin, "room%d", i / 2);
        snprintf(tok, sizeof tok, "tok%d", i);
        assert_int_equal(store_join(db, pin, peer, tok, T0, &polite, &peers), STORE_OK);
        snprintf(sql, sizeof sql,
                 "INSERT INTO messages (seq, peer_id, type, data, created) VALUES"
                 " (%lld, '%s', 'm', 'null', 0), (%lld, '%s', 'm', 'null', 0)",
                 base_seq(i) + ROUNDS, peer, base_seq(i) + ROUNDS + 1, peer);
        assert_int_equal(sqlite3_exec(db->h, sql, NULL, NULL, NULL), SQLITE_OK);
    }
}

/* Threads record while flushes run: every peer ends with its last cursor
 * and time written, whichever flush took them. */
static void concurrent_records_during_flush_lose_nothing(void **state)
{
    struct fixture *f = *state;
    pthread_t th[THREADS];
    struct worker w[THREADS];
    atomic_int running = THREADS;
    char peer[STORE_PEER_HEX];
    int flushes = 0;
    seat_workers(f->db);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){f->t, i * PER_THREAD, &running};
        assert_int_equal(pthread_create(&th[i], NULL, recorder, &w[i]), 0);
    }
    while (atomic_load(&running) > 0) {
        assert_true(beat_flush(f->t, f->db) >= 0);
        flushes++;
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    assert_true(beat_flush(f->t, f->db) >= 0);
    (void)flushes; /* usually dozens; how many overlap the records is up to the scheduler */
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        peer_id(peer, i);
        assert_int_equal(last_seen(f->db, peer), WHEN(ROUNDS));
        assert_false(has_message(f->db, base_seq(i) + ROUNDS));
        assert_true(has_message(f->db, base_seq(i) + ROUNDS + 1));
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(fold_keeps_later_cursor_and_time, setup, teardown),
    cmocka_unit_test_setup_teardown(flush_is_one_transaction_then_empty, setup, teardown),
    cmocka_unit_test_setup_teardown(failed_flush_keeps_beats, setup, teardown),
    cmocka_unit_test_setup_teardown(concurrent_records_during_flush_lose_nothing, setup, teardown),
};

UNIT_GROUP(unit_beat, "beat", tests, NULL, NULL);
