/* db.h: SQLite connections, statements and transactions. */
#ifndef TUTURU_DB_H
#define TUTURU_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define DB_MAX_STMTS 32

/* One connection, used by one thread at a time. */
struct db {
    sqlite3 *h;
    sqlite3_stmt *stmts[DB_MAX_STMTS];
    int writing;  /* holds the process's write lock (inside db_begin..commit) */
    sqlite3_int64 changes_at_begin; /* sqlite3_total_changes64 at db_begin */
};

/* The last error inside a write transaction of this process. */
struct db_write_error {
    char message[200];   /* "commit: database or disk is full"; "" if none yet */
    int code;            /* SQLite extended result code */
    int64_t at;          /* wall clock, unix seconds (for people) */
};

/* Open path with WAL, synchronous=NORMAL and a busy timeout. With migrate,
 * also create the schema (sql/schema.sql). Returns NULL with err filled in
 * when the database cannot be opened or written. */
struct db *db_open(const char *path, int migrate, char *err, size_t errlen);

void db_close(struct db *db);

/* The statement for slot, prepared on first use from sql, reset and with no
 * bindings. Returns NULL (and logs why) when it cannot be prepared. Callers
 * must sqlite3_reset it when done, so no read snapshot outlives the call. */
sqlite3_stmt *db_stmt(struct db *db, int slot, const char *sql);

/* BEGIN IMMEDIATE: a transaction that reads then writes takes the write lock
 * first, so it never fails with SQLITE_BUSY half way (see FACTS). Threads of
 * this process queue on a mutex first: SQLite's busy handler would make them
 * sleep and poll for the lock instead. Retries while the database stays
 * locked (by another process) past the busy timeout, up to a bound.
 * Returns 0, or -1 with no transaction and no lock held. */
int db_begin(struct db *db);

/* COMMIT, or ROLLBACK if it fails. Returns 0 or -1. */
int db_commit(struct db *db);
void db_rollback(struct db *db);

/* A read transaction: the statements between see one snapshot and take the
 * WAL read lock once instead of once each. db_read_begin returns 0 or -1;
 * db_read_end never fails (a failed COMMIT is rolled back). Hold it only for
 * the span of one request: an open snapshot hides new rows. */
int db_read_begin(struct db *db);
void db_read_end(struct db *db);

/* Run a statement that returns no rows; 0 on SQLITE_DONE, else -1. Resets. */
int db_step_done(struct db *db, sqlite3_stmt *st);

/* 0 when a trivial read and the schema answer, else -1. */
int db_health(struct db *db);

/* Whether this process can write: no while a write transaction failed in
 * the last few seconds, yes while one that changed rows succeeded since
 * then, without I/O; otherwise it tries one small write transaction (the
 * health table's row).
 * Copies the last write error of the process (message "" if none) into
 * *last. Returns 0 when writable, -1 when not. Must be called outside a
 * transaction. */
int db_write_check(struct db *db, struct db_write_error *last);

/* Log an SQLite failure with context (never with bound values); inside a
 * write transaction it is also remembered as the last write error. */
void db_log(struct db *db, const char *what);

#endif
