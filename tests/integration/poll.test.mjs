// poll.test.mjs: GET /api/poll, the cursor and the held request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { freshPin, joinPair, startHeldPoll, startServer, waitFor, within } from './harness.mjs';

describe('GET /api/poll cursor (poll_timeout 2)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '2', TUTURU_PEER_GRACE: '30' } });
  });
  after(() => srv?.stop());

  async function sendAll(token, n) {
    const seqs = [];
    for (let i = 0; i < n; i++) {
      const r = await srv.send(token, 'm', { i });
      assert.equal(r.status, 202, r.text);
      seqs.push(r.json.seq);
    }
    return seqs;
  }

  it('returns only messages with seq > after', async () => {
    const { a, b } = await joinPair(srv);
    const seqs = await sendAll(a.token, 3);
    const r = await srv.poll(b.token, seqs[0]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.messages.map((m) => m.seq), seqs.slice(1));
  });

  it('a missing after means 0', async () => {
    const { a, b } = await joinPair(srv);
    const seqs = await sendAll(a.token, 2);
    const r = await srv.poll(b.token, undefined);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.messages.map((m) => m.seq), seqs);
  });

  it('the answer is {"messages":[{seq,type,data}]} as JSON', async () => {
    const { a, b } = await joinPair(srv);
    const [seq] = await sendAll(a.token, 1);
    const r = await srv.poll(b.token, 0);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(r.json, { messages: [{ seq, type: 'm', data: { i: 0 } }] });
  });

  it('re-polling with the same cursor gives the same messages: nothing lost', async () => {
    const { a, b } = await joinPair(srv);
    const seqs = await sendAll(a.token, 4);
    const first = await srv.poll(b.token, seqs[1]);
    const again = await srv.poll(b.token, seqs[1]);
    assert.deepEqual(first.json, again.json);
    assert.deepEqual(again.json.messages.map((m) => m.seq), seqs.slice(2));
  });

  it('a client following its cursor sees every message exactly once', async () => {
    const { a, b } = await joinPair(srv);
    const seqs = [...await sendAll(a.token, 3)];
    let cursor = 0;
    const seen = [];
    const r1 = await srv.poll(b.token, cursor);
    for (const m of r1.json.messages) { seen.push(m.seq); cursor = m.seq; }
    seqs.push(...await sendAll(a.token, 3));
    const r2 = await srv.poll(b.token, cursor);
    for (const m of r2.json.messages) { seen.push(m.seq); cursor = m.seq; }
    assert.deepEqual(seen, seqs);
  });

  it('acknowledged messages may go, later ones are kept in the database', async () => {
    const { a, b } = await joinPair(srv);
    const seqs = await sendAll(a.token, 3);
    assert.equal((await srv.poll(b.token, seqs[1])).status, 200);
    const rows = srv.sql(`SELECT seq FROM messages WHERE peer_id = '${b.peer}' AND seq > ${seqs[1]}`);
    assert.deepEqual(rows.map((x) => x.seq), [seqs[2]]);
  });

  it('seqs are at least 1', async () => {
    const { a } = await joinPair(srv);
    const r = await srv.poll(a.token, 0);
    assert.ok(r.json.messages.length >= 1);
    for (const m of r.json.messages) assert.ok(Number.isInteger(m.seq) && m.seq >= 1);
  });

  it('with nothing pending the poll is held about poll_timeout, then answers {"messages":[]}', async () => {
    const { b } = await joinPair(srv);
    const t0 = Date.now();
    const r = await within(srv.poll(b.token, 0), 8000, 'the held poll');
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { messages: [] });
    assert.ok(ms >= 1500, `answered after ${ms} ms, before the 2 s poll_timeout`);
  });

  it('a cursor beyond every message is held, then answers {"messages":[]}', async () => {
    const { a } = await joinPair(srv);
    const r = await within(srv.poll(a.token, 1e15), 8000, 'the held poll');
    assert.deepEqual(r.json, { messages: [] });
  });
});

describe('held polls (poll_timeout 20)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '20', TUTURU_PEER_GRACE: '60' } });
  });
  after(() => srv?.stop());

  it('a held poll returns as soon as a message is sent', async () => {
    const { a, b } = await joinPair(srv);
    const held = await startHeldPoll(srv, b, 0);
    const s = await srv.send(a.token, 'offer', { sdp: 'x' });
    assert.equal(s.status, 202);
    const r = await within(held.answer, 5000, 'the held poll after a send');
    assert.deepEqual(r.json, { messages: [{ seq: s.json.seq, type: 'offer', data: { sdp: 'x' } }] });
  });

  it('a held poll of the first peer returns peer-joined when the second joins', async () => {
    const pin = freshPin();
    const first = await srv.join(pin);
    assert.equal(first.status, 200, first.text);
    const held = await startHeldPoll(srv, first.json, 0);
    assert.equal((await srv.join(pin)).status, 200);
    const r = await within(held.answer, 5000, 'peer-joined');
    assert.deepEqual(r.json.messages.map((m) => m.type), ['peer-joined']);
  });

  it('a held poll with a cursor wakes only for a newer message', async () => {
    const { a, b } = await joinPair(srv);
    const s1 = await srv.send(a.token, 'one', 1);
    const held = await startHeldPoll(srv, b, s1.json.seq);
    const s2 = await srv.send(a.token, 'two', 2);
    const r = await within(held.answer, 5000, 'the held poll');
    assert.deepEqual(r.json.messages.map((m) => m.seq), [s2.json.seq]);
  });

  it('a message for another room does not answer a held poll', async () => {
    const one = await joinPair(srv);
    const two = await joinPair(srv);
    const held = await startHeldPoll(srv, two.b, 0);
    await srv.send(one.a.token, 'elsewhere', 1);
    const s = await srv.send(two.a.token, 'here', 2);
    const r = await within(held.answer, 5000, 'the held poll');
    assert.deepEqual(r.json.messages, [{ seq: s.json.seq, type: 'here', data: 2 }]);
  });

  it('a newer poll of the same peer answers the older one with {"messages":[]}', async () => {
    const { a, b } = await joinPair(srv);
    const older = await startHeldPoll(srv, b, 0);
    const newer = await startHeldPoll(srv, b, 0);
    const r = await within(older.answer, 5000, 'the older poll');
    assert.deepEqual(r.json, { messages: [] });
    const s = await srv.send(a.token, 'offer', 1);
    const n = await within(newer.answer, 5000, 'the newer poll');
    assert.deepEqual(n.json.messages.map((m) => m.seq), [s.json.seq]);
  });

  it('a client that gives up its held poll can poll again and gets the message', async () => {
    const { a, b } = await joinPair(srv);
    const ctl = new AbortController();
    const marker = Math.floor(Date.now() / 1000) - 1;
    srv.sql(`UPDATE peers SET last_seen = ${marker} WHERE id = '${b.peer}'`);
    const gone = fetch(`${srv.url}/api/poll?after=0`, {
      headers: { authorization: `Bearer ${b.token}` }, signal: ctl.signal,
    }).catch((e) => e);
    await waitFor(() => srv.sql(`SELECT last_seen FROM peers WHERE id = '${b.peer}'`)[0].last_seen !== marker,
      5000, 'the poll to reach the server');
    ctl.abort();
    assert.equal((await gone).name, 'AbortError');
    const s = await srv.send(a.token, 'offer', 1);
    const r = await within(srv.poll(b.token, 0), 5000, 'the next poll');
    assert.deepEqual(r.json.messages.map((m) => m.seq), [s.json.seq]);
  });
});
