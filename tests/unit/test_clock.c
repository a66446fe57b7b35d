/* test_clock.c: silent peers leave after peer_grace of monotonic time, whatever
 * the wall clock does (clock.c injected; beat.c and store.c's cleanup run as
 * main.c's cleaner runs them, against a real SQLite file). */
#include "unit.h"

#include "beat.h"
#include "clock.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

#define WALL0 1700000000
#define MONO0 5000
#define GRACE 60
#define DAY 86400
#define A "aaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbb"

static int64_t wall_now, mono_now;
static int64_t fake_wall(void) { return wall_now; }
static int64_t fake_mono(void) { return mono_now; }
static const struct clock_source fake = {fake_wall, fake_mono};

struct fixture {
    char dir[256], path[512];
    struct db *db;
    struct beat_table *beats;
};

static int setup(void **state)
{
    static struct fixture f;
    char err[600];
    memset(&f, 0, sizeof f);
    wall_now = WALL0;
    mono_now = MONO0;
    clock_use(&fake);
    if (unit_tmpdir(f.dir, sizeof f.dir) < 0) return -1;
    snprintf(f.path, sizeof f.path, "%s/t.db", f.dir);
    if (!(f.db = db_open(f.path, 1, err, sizeof err)) || !(f.beats = beat_new())) {
        fprintf(stderr, "%s\n", f.db ? "out of memory" : err);
        db_close(f.db);
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
    beat_free(f->beats);
    db_close(f->db);
    unit_tmpdir_remove(f->dir);
    return 0;
}

static int present(struct db *db, const char *peer)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM peers WHERE id = '%s'", peer);
    return (int)unit_query_int(db, sql);
}

static void join_pair(struct db *db)
{
    int polite, peers;
    assert_int_equal(store_join(db, "pin", A, "tok-" A, clock_wall(), &polite, &peers), STORE_OK);
    assert_int_equal(store_join(db, "pin", B, "tok-" B, clock_wall(), &polite, &peers), STORE_OK);
}

/* secs of time pass in 10 s steps (both clocks move alike between steps); B
 * polls at each step when b_polls; the cleaner runs as main.c runs it. */
static void pass(struct fixture *f, int secs, int b_polls)
{
    for (int i = 0; i < secs; i += 10) {
        wall_now += 10;
        mono_now += 10;
        int removed;
        if (b_polls) beat_record(f->beats, B, 0, clock_wall());
        assert_true(beat_flush(f->beats, f->db) >= 0);
        assert_int_equal(store_cleanup(f->db, clock_wall(), GRACE, 600, 60, &removed), STORE_OK);
    }
}

static void wall_step_back_still_removes_silent_peer(void **state)
{
    struct fixture *f = *state;
    join_pair(f->db);
    wall_now -= DAY;
    pass(f, 50, 1);
    assert_int_equal(present(f->db, A), 1); /* 50 s silent: within grace */
    pass(f, 20, 1);
    assert_int_equal(present(f->db, A), 0); /* 70 s silent */
    assert_int_equal(present(f->db, B), 1);
    assert_int_equal(unit_query_int(f->db, "SELECT count(*) FROM messages WHERE peer_id = '" B "'"
                                  " AND type = 'peer-left'"), 1);
}

static void wall_step_forward_keeps_live_peer(void **state)
{
    struct fixture *f = *state;
    join_pair(f->db);
    wall_now += DAY;
    pass(f, 30, 1);
    assert_int_equal(present(f->db, A), 1); /* silent 30 s only */
    assert_int_equal(present(f->db, B), 1);
    pass(f, 40, 1);
    assert_int_equal(present(f->db, A), 0);
    assert_int_equal(present(f->db, B), 1); /* it polls */
}

static void last_seen_is_the_wall_time_of_the_last_poll(void **state)
{
    struct fixture *f = *state;
    join_pair(f->db);
    wall_now -= DAY;
    pass(f, 10, 1);
    assert_int_equal(unit_query_int(f->db, "SELECT last_seen FROM peers WHERE id = '" B "'"), wall_now);
}

static void after_a_reboot_peers_get_a_fresh_grace(void **state)
{
    struct fixture *f = *state;
    char err[600];
    mono_now = 10 * DAY; /* a long uptime */
    join_pair(f->db);
    mono_now = 30;       /* rebooted: the monotonic clock starts again */
    struct db *started = db_open(f->path, 1, err, sizeof err); /* what a new process does */
    assert_non_null(started);
    db_close(started);
    pass(f, 50, 1);
    assert_int_equal(present(f->db, A), 1);
    pass(f, 20, 1);
    assert_int_equal(present(f->db, A), 0); /* not kept until the uptime passes 10 days */
    assert_int_equal(present(f->db, B), 1);
}

static void an_old_database_gets_seen_mono_at_open(void **state)
{
    struct fixture *f = *state;
    char path[600], err[700];
    sqlite3 *h;
    snprintf(path, sizeof path, "%s/old.db", f->dir);
    /* The peers table as it was before seen_mono, with one peer in it. */
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
        "CREATE TABLE rooms (id INTEGER PRIMARY KEY, pin_hash TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
        "CREATE TABLE peers (id TEXT PRIMARY KEY, room_id INTEGER NOT NULL REFERENCES rooms(id),"
        " token_hash TEXT NOT NULL UNIQUE, polite INTEGER NOT NULL CHECK (polite IN (0, 1)),"
        " joined INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
        "INSERT INTO rooms VALUES (1, 'pin', 1);"
        "INSERT INTO peers VALUES ('" A "', 1, 'tok', 0, 1, 1);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    for (int i = 0; i < 2; i++) { /* and again: applying it twice changes nothing */
        mono_now = MONO0 + i;
        struct db *db = db_open(path, 1, err, sizeof err);
        assert_non_null(db);
        assert_int_equal(unit_query_int(db, "SELECT seen_mono FROM peers"), MONO0 + i);
        assert_int_equal(unit_query_int(db, "SELECT count(*) FROM peers"), 1);
        db_close(db);
    }
}

static const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    T(wall_step_back_still_removes_silent_peer),
    T(wall_step_forward_keeps_live_peer),
    T(last_seen_is_the_wall_time_of_the_last_poll),
    T(after_a_reboot_peers_get_a_fresh_grace),
    T(an_old_database_gets_seen_mono_at_open),
#undef T
};

UNIT_GROUP(unit_clock, "clock", tests, NULL, NULL);
