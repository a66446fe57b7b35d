// database.test.mjs: the SQLite file seen from outside, with the sqlite3 CLI.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, joinPair, pollUntil, startServer, waitFor } from './harness.mjs';

const count = (srv, query) => srv.sql(query)[0].n;

describe('database', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '2', TUTURU_PEER_GRACE: '30' } });
  });
  after(() => srv?.stop());

  it('GET /api/health answers 200 {"status":"ok","db":"ok"} as JSON, not cached', async () => {
    const r = await srv.request('GET', '/api/health');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.db, 'ok');
  });

  it('journal_mode is wal', () => {
    assert.deepEqual(srv.sql('PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
  });

  it('no PIN or token appears in clear in the database, its WAL or its tables', async () => {
    // A PIN that is not a run of one digit, so it cannot turn up by chance in hex.
    let pin;
    do pin = freshPin(); while (/(\d)\1\1/.test(pin));
    const { a, b } = await joinPair(srv, pin);
    assert.equal((await srv.send(a.token, 'offer', { sdp: 'x' })).status, 202);
    assert.equal((await srv.poll(b.token, 0)).status, 200);
    const secrets = { pin, 'token a': a.token, 'token b': b.token };
    const files = fs.readdirSync(srv.state).filter((f) => f.startsWith('tuturu.db'));
    assert.ok(files.includes('tuturu.db'), `files ${files}`);
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(srv.state, f));
      for (const [name, value] of Object.entries(secrets)) {
        assert.equal(bytes.indexOf(value), -1, `${name} found in ${f}`);
      }
    }
    const dump = JSON.stringify(srv.snapshot());
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!dump.includes(value), `${name} found in the tables`);
    }
  });

  it('after both peers leave, their room, peers and messages are gone', async () => {
    const { a, b } = await joinPair(srv);
    assert.equal((await srv.send(a.token, 'offer', 1)).status, 202);
    assert.equal((await srv.send(b.token, 'answer', 2)).status, 202);
    const room = srv.sql(`SELECT room_id FROM peers WHERE id = '${a.peer}'`)[0].room_id;
    const ids = `('${a.peer}', '${b.peer}')`;
    assert.equal(count(srv, `SELECT count(*) AS n FROM messages WHERE peer_id IN ${ids}`) >= 2, true);
    assert.equal((await srv.leave(a.token)).status, 204);
    assert.equal((await srv.leave(b.token)).status, 204);
    assert.equal(count(srv, `SELECT count(*) AS n FROM rooms WHERE id = ${room}`), 0);
    assert.equal(count(srv, `SELECT count(*) AS n FROM peers WHERE id IN ${ids} OR room_id = ${room}`), 0);
    assert.equal(count(srv, `SELECT count(*) AS n FROM messages WHERE peer_id IN ${ids}`), 0);
  });
});

describe('database expiry (poll_timeout 1, peer_grace 3, message_ttl 2, join_window 1)', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: {
        TUTURU_POLL_TIMEOUT: '1', TUTURU_PEER_GRACE: '3', TUTURU_MESSAGE_TTL: '2', TUTURU_JOIN_WINDOW: '1',
      },
    });
  });
  after(() => srv?.stop());

  it('a peer that stops polling is removed and the other, still polling, gets peer-left', async () => {
    const { a, b } = await joinPair(srv);
    const { messages } = await pollUntil(srv, a.token, 'peer-left', { timeoutMs: 15000 });
    assert.deepEqual(messages.map((m) => m.type), ['peer-joined', 'peer-left']);
    assertError(await srv.poll(b.token, 0), 401, 'unauthorized');
    assert.equal(count(srv, `SELECT count(*) AS n FROM peers WHERE id = '${b.peer}'`), 0);
    assert.equal(count(srv, `SELECT count(*) AS n FROM peers WHERE id = '${a.peer}'`), 1);
  });

  it('when neither peer polls, the room, peers and messages go without any request', async () => {
    const { a, b } = await joinPair(srv);
    assert.equal((await srv.send(a.token, 'offer', 1)).status, 202);
    const room = srv.sql(`SELECT room_id FROM peers WHERE id = '${a.peer}'`)[0].room_id;
    const ids = `('${a.peer}', '${b.peer}')`;
    await waitFor(() =>
      count(srv, `SELECT (SELECT count(*) FROM rooms WHERE id = ${room})
        + (SELECT count(*) FROM peers WHERE id IN ${ids} OR room_id = ${room})
        + (SELECT count(*) FROM messages WHERE peer_id IN ${ids}) AS n`) === 0,
    15000, 'the rows of an abandoned room to expire', 200);
    assertError(await srv.poll(a.token, 0), 401, 'unauthorized');
  });

  it('an undelivered message older than message_ttl is deleted while its peer keeps polling', async () => {
    const { a, b } = await joinPair(srv);
    const s = await srv.send(a.token, 'offer', 1);
    assert.equal(s.status, 202);
    // b keeps polling from 0 (never acknowledging) until the message is gone
    await waitFor(async () => {
      const r = await srv.poll(b.token, 0);
      assert.equal(r.status, 200, r.text);
      return !r.json.messages.some((m) => m.seq === s.json.seq);
    }, 15000, 'the message to expire', 100);
    assert.equal(count(srv, `SELECT count(*) AS n FROM messages WHERE seq = ${s.json.seq}`), 0);
  });

  it('join_rate rows of past windows are deleted', async () => {
    assert.equal((await srv.join(freshPin())).status, 200);
    assert.ok(count(srv, 'SELECT count(*) AS n FROM join_rate') >= 1);
    await waitFor(() => count(srv, 'SELECT count(*) AS n FROM join_rate') === 0,
      10000, 'join_rate rows to expire', 200);
  });
});
