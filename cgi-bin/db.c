/* db.c: SQLite connections and transactions.
 *
 * Design
 * ------
 * All state lives in one SQLite file in WAL mode (schema: sql/schema.sql):
 * rooms, peers, messages and join_rate rows. Every thread of every FastCGI
 * process has its own connection; so may an operator's sqlite3 shell.
 *
 * Who writes what:
 *   join    inserts a room (if new), a peer, and a peer-joined message for
 *           the peer already there.
 *   send    inserts one message for the other peer of the sender's room.
 *   poll    moves the poller's last_seen and deletes its messages with
 *           seq <= after (the client has them).
 *   leave   deletes the peer and its messages, inserts peer-left for the
 *           other peer, deletes the room when it is empty.
 *   cleanup (a timer thread, no request needed) does what leave does for
 *           every peer silent for peer_grace seconds, deletes messages older
 *           than message_ttl and join_rate rows of past windows.
 *
 * Invariants:
 *   1. A room has at most 2 peers; a room with none is deleted in the same
 *      transaction that removed its last peer.
 *   2. Two peers of a room have different polite flags.
 *   3. messages.seq only grows (AUTOINCREMENT): a cursor never goes back.
 *   4. Neither a PIN nor a token is stored: only keyed/unkeyed hashes.
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
 */
#include "db.h"

#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char tuturu_schema_sql[]; /* build/schema.c, from sql/schema.sql */

#define BUSY_TIMEOUT_MS 5000
#define BEGIN_TRIES 5

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

void db_log(struct db *db, const char *what)
{
    log_msg("sqlite: %s: %s", what, db && db->h ? sqlite3_errmsg(db->h) : "no connection");
}

static int exec(struct db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db->h));
    sqlite3_free(msg);
    return -1;
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
    if (migrate && exec(db, tuturu_schema_sql, why, sizeof why) < 0) goto fail;
    /* Prove we can write: an unwritable database must fail at start. */
    if (migrate && exec(db, "BEGIN IMMEDIATE; COMMIT;", why, sizeof why) < 0) goto fail;
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
            return 0;
        }
        if (rc != SQLITE_BUSY) break;
    }
    pthread_mutex_unlock(&write_lock);
    db_log(db, "begin");
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
