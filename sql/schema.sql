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

-- The once-a-second cleanup scans peers and messages (both small: peers in
-- calls, messages not yet delivered) rather than keep indexes on last_seen
-- and created that every heartbeat and every message would have to update.
DROP INDEX IF EXISTS peers_last_seen;
DROP INDEX IF EXISTS messages_created;

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
