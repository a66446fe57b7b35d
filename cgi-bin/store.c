/* store.c: SQL for rooms, peers, messages and join rates (design: db.c). */
#include "store.h"

#include "clock.h"

#include <stdio.h>
#include <string.h>

enum {
    S_RATE_HIT, S_RATE_GET, S_ROOM_FIND, S_ROOM_ADD, S_ROOM_PEERS, S_PEER_ADD,
    S_MSG_ADD, S_AUTH, S_OTHER, S_TOUCH, S_ACK, S_FETCH, S_PEER_ROOM, S_PEER_DEL,
    S_PEER_MSGS_DEL, S_ROOM_DEL_EMPTY, S_STALE, S_MSG_EXPIRE, S_RATE_EXPIRE,
    S_MAX_SEQ, S_NEW, S_QUEUE,
};

#define FETCH_MAX_BYTES (1024 * 1024)

static const char *text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

/* Insert a message; *seq gets its number. */
static enum store_rc add_message(struct db *db, const char *to, const char *type,
                                 const char *data, int64_t now, long long *seq)
{
    sqlite3_stmt *st = db_stmt(db, S_MSG_ADD,
        "INSERT INTO messages(peer_id, type, data, created) VALUES (?1, ?2, ?3, ?4)");
    if (!st || sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC)
        || sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC)
        || sqlite3_bind_text(st, 3, data, -1, SQLITE_STATIC)
        || sqlite3_bind_int64(st, 4, now) || db_step_done(db, st) < 0)
        return STORE_ERR;
    if (seq) *seq = sqlite3_last_insert_rowid(db->h);
    return STORE_OK;
}

/* The other peer of peer_id's room: STORE_OK (other filled), STORE_NO_PEER. */
static enum store_rc other_peer(struct db *db, const char *peer_id, char other[STORE_PEER_HEX])
{
    sqlite3_stmt *st = db_stmt(db, S_OTHER,
        "SELECT o.id FROM peers p JOIN peers o ON o.room_id = p.room_id AND o.id <> p.id"
        " WHERE p.id = ?1");
    if (!st || sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC)) return STORE_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(other, STORE_PEER_HEX, "%s", text(st, 0));
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    if (rc == SQLITE_DONE) return STORE_NO_PEER;
    db_log(db, "other peer");
    return STORE_ERR;
}

static enum store_rc finish(struct db *db, enum store_rc rc)
{
    if (rc == STORE_ERR) {
        db_rollback(db);
        return rc;
    }
    return db_commit(db) == 0 ? rc : STORE_ERR;
}

enum store_rc store_rate_hit(struct db *db, const char *addr_hash, int64_t now,
                             int limit, int window, int *retry_after)
{
    int64_t w = now / window;
    sqlite3_stmt *st = db_stmt(db, S_RATE_HIT,
        "INSERT INTO join_rate(addr_hash, window, count) VALUES (?1, ?2, 1)"
        " ON CONFLICT(addr_hash, window) DO UPDATE SET count = count + 1"
        " RETURNING count");
    if (!st || sqlite3_bind_text(st, 1, addr_hash, -1, SQLITE_STATIC)
        || sqlite3_bind_int64(st, 2, w))
        return STORE_ERR;
    if (db_begin(db) < 0) return STORE_ERR;
    int rc = sqlite3_step(st);
    long long count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        db_log(db, "rate");
        return finish(db, STORE_ERR);
    }
    *retry_after = (int)((w + 1) * window - now);
    return finish(db, count > limit ? STORE_LIMITED : STORE_OK);
}

/* The room of pin_hash, created if missing. */
static enum store_rc room_get(struct db *db, const char *pin_hash, int64_t now, long long *room)
{
    sqlite3_stmt *st = db_stmt(db, S_ROOM_FIND, "SELECT id FROM rooms WHERE pin_hash = ?1");
    if (!st || sqlite3_bind_text(st, 1, pin_hash, -1, SQLITE_STATIC)) return STORE_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *room = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    if (rc != SQLITE_DONE) return STORE_ERR;
    st = db_stmt(db, S_ROOM_ADD, "INSERT INTO rooms(pin_hash, created) VALUES (?1, ?2)");
    if (!st || sqlite3_bind_text(st, 1, pin_hash, -1, SQLITE_STATIC)
        || sqlite3_bind_int64(st, 2, now) || db_step_done(db, st) < 0)
        return STORE_ERR;
    *room = sqlite3_last_insert_rowid(db->h);
    return STORE_OK;
}

/* How many peers the room has, and the polite flag and id of one of them. */
static enum store_rc room_peers(struct db *db, long long room, int *n, int *polite,
                                char other[STORE_PEER_HEX])
{
    sqlite3_stmt *st = db_stmt(db, S_ROOM_PEERS, "SELECT id, polite FROM peers WHERE room_id = ?1");
    if (!st || sqlite3_bind_int64(st, 1, room)) return STORE_ERR;
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        (*n)++;
        *polite = sqlite3_column_int(st, 1);
        snprintf(other, STORE_PEER_HEX, "%s", text(st, 0));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

enum store_rc store_join(struct db *db, const char *pin_hash, const char *peer_id,
                         const char *token_hash, int64_t now, int *polite, int *peers)
{
    long long room;
    int n = 0, other_polite = 1;
    char other[STORE_PEER_HEX] = "";
    if (db_begin(db) < 0) return STORE_ERR;
    if (room_get(db, pin_hash, now, &room) || room_peers(db, room, &n, &other_polite, other))
        return finish(db, STORE_ERR);
    if (n >= 2) {
        db_rollback(db);
        return STORE_FULL;
    }
    /* Invariant 2: the newcomer takes the opposite of whoever is there. */
    *polite = n == 0 ? 0 : !other_polite;
    *peers = n + 1;
    sqlite3_stmt *st = db_stmt(db, S_PEER_ADD,
        "INSERT INTO peers(id, room_id, token_hash, polite, joined, last_seen, seen_mono)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)");
    if (!st || sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC)
        || sqlite3_bind_int64(st, 2, room) || sqlite3_bind_text(st, 3, token_hash, -1, SQLITE_STATIC)
        || sqlite3_bind_int(st, 4, *polite) || sqlite3_bind_int64(st, 5, now)
        || sqlite3_bind_int64(st, 6, clock_mono()) || db_step_done(db, st) < 0)
        return finish(db, STORE_ERR);
    if (n == 1 && add_message(db, other, "peer-joined", "null", now, NULL))
        return finish(db, STORE_ERR);
    return finish(db, STORE_OK);
}

enum store_rc store_auth(struct db *db, const char *token_hash, char peer_id[STORE_PEER_HEX])
{
    sqlite3_stmt *st = db_stmt(db, S_AUTH, "SELECT id FROM peers WHERE token_hash = ?1");
    if (!st || sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC)) return STORE_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(peer_id, STORE_PEER_HEX, "%s", text(st, 0));
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    if (rc == SQLITE_DONE) return STORE_UNKNOWN;
    db_log(db, "auth");
    return STORE_ERR;
}

/* STORE_QUEUE_FULL when one more message of len bytes for peer `to` would
 * pass cap; reads the counters the schema's triggers keep, not the queue. */
static enum store_rc queue_check(struct db *db, const char *to, size_t n, size_t len,
                                 const struct store_cap *cap)
{
    sqlite3_stmt *st = db_stmt(db, S_QUEUE, "SELECT count, bytes FROM queues WHERE peer_id = ?1");
    if (!st || sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC)) return STORE_ERR;
    int rc = sqlite3_step(st);
    long long count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    long long bytes = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_log(db, "queue");
        return STORE_ERR;
    }
    if (count + (long long)n > cap->max_messages || bytes + (long long)len > cap->max_bytes)
        return STORE_QUEUE_FULL;
    return STORE_OK;
}

enum store_rc store_send_batch(struct db *db, const char *peer_id, const struct store_msg *msgs,
                               size_t n, int64_t now, const struct store_cap *cap, long long *seqs)
{
    char other[STORE_PEER_HEX];
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(msgs[i].data);
    if (db_begin(db) < 0) return STORE_ERR;
    enum store_rc rc = other_peer(db, peer_id, other);
    if (rc == STORE_OK && cap) rc = queue_check(db, other, n, bytes, cap);
    for (size_t i = 0; rc == STORE_OK && i < n; i++)
        rc = add_message(db, other, msgs[i].type, msgs[i].data, now, seqs ? &seqs[i] : NULL);
    return finish(db, rc); /* no peer, queue full: nothing was written; a failure rolls back all */
}

enum store_rc store_send_capped(struct db *db, const char *peer_id, const char *type,
                                const char *data, int64_t now, const struct store_cap *cap,
                                long long *seq)
{
    const struct store_msg m = {type, data};
    return store_send_batch(db, peer_id, &m, 1, now, cap, seq);
}

enum store_rc store_send(struct db *db, const char *peer_id, const char *type,
                         const char *data, int64_t now, long long *seq)
{
    return store_send_capped(db, peer_id, type, data, now, NULL, seq);
}

enum store_rc store_beats(struct db *db, const struct store_beat *beats, size_t n)
{
    sqlite3_stmt *touch = db_stmt(db, S_TOUCH,
        "UPDATE peers SET last_seen = ?2, seen_mono = ?3 WHERE id = ?1 AND seen_mono <= ?3");
    sqlite3_stmt *ack = db_stmt(db, S_ACK, "DELETE FROM messages WHERE peer_id = ?1 AND seq <= ?2");
    if (!touch || !ack || db_begin(db) < 0) return STORE_ERR;
    for (size_t i = 0; i < n; i++) {
        const struct store_beat *b = &beats[i];
        if (sqlite3_bind_text(touch, 1, b->peer, -1, SQLITE_STATIC)
            || sqlite3_bind_int64(touch, 2, b->when) || sqlite3_bind_int64(touch, 3, b->mono)
            || db_step_done(db, touch) < 0
            || sqlite3_bind_text(ack, 1, b->peer, -1, SQLITE_STATIC)
            || sqlite3_bind_int64(ack, 2, b->after) || db_step_done(db, ack) < 0)
            return finish(db, STORE_ERR);
    }
    return finish(db, STORE_OK);
}

enum store_rc store_fetch(struct db *db, const char *peer_id, long long after,
                          struct buf *out, int *count)
{
    sqlite3_stmt *st = db_stmt(db, S_FETCH,
        /* Rows written by the API hold a checked type and jansson's JSON;
         * quoting and checking again here keeps the reply valid JSON even
         * for a row an operator wrote by hand. */
        "SELECT seq, json_quote(type),"
        " CASE WHEN json_valid(data) THEN data ELSE json_quote(data) END"
        " FROM messages WHERE peer_id = ?1 AND seq > ?2 ORDER BY seq");
    if (!st || sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC)
        || sqlite3_bind_int64(st, 2, after))
        return STORE_ERR;
    int rc = SQLITE_DONE;
    *count = 0;
    buf_puts(out, "{\"messages\":[");
    while (out->len < FETCH_MAX_BYTES && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        buf_printf(out, "%s{\"seq\":%lld,\"type\":%s,\"data\":%s}", *count ? "," : "",
                   (long long)sqlite3_column_int64(st, 0), text(st, 1), text(st, 2));
        (*count)++;
    }
    if (out->len >= FETCH_MAX_BYTES) rc = SQLITE_DONE;
    sqlite3_reset(st);
    buf_puts(out, "]}");
    if (rc != SQLITE_DONE) db_log(db, "fetch");
    return rc == SQLITE_DONE && !out->failed ? STORE_OK : STORE_ERR;
}

/* Within a transaction: remove one peer as invariant 1 asks. */
static enum store_rc remove_peer(struct db *db, const char *peer_id, int64_t now)
{
    char other[STORE_PEER_HEX];
    enum store_rc rc = other_peer(db, peer_id, other);
    if (rc == STORE_ERR) return rc;
    if (rc == STORE_OK && add_message(db, other, "peer-left", "null", now, NULL)) return STORE_ERR;
    sqlite3_stmt *room = db_stmt(db, S_PEER_ROOM, "SELECT room_id FROM peers WHERE id = ?1");
    if (!room || sqlite3_bind_text(room, 1, peer_id, -1, SQLITE_STATIC)) return STORE_ERR;
    int step = sqlite3_step(room);
    long long room_id = step == SQLITE_ROW ? sqlite3_column_int64(room, 0) : -1;
    sqlite3_reset(room);
    if (step == SQLITE_DONE) return STORE_UNKNOWN;
    if (step != SQLITE_ROW) return STORE_ERR;
    sqlite3_stmt *del = db_stmt(db, S_PEER_DEL, "DELETE FROM peers WHERE id = ?1");
    sqlite3_stmt *msgs = db_stmt(db, S_PEER_MSGS_DEL, "DELETE FROM messages WHERE peer_id = ?1");
    sqlite3_stmt *empty = db_stmt(db, S_ROOM_DEL_EMPTY,
        "DELETE FROM rooms WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM peers WHERE room_id = ?1)");
    if (!del || !msgs || !empty || sqlite3_bind_text(del, 1, peer_id, -1, SQLITE_STATIC)
        || sqlite3_bind_text(msgs, 1, peer_id, -1, SQLITE_STATIC)
        || sqlite3_bind_int64(empty, 1, room_id) || db_step_done(db, del) < 0
        || db_step_done(db, msgs) < 0 || db_step_done(db, empty) < 0)
        return STORE_ERR;
    return STORE_OK;
}

enum store_rc store_leave(struct db *db, const char *peer_id, int64_t now)
{
    if (db_begin(db) < 0) return STORE_ERR;
    return finish(db, remove_peer(db, peer_id, now));
}

/* Collect up to n stale peer ids (silent since before cutoff, monotonic). */
static int stale_peers(struct db *db, int64_t cutoff, char ids[][STORE_PEER_HEX], int n)
{
    sqlite3_stmt *st = db_stmt(db, S_STALE, "SELECT id FROM peers WHERE seen_mono < ?1 LIMIT ?2");
    if (!st || sqlite3_bind_int64(st, 1, cutoff) || sqlite3_bind_int(st, 2, n)) return -1;
    int k = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < n)
        snprintf(ids[k++], STORE_PEER_HEX, "%s", text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? k : -1;
}

enum store_rc store_cleanup(struct db *db, int64_t now, int peer_grace, int message_ttl,
                            int join_window, int *removed)
{
    char ids[64][STORE_PEER_HEX];
    *removed = 0;
    if (db_begin(db) < 0) return STORE_ERR;
    int n = stale_peers(db, clock_mono() - peer_grace, ids, 64);
    if (n < 0) return finish(db, STORE_ERR);
    for (int i = 0; i < n; i++) {
        enum store_rc rc = remove_peer(db, ids[i], now);
        if (rc == STORE_ERR) return finish(db, rc);
        if (rc == STORE_OK) (*removed)++;
    }
    sqlite3_stmt *msgs = db_stmt(db, S_MSG_EXPIRE, "DELETE FROM messages WHERE created < ?1");
    sqlite3_stmt *rate = db_stmt(db, S_RATE_EXPIRE, "DELETE FROM join_rate WHERE window < ?1");
    if (!msgs || !rate || sqlite3_bind_int64(msgs, 1, now - message_ttl)
        || sqlite3_bind_int64(rate, 1, now / join_window) || db_step_done(db, msgs) < 0
        || db_step_done(db, rate) < 0)
        return finish(db, STORE_ERR);
    return finish(db, STORE_OK);
}

enum store_rc store_max_seq(struct db *db, long long *seq)
{
    sqlite3_stmt *st = db_stmt(db, S_MAX_SEQ,
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)");
    if (!st) return STORE_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_ERR;
}

enum store_rc store_each_new(struct db *db, long long after,
                             void (*fn)(const char *peer_id, long long seq, void *arg), void *arg)
{
    sqlite3_stmt *st = db_stmt(db, S_NEW, "SELECT peer_id, seq FROM messages WHERE seq > ?1 ORDER BY seq");
    if (!st || sqlite3_bind_int64(st, 1, after)) return STORE_ERR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) fn(text(st, 0), sqlite3_column_int64(st, 1), arg);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}
