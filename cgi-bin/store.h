/* store.h: the data operations behind the API, each one transaction.
 * Hashing happens before: these take pin/token/address hashes only. */
#ifndef TUTURU_STORE_H
#define TUTURU_STORE_H

#include "buf.h"
#include "db.h"

#include <stdint.h>

enum store_rc {
    STORE_OK = 0,
    STORE_ERR = -1,      /* database failure, logged */
    STORE_FULL = 1,      /* join: two peers already there */
    STORE_NO_PEER = 2,   /* send: alone in the room */
    STORE_LIMITED = 3,   /* join: rate limit reached */
    STORE_UNKNOWN = 4,   /* auth: no such token */
    STORE_QUEUE_FULL = 5, /* send: the recipient's queue is at its cap */
};

#define STORE_PEER_HEX 17   /* 16 hex + NUL */

/* Count one join attempt from addr_hash in the current window. STORE_LIMITED
 * (and *retry_after, seconds) when it is past limit. */
enum store_rc store_rate_hit(struct db *db, const char *addr_hash, int64_t now,
                             int limit, int window, int *retry_after);

/* Add peer (id, token_hash) to the room of pin_hash, creating it; now (wall)
 * is its joined and last_seen, clock_mono() its seen_mono. Sets *polite and
 * *peers (1 or 2). STORE_FULL changes nothing. */
enum store_rc store_join(struct db *db, const char *pin_hash, const char *peer_id,
                         const char *token_hash, int64_t now, int *polite, int *peers);

/* Find the peer of token_hash: STORE_OK with peer_id filled, or STORE_UNKNOWN. */
enum store_rc store_auth(struct db *db, const char *token_hash, char peer_id[STORE_PEER_HEX]);

/* Bounds on one recipient's undelivered messages. */
struct store_cap {
    long long max_messages;
    long long max_bytes;  /* of data, as stored */
};

/* Queue a message from peer_id to the other peer of its room. data is JSON
 * text. STORE_NO_PEER when alone. STORE_QUEUE_FULL when the other peer's
 * queue with this message would hold more than cap allows (cap NULL: no
 * bound); both change nothing. Sets *seq. Cost does not grow with the
 * queue: the count and bytes come from the queues table. */
enum store_rc store_send_capped(struct db *db, const char *peer_id, const char *type,
                                const char *data, int64_t now, const struct store_cap *cap,
                                long long *seq);

/* One message of a batch: its type and its data as JSON text. */
struct store_msg {
    const char *type;
    const char *data;
};

/* Queue n messages at once, in order, as store_send_capped does one: all of
 * them or (no peer, queue full with all n, a failure) none. Sets seqs[i]
 * (seqs may be NULL). */
enum store_rc store_send_batch(struct db *db, const char *peer_id, const struct store_msg *msgs,
                               size_t n, int64_t now, const struct store_cap *cap, long long *seqs);

/* store_send_capped without a bound. */
enum store_rc store_send(struct db *db, const char *peer_id, const char *type,
                         const char *data, int64_t now, long long *seq);

/* The heartbeat and acknowledgement of a poll. */
struct store_beat {
    char peer[STORE_PEER_HEX];
    long long after;  /* the client has every message up to this seq */
    int64_t when;     /* when it polled: wall clock, for people */
    int64_t mono;     /* the same on the monotonic clock (clock.h) */
};

/* In one transaction, for each beat: last_seen = when and seen_mono = mono
 * unless seen_mono is already later, and delete the peer's messages with
 * seq <= after. Peers that are gone are skipped. */
enum store_rc store_beats(struct db *db, const struct store_beat *beats, size_t n);

/* Append the peer's messages with seq > after to out as the JSON reply
 * {"messages":[...]} (at most about 1 MiB: the client polls again for the
 * rest). Sets *count. Reads only, without a transaction. */
enum store_rc store_fetch(struct db *db, const char *peer_id, long long after,
                          struct buf *out, int *count);

/* Remove peer_id: its messages, peer-left for the other peer, the room if
 * empty. STORE_UNKNOWN when it is already gone. */
enum store_rc store_leave(struct db *db, const char *peer_id, int64_t now);

/* TTL cleanup: peers silent for peer_grace seconds of monotonic time
 * (seen_mono < clock_mono() - peer_grace, design in db.c) leave; messages
 * older than message_ttl and past join windows go (wall time: now). Sets
 * *removed to the number of peers removed. */
enum store_rc store_cleanup(struct db *db, int64_t now, int peer_grace, int message_ttl,
                            int join_window, int *removed);

/* The highest message seq ever assigned (0 if none). */
enum store_rc store_max_seq(struct db *db, long long *seq);

/* Call fn(peer_id, seq, arg) for each message with seq > after, in order. */
enum store_rc store_each_new(struct db *db, long long after,
                             void (*fn)(const char *peer_id, long long seq, void *arg), void *arg);

#endif
