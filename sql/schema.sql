-- tuturu schema. Applied by the FastCGI program at start (idempotent);
-- columns added later are added to existing databases by db.c (migrate).
-- Design, who writes what, and the invariants: cgi-bin/db.c.

-- A room is a hashed PIN with at most two peers in it.
CREATE TABLE IF NOT EXISTS rooms (
    id       INTEGER PRIMARY KEY,
    pin_hash TEXT NOT NULL UNIQUE,      -- HMAC-SHA256(secret, "pin:" || pin)
    created  INTEGER NOT NULL           -- unix seconds
);

CREATE TABLE IF NOT EXISTS peers (
    id         TEXT PRIMARY KEY,        -- public random id (16 hex)
    room_id    INTEGER NOT NULL REFERENCES rooms(id),
    token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the bearer token
    polite     INTEGER NOT NULL CHECK (polite IN (0, 1)),
    joined     INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,        -- last poll (the heartbeat), unix seconds: for people
    seen_mono  INTEGER NOT NULL DEFAULT 0 -- the same, CLOCK_MONOTONIC seconds: staleness (db.c)
);
CREATE INDEX IF NOT EXISTS peers_room ON peers(room_id);

-- Messages waiting for their recipient. seq is global and never reused
-- (AUTOINCREMENT), so a recipient's cursor only moves forward.
CREATE TABLE IF NOT EXISTS messages (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_id TEXT NOT NULL,              -- recipient
    type    TEXT NOT NULL,
    data    TEXT NOT NULL,              -- JSON text, validated on the way in
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_peer ON messages(peer_id, seq);

-- The once-a-second cleanup scans peers (small: peers in calls) rather than
-- keep an index on last_seen that every heartbeat would have to update.
DROP INDEX IF EXISTS peers_last_seen;
-- Messages it finds by this index: created comes after data in the row, so a
-- scan reads every queued body (26 MB queued: 41-54 ms each second under the
-- write lock; with the index about 20 us: bench/cleanup, docs/bench.md).
CREATE INDEX IF NOT EXISTS messages_created ON messages(created);

-- Per recipient: how many messages wait and their bytes (of data), so that
-- send can refuse past queue_max_messages / queue_max_bytes without reading
-- the queue. Kept by triggers, so every path that adds or deletes messages
-- (send, join, leave, acknowledgements, cleanup, a shell) keeps them true.
CREATE TABLE IF NOT EXISTS queues (
    peer_id TEXT PRIMARY KEY,           -- recipient
    count   INTEGER NOT NULL,
    bytes   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS messages_queue_add AFTER INSERT ON messages BEGIN
    INSERT INTO queues(peer_id, count, bytes)
        VALUES (new.peer_id, 1, length(CAST(new.data AS BLOB)))
        ON CONFLICT(peer_id) DO UPDATE SET count = count + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS messages_queue_del AFTER DELETE ON messages BEGIN
    UPDATE queues SET count = count - 1, bytes = bytes - length(CAST(old.data AS BLOB))
        WHERE peer_id = old.peer_id;
    DELETE FROM queues WHERE peer_id = old.peer_id AND count <= 0;
END;
-- Counted afresh at every start: a database from before the counters, or
-- messages edited by hand (no trigger follows an UPDATE), come out right.
-- (db.c applies this whole file in one BEGIN IMMEDIATE transaction.)
DELETE FROM queues;
INSERT INTO queues(peer_id, count, bytes)
    SELECT peer_id, count(*), sum(length(CAST(data AS BLOB))) FROM messages GROUP BY peer_id;

-- Join attempts per client address and time window.
CREATE TABLE IF NOT EXISTS join_rate (
    addr_hash TEXT NOT NULL,            -- HMAC-SHA256(secret, "addr:" || address)
    window    INTEGER NOT NULL,         -- unix seconds / join_window
    count     INTEGER NOT NULL,
    PRIMARY KEY (addr_hash, window)
) WITHOUT ROWID;

-- One row, rewritten by GET /api/health when it has to prove that a write can
-- happen (no successful write in the last seconds; see cgi-bin/db.c).
CREATE TABLE IF NOT EXISTS health (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    checked INTEGER NOT NULL            -- unix seconds of the last probe
);
