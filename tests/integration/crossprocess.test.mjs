// crossprocess.test.mjs: a message written by another process (here the
// sqlite3 CLI, as an operator would) still reaches a held poll.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { joinPair, startHeldPoll, startServer, within } from './harness.mjs';

/** Insert a message row by hand; returns its seq. */
function insert(srv, peer, type, dataJson) {
  const rows = srv.sql(`INSERT INTO messages(peer_id, type, data, created)
    VALUES ('${peer}', '${type}', '${dataJson}', CAST(strftime('%s', 'now') AS INTEGER)) RETURNING seq`);
  return rows[0].seq;
}

describe('messages written by another process (poll_timeout 20)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '20', TUTURU_PEER_GRACE: '60' } });
  });
  after(() => srv?.stop());

  it('a held poll returns promptly when the sqlite3 CLI inserts its message', async () => {
    const { b } = await joinPair(srv);
    const held = await startHeldPoll(srv, b, 0);
    const seq = insert(srv, b.peer, 'offer', '{"sdp":"by hand"}');
    const r = await within(held.answer, 5000, 'the held poll after an INSERT by the sqlite3 CLI');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { messages: [{ seq, type: 'offer', data: { sdp: 'by hand' } }] });
  });

  it('a held poll with a cursor returns promptly for a row inserted by hand after API messages', async () => {
    const { a, b } = await joinPair(srv);
    const s = await srv.send(a.token, 'offer', 1);
    assert.equal((await srv.poll(b.token, 0)).json.messages.length, 1);
    const held = await startHeldPoll(srv, b, s.json.seq);
    const seq = insert(srv, b.peer, 'candidate', '{"c":2}');
    const r = await within(held.answer, 5000, 'the held poll after an INSERT by the sqlite3 CLI');
    assert.deepEqual(r.json, { messages: [{ seq, type: 'candidate', data: { c: 2 } }] });
  });

  it('rows written by hand and by the API arrive together in seq order', async () => {
    const { a, b } = await joinPair(srv);
    const s1 = (await srv.send(a.token, 'one', 1)).json.seq;
    const s2 = insert(srv, b.peer, 'two', '2');
    const s3 = (await srv.send(a.token, 'three', 3)).json.seq;
    const r = await srv.poll(b.token, 0);
    assert.deepEqual(r.json.messages, [
      { seq: s1, type: 'one', data: 1 }, { seq: s2, type: 'two', data: 2 }, { seq: s3, type: 'three', data: 3 }]);
  });
});
