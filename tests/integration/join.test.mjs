// join.test.mjs: POST /api/join pairs two people by PIN.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, joinPair, pollUntil, startServer, waitFor } from './harness.mjs';

describe('POST /api/join', () => {
  let srv;
  before(async () => {
    // Nothing expires while the cases run: the refusals below compare the
    // whole database before and after.
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '2', TUTURU_PEER_GRACE: '3600', TUTURU_MESSAGE_TTL: '86400' } });
  });
  after(() => srv?.stop());

  it('the first joiner gets peers 1, polite false, a 64-hex token and the ICE settings', async () => {
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const j = r.json;
    assert.equal(typeof j.peer, 'string');
    assert.ok(j.peer.length > 0);
    assert.match(j.token, /^[0-9a-f]{64}$/);
    assert.equal(j.polite, false);
    assert.equal(j.peers, 1);
    assert.ok(Array.isArray(j.ice_servers));
    assert.equal(j.ice_transport_policy, 'all');
    assert.equal(j.poll_timeout, 2);
  });

  it('the second joiner gets peers 2 and polite true', async () => {
    const { a, b } = await joinPair(srv);
    assert.equal(a.peers, 1);
    assert.equal(b.peers, 2);
    assert.equal(a.polite, false);
    assert.equal(b.polite, true);
  });

  it('the two peers of a room get different ids and tokens', async () => {
    const { a, b } = await joinPair(srv);
    assert.notEqual(a.peer, b.peer);
    assert.notEqual(a.token, b.token);
  });

  it('the first peer receives peer-joined when the second joins', async () => {
    const { a } = await joinPair(srv);
    const r = await srv.poll(a.token, 0);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.messages.length, 1, r.text);
    const [m] = r.json.messages;
    assert.equal(m.type, 'peer-joined');
    assert.ok(Number.isInteger(m.seq) && m.seq >= 1, `seq ${m.seq}`);
  });

  it('the second peer receives no peer-joined about itself', async () => {
    const { a, b } = await joinPair(srv);
    // a message from a marks the end of what b has pending
    assert.equal((await srv.send(a.token, 'mark', 1)).status, 202);
    const r = await srv.poll(b.token, 0);
    assert.deepEqual(r.json.messages.map((m) => m.type), ['mark']);
  });

  it('a third joiner while two are present gets 409 room_full and is not added', async () => {
    const { pin } = await joinPair(srv);
    const before = srv.snapshot();
    const r = await srv.join(pin);
    assertError(r, 409, 'room_full');
    const now = srv.snapshot();
    assert.deepEqual({ rooms: now.rooms, peers: now.peers, messages: now.messages },
      { rooms: before.rooms, peers: before.peers, messages: before.messages });
  });

  it('a PIN is its own room: another PIN does not join it', async () => {
    const a = await srv.join(freshPin());
    const b = await srv.join(freshPin());
    assert.equal(a.json.peers, 1);
    assert.equal(b.json.peers, 1);
  });

  it('after the polite peer leaves, the newcomer is polite again', async () => {
    const { pin, a, b } = await joinPair(srv);
    assert.equal((await srv.leave(b.token)).status, 204);
    const c = await srv.join(pin);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.peers, 2);
    assert.equal(c.json.polite, !a.polite);
  });

  it('after the impolite peer leaves, the newcomer is impolite: the flags still differ', async () => {
    const { pin, a, b } = await joinPair(srv);
    assert.equal(a.polite, false);
    assert.equal((await srv.leave(a.token)).status, 204);
    const c = await srv.join(pin);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.peers, 2);
    assert.equal(c.json.polite, false);
    assert.notEqual(c.json.polite, b.polite);
  });

  it('the remaining peer receives peer-joined again when someone re-joins', async () => {
    const { pin, a, b } = await joinPair(srv);
    const first = await pollUntil(srv, a.token, 'peer-joined');
    assert.equal((await srv.leave(b.token)).status, 204);
    const { cursor } = await pollUntil(srv, a.token, 'peer-left', { after: first.cursor });
    assert.equal((await srv.join(pin)).status, 200);
    const again = await pollUntil(srv, a.token, 'peer-joined', { after: cursor });
    assert.deepEqual(again.messages.map((m) => m.type), ['peer-joined']);
    // The server deletes what the polls acknowledged in the background,
    // within a second: let that happen here, not during the next test.
    await waitFor(() => srv.sql(`SELECT count(*) AS n FROM messages WHERE peer_id = '${a.peer}' AND seq <= ${cursor}`)[0].n === 0,
      5000, 'the acknowledged messages to be deleted');
  });

  it('when both have left, the PIN starts a fresh room: peers 1, polite false', async () => {
    const { pin, a, b } = await joinPair(srv);
    assert.equal((await srv.leave(b.token)).status, 204);
    assert.equal((await srv.leave(a.token)).status, 204);
    const c = await srv.join(pin);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.peers, 1);
    assert.equal(c.json.polite, false);
  });

  for (const pin of ['12345', '1234567', '12345a', ' 123456', '123456 ', '', '１２３４５６', '12 456', '+12345']) {
    it(`PIN ${JSON.stringify(pin)} is 400 invalid_pin`, async () => {
      const before = srv.snapshot();
      assertError(await srv.join(pin), 400, 'invalid_pin');
      assert.deepEqual(srv.snapshot(), before);
    });
  }

  for (const [name, body] of [['a number', { pin: 123456 }], ['null', { pin: null }],
    ['missing', {}], ['an array', { pin: ['123456'] }], ['an object', { pin: { pin: '123456' } }],
    ['true', { pin: true }]]) {
    it(`a pin that is ${name} is 400 invalid_pin`, async () => {
      const before = srv.snapshot();
      assertError(await srv.request('POST', '/api/join', { body }), 400, 'invalid_pin');
      assert.deepEqual(srv.snapshot(), before);
    });
  }

  it('a body that is not JSON is 400 invalid_json', async () => {
    const before = srv.snapshot();
    assertError(await srv.request('POST', '/api/join', { body: 'pin=123456' }), 400, 'invalid_json');
    assert.deepEqual(srv.snapshot(), before);
  });
});
