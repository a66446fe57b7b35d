/* db.c: SQLite connections and transactions.
 *
 * Design
 * ------
 * All state lives in one SQLite file in WAL mode (schema: sql/schema.sql):
 * rooms, peers, messages, queues (per recipient: how many messages wait and
 * their bytes, kept by triggers on messages and recounted at every start),
 * join_rate rows and one health row. Every thread
 * of every FastCGI process has its own connection; so may an operator's
 * sqlite3 shell.
 *
 * Who writes what:
 *   join    inserts a room (if new), a peer, and a peer-joined message for
 *           the peer already there.
 *   send    inserts one message for the other peer of the sender's room,
 *           unless that peer's queue is at queue_max_messages or
 *           queue_max_bytes (then nothing: 429 queue_full).
 *   poll    moves the poller's last_seen and seen_mono and deletes its
 *           messages with seq <= after (the client has them).
 *   leave   deletes the peer and its messages, inserts peer-left for the
 *           other peer, deletes the room when it is empty.
 *   cleanup (a timer thread, no request needed) does what leave does for
 *           every peer silent for peer_grace seconds, deletes messages older
 *           than message_ttl and join_rate rows of past windows.
 *   health  rewrites the one row of the health table, only when it has to
 *           prove that a write can happen (below).
 *
 * Time. Two clocks (clock.h). How long ago something happened (a peer's
 * silence against peer_grace) is measured on CLOCK_MONOTONIC, which no clock
 * step moves: peers.seen_mono holds it, moved by each flushed heartbeat, and
 * the cleaner (which also waits on CLOCK_MONOTONIC) removes peers with
 * seen_mono < now - peer_grace. The monotonic clock is the same in every
 * process of the machine but starts again at boot, so values written before
 * a reboot mean nothing afterwards: every process start (db_open with
 * migrate) gives every peer a fresh grace (seen_mono = now). A peer that
 * left just before a restart keeps its seat up to peer_grace longer; none
 * is dropped or kept for ever by a reboot. The wall-clock columns
 * (last_seen, joined, created) are for people reading the database, and for
 * two bounds that may stay on wall time: message_ttl (messages go sooner
 * with their recipient's leave or its acknowledgement; a forward step only
 * expires those of a recipient that is not fetching them) and join_rate
 * windows (a step starts a new window: at most join_limit more joins).
 *
 * Invariants:
 *   1. A room has at most 2 peers; a room with none is deleted in the same
 *      transaction that removed its last peer.
 *   2. Two peers of a room have different polite flags.
 *   3. messages.seq only grows (AUTOINCREMENT): a cursor never goes back.
 *   4. Neither a PIN nor a token is stored: only keyed/unkeyed hashes.
 *   5. queues holds, for every recipient with messages waiting, their count
 *      and the bytes of their data; no row when none wait.
 *
 * Concurrency: transactions that read then write are BEGIN IMMEDIATE with a
 * 5 s busy timeout, so concurrent writers queue instead of failing with
 * "database is locked"; within one process they queue on a mutex, which
 * wakes the next writer at once where SQLite's busy handler would sleep.
 * synchronous=NORMAL survives a process crash (WAL frames are in the OS's
 * cache); only a power cut can lose the last commits. (mmap_size was tried:
 * SQLite then remapped the file about once a request, and the TLB shootdowns
 * across threads cost more than the reads it saved.)
 * No statement stays un-reset after a call: an open read snapshot would hide
 * new rows from a waiting poll and stop checkpoints.
 *
 * Can we write? (GET /api/health.) A full or read-only file system does not
 * show in a read, nor in BEGIN IMMEDIATE, nor in a transaction that changes
 * nothing: only in a commit that has to put frames in the WAL, and even that
 * succeeds while the WAL has room to be reused after a checkpoint (so on a
 * nearly full disk a small write may pass while a join fails). So this
 * module remembers, for the whole process and on the monotonic clock, when
 * a commit that changed rows last succeeded, and when and why an error
 * inside a write transaction (begin, a statement, commit) last happened.
 * db_write_check says "cannot write" while the last error is under
 * DB_WRITE_FRESH seconds old; "can" while a good commit is that fresh and
 * later than the error; otherwise it proves it with one write of its own (an
 * upsert of the single row of the health table), whose outcome is recorded
 * like any other. With heartbeats flushed once a second a busy server never
 * probes; an idle one probes at most once per DB_WRITE_FRESH seconds of
 * health checks (a ~20 us write); a failing one not at all, and recovers by
 * itself DB_WRITE_FRESH seconds after its last failed write.
 */
#include "db.h"

#include "clock.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const char tuturu_schema_sql[]; /* build/schema.c, from sql/schema.sql */

#define BUSY_TIMEOUT_MS 5000
#define BEGIN_TRIES 5

#define DB_WRITE_FRESH 5 /* seconds */

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* The outcome of this process's write transactions (see the design above). */
static struct {
    pthread_mutex_t lock;
    int64_t ok_mono;        /* the last commit that changed rows; 0: none */
    int64_t error_mono;     /* the last error in a write transaction; 0: none */
    struct db_write_error last;
} writes = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void write_failed(struct db *db, const char *what)
{
    pthread_mutex_lock(&writes.lock);
    writes.error_mono = clock_mono();
    snprintf(writes.last.message, sizeof writes.last.message, "%s: %s", what,
             db->h ? sqlite3_errmsg(db->h) : "no connection");
    writes.last.code = db->h ? sqlite3_extended_errcode(db->h) : SQLITE_ERROR;
    writes.last.at = clock_wall();
    pthread_mutex_unlock(&writes.lock);
}

static void write_worked(void)
{
    pthread_mutex_lock(&writes.lock);
    writes.ok_mono = clock_mono();
    pthread_mutex_unlock(&writes.lock);
}

void db_log(struct db *db, const char *what)
{
    log_msg("sqlite: %s: %s", what, db && db->h ? sqlite3_errmsg(db->h) : "no connection");
    if (db && db->writing) write_failed(db, what);
}

static int exec(struct db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db->h));
    sqlite3_free(msg);
    return -1;
}

/* Columns added after the first release: added to an existing database. */
static int add_missing_columns(struct db *db, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM pragma_table_info('peers')"
                           " WHERE name = 'seen_mono'", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db->h));
        return -1;
    }
    int rc = sqlite3_step(st), has = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db->h));
        return -1;
    }
    return has ? 0 : exec(db, "ALTER TABLE peers ADD COLUMN seen_mono INTEGER NOT NULL DEFAULT 0",
                          err, errlen);
}

/* The schema, missing columns, and a fresh grace for every peer (design:
 * Time), in one write transaction so that processes starting together
 * migrate one at a time. Returns 0, or -1 with err filled in. */
static int migrate_schema(struct db *db, char *err, size_t errlen)
{
    char fresh[128];
    snprintf(fresh, sizeof fresh, "UPDATE peers SET seen_mono = %lld", (long long)clock_mono());
    if (exec(db, "BEGIN IMMEDIATE", err, errlen) < 0) return -1;
    if (exec(db, tuturu_schema_sql, err, errlen) < 0 || add_missing_columns(db, err, errlen) < 0
        || exec(db, fresh, err, errlen) < 0 || exec(db, "COMMIT", err, errlen) < 0) {
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

struct db *db_open(const char *path, int migrate, char *err, size_t errlen)
{
    struct db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[512];
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "%s", db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto fail;
    }
    if (sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS) != SQLITE_OK
        || exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", why, sizeof why) < 0)
        goto fail;
    /* Also proves we can write: an unwritable database must fail at start. */
    if (migrate && migrate_schema(db, why, sizeof why) < 0) goto fail;
    return db;
fail:
    snprintf(err, errlen, "database %s: %s", path, why);
    db_close(db);
    return NULL;
}

void db_close(struct db *db)
{
    if (!db) return;
    for (int i = 0; i < DB_MAX_STMTS; i++) sqlite3_finalize(db->stmts[i]);
    sqlite3_close(db->h);
    free(db);
}

sqlite3_stmt *db_stmt(struct db *db, int slot, const char *sql)
{
    if (slot < 0 || slot >= DB_MAX_STMTS) return NULL;
    sqlite3_stmt *st = db->stmts[slot];
    if (!st) {
        if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            db_log(db, "prepare");
            return NULL;
        }
        db->stmts[slot] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int db_begin(struct db *db)
{
    pthread_mutex_lock(&write_lock);
    for (int i = 0; i < BEGIN_TRIES; i++) {
        int rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            db->writing = 1;
            db->changes_at_begin = sqlite3_total_changes64(db->h);
            return 0;
        }
        if (rc != SQLITE_BUSY) break;
    }
    pthread_mutex_unlock(&write_lock);
    db_log(db, "begin");
    write_failed(db, "begin");
    return -1;
}

static void end_write(struct db *db)
{
    if (!db->writing) return;
    db->writing = 0;
    pthread_mutex_unlock(&write_lock);
}

int db_commit(struct db *db)
{
    if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        if (sqlite3_total_changes64(db->h) != db->changes_at_begin) write_worked();
        end_write(db);
        return 0;
    }
    db_log(db, "commit");
    db_rollback(db);
    return -1;
}

void db_rollback(struct db *db)
{
    if (!sqlite3_get_autocommit(db->h)
        && sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        db_log(db, "rollback");
    end_write(db);
}

int db_read_begin(struct db *db)
{
    if (sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) return 0;
    db_log(db, "begin read");
    return -1;
}

void db_read_end(struct db *db)
{
    if (sqlite3_get_autocommit(db->h)) return;
    if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK
        && sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        db_log(db, "end read");
}

int db_step_done(struct db *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return 0;
    db_log(db, "step");
    return -1;
}

int db_health(struct db *db)
{
    sqlite3_stmt *st = db_stmt(db, DB_MAX_STMTS - 1, "SELECT count(*) FROM rooms");
    if (!st) return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* The probe: rewrite the one row of the health table. 0 or -1 (recorded). */
static int write_probe(struct db *db)
{
    sqlite3_stmt *st = db_stmt(db, DB_MAX_STMTS - 2,
        "INSERT INTO health(id, checked) VALUES (1, ?1)"
        " ON CONFLICT(id) DO UPDATE SET checked = excluded.checked");
    if (!st || sqlite3_bind_int64(st, 1, clock_wall())) return -1;
    if (db_begin(db) < 0) return -1;
    if (db_step_done(db, st) < 0) {
        db_rollback(db);
        return -1;
    }
    return db_commit(db);
}

int db_write_check(struct db *db, struct db_write_error *last)
{
    int64_t now = clock_mono();
    pthread_mutex_lock(&writes.lock);
    int failed = writes.error_mono && now - writes.error_mono < DB_WRITE_FRESH;
    int worked = writes.ok_mono && now - writes.ok_mono < DB_WRITE_FRESH
                 && writes.ok_mono >= writes.error_mono;
    pthread_mutex_unlock(&writes.lock);
    int rc = failed ? -1 : worked ? 0 : write_probe(db);
    pthread_mutex_lock(&writes.lock);
    *last = writes.last;
    pthread_mutex_unlock(&writes.lock);
    return rc;
}
