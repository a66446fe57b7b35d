// batch.test.mjs: POST /api/send {"messages":[...]} stores a batch in one
// transaction: all of it, in order, answered 202 {"seqs":[...]}, or (a bad
// element, an empty or too long list, no peer, a full queue) nothing, with a
// 400 that names the element.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, joinPair, snapshot, startServer } from './harness.mjs';

/** A 400 with {error: code, message, index}: the element that was wrong. */
function assertIndexed(r, code, index) {
  assert.equal(r.status, 400, r.text);
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  assert.deepEqual(Object.keys(r.json).sort(), ['error', 'index', 'message']);
  assert.equal(r.json.error, code);
  assert.equal(r.json.index, index);
  assert.ok(r.json.message.length > 0);
}

const batch = (srv, token, messages) => srv.request('POST', '/api/send', { token, body: { messages } });

describe('POST /api/send with a batch', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_QUEUE_MAX_MESSAGES: '70', TUTURU_POLL_TIMEOUT: '2' } });
  });
  after(() => srv?.stop());

  it('stores every message in order and answers their seqs; the other peer gets them as sent', async () => {
    const { a, b } = await joinPair(srv);
    const sent = [
      { type: 'offer', data: { type: 'offer', sdp: 'v=0 fake' } },
      { type: 'ice', data: { candidate: 'candidate:1 1 udp 1 192.0.2.1 9 typ host', n: 2 } },
      { type: 'ice', data: null },
      { type: 'bye' },
    ];
    const r = await batch(srv, a.token, sent);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.seqs.length, 4);
    assert.deepEqual([...r.json.seqs].sort((x, y) => x - y), r.json.seqs, 'seqs grow');
    const got = (await srv.poll(b.token, 0)).json.messages.filter((m) => !m.type.startsWith('peer-'));
    assert.deepEqual(got.map((m) => m.seq), r.json.seqs);
    assert.deepEqual(got.map((m) => ({ type: m.type, data: m.data })),
      sent.map((m) => ({ type: m.type, data: m.data === undefined ? null : m.data })));
  });

  it('takes 64 messages, refuses 65 (400 invalid_batch) and an empty list, storing nothing', async () => {
    const { a, b } = await joinPair(srv);
    const before = snapshot(srv.db);
    const many = (n) => Array.from({ length: n }, (_, i) => ({ type: 'ice', data: { i } }));
    assertError(await batch(srv, a.token, many(65)), 400, 'invalid_batch');
    assertError(await batch(srv, a.token, []), 400, 'invalid_batch');
    assert.deepEqual(snapshot(srv.db), before);
    const r = await batch(srv, a.token, many(64));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.seqs.length, 64);
    assert.equal((await srv.poll(b.token, 0)).json.messages.filter((m) => m.type === 'ice').length, 64);
  });

  for (const [what, messages, code, index] of [
    ['an element that is not an object', [{ type: 'ice' }, 'ice'], 'invalid_batch', 1],
    ['an element without a type', [{ type: 'ice' }, { type: 'ice' }, { data: 1 }], 'invalid_type', 2],
    ['a server type (peer-left)', [{ type: 'peer-left' }], 'invalid_type', 0],
    ['a bad type name', [{ type: 'ice' }, { type: 'Ice!' }], 'invalid_type', 1],
    ['a number as type', [{ type: 7 }], 'invalid_type', 0],
  ]) {
    it(`${what} is 400 ${code} with index ${index}, and nothing of the batch is stored`, async () => {
      const { a } = await joinPair(srv);
      const before = snapshot(srv.db);
      assertIndexed(await batch(srv, a.token, messages), code, index);
      assert.deepEqual(snapshot(srv.db), before);
    });
  }

  for (const [what, body] of [
    ['messages that is not a list', { messages: { type: 'ice' } }],
    ['messages as a string', { messages: 'ice' }],
    ['messages beside a type of its own', { type: 'ice', messages: [{ type: 'ice' }] }],
    ['messages: null', { messages: null }],
  ]) {
    it(`${what} is 400 invalid_batch without an index`, async () => {
      const { a } = await joinPair(srv);
      const before = snapshot(srv.db);
      const r = await srv.request('POST', '/api/send', { token: a.token, body });
      assertError(r, 400, 'invalid_batch'); // (its keys: error and message, no index)
      assert.deepEqual(snapshot(srv.db), before);
    });
  }

  it('alone in the room, a batch is 409 no_peer', async () => {
    const r = await srv.request('POST', '/api/join', { body: { pin: '409409' } });
    assertError(await batch(srv, r.json.token, [{ type: 'ice' }]), 409, 'no_peer');
  });

  it('a batch that would pass queue_max_messages (70) is 429 queue_full, none of it stored', async () => {
    const { a, b } = await joinPair(srv);
    const fill = Array.from({ length: 60 }, (_, i) => ({ type: 'ice', data: { i } }));
    assert.equal((await batch(srv, a.token, fill)).status, 202);
    const before = snapshot(srv.db);
    const r = await batch(srv, a.token, fill.slice(0, 11));
    assertError(r, 429, 'queue_full');
    assert.deepEqual(snapshot(srv.db), before);
    assert.equal((await batch(srv, a.token, fill.slice(0, 9))).status, 202, 'what still fits is taken');
    assert.equal((await srv.poll(b.token, 0)).json.messages.filter((m) => m.type === 'ice').length, 69);
  });

  it('the single form still answers {"seq"}', async () => {
    const { a } = await joinPair(srv);
    const r = await srv.send(a.token, 'offer', { sdp: 'x' });
    assert.equal(r.status, 202);
    assert.ok(Number.isInteger(r.json.seq) && r.json.seqs === undefined);
  });
});
