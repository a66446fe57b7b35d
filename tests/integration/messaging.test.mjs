// messaging.test.mjs: POST /api/send delivers to the other peer of the room.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, joinPair, startServer } from './harness.mjs';

describe('POST /api/send', () => {
  let srv;
  before(async () => {
    // Nothing expires while the cases run: the refusals below compare the
    // whole database before and after. (Every poll here is from 0: no
    // acknowledgement deletes anything in the background.)
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '2', TUTURU_PEER_GRACE: '3600', TUTURU_MESSAGE_TTL: '86400' } });
  });
  after(() => srv?.stop());

  /** Send and assert 202; returns the seq. */
  async function sent(token, type, data) {
    const r = await srv.send(token, type, data);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(Object.keys(r.json), ['seq']);
    assert.ok(Number.isInteger(r.json.seq) && r.json.seq >= 1, r.text);
    return r.json.seq;
  }

  /** b's messages other than peer-joined, polled from 0. */
  async function inbox(token, after = 0) {
    const r = await srv.poll(token, after);
    assert.equal(r.status, 200, r.text);
    return r.json.messages.filter((m) => m.type !== 'peer-joined');
  }

  it('a message sent is 202 {seq} and the other peer receives it with the same seq, type and data', async () => {
    const { a, b } = await joinPair(srv);
    const data = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
    const seq = await sent(a.token, 'offer', data);
    assert.deepEqual(await inbox(b.token), [{ seq, type: 'offer', data }]);
  });

  it('the second peer can send to the first', async () => {
    const { a, b } = await joinPair(srv);
    const seq = await sent(b.token, 'answer', { sdp: 'x' });
    assert.deepEqual(await inbox(a.token), [{ seq, type: 'answer', data: { sdp: 'x' } }]);
  });

  it('any JSON value is delivered as sent', async () => {
    const { a, b } = await joinPair(srv);
    const values = [null, true, false, 0, -1.5, 9007199254740991, 1e300, 'text', '',
      'quotes " \' \\ / and controls \n\t\u0001', 'unicode é ☎ 𝄞 \u2028\u2029', [], {},
      [1, [2, [3, { a: null }]]], { nested: { deep: { list: [1, 'two', { three: 3 }] } } },
      { 'key with spaces': 1, 'ключ': 'значение' }];
    const seqs = [];
    for (const v of values) seqs.push(await sent(a.token, 'value', v));
    const got = await inbox(b.token);
    assert.deepEqual(got, values.map((data, i) => ({ seq: seqs[i], type: 'value', data })));
  });

  it('data with SQL metacharacters is stored and delivered verbatim', async () => {
    const { a, b } = await joinPair(srv);
    const data = { sdp: "'); DROP TABLE messages; --", s: "\" OR 1=1 --", t: '%_\\' };
    const seq = await sent(a.token, 'offer', data);
    assert.deepEqual(await inbox(b.token), [{ seq, type: 'offer', data }]);
    assert.equal(srv.sql('SELECT count(*) AS n FROM sqlite_master WHERE name = \'messages\'')[0].n, 1);
  });

  it('a send without data delivers null', async () => {
    const { a, b } = await joinPair(srv);
    const r = await srv.request('POST', '/api/send', { token: a.token, body: { type: 'bye' } });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(await inbox(b.token), [{ seq: r.json.seq, type: 'bye', data: null }]);
  });

  it('seqs increase and messages arrive oldest first', async () => {
    const { a, b } = await joinPair(srv);
    const seqs = [];
    for (let i = 0; i < 10; i++) seqs.push(await sent(a.token, 'candidate', { i }));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `seqs ${seqs}`);
    const got = await inbox(b.token);
    assert.deepEqual(got.map((m) => m.seq), seqs);
    assert.deepEqual(got.map((m) => m.data.i), [...Array(10).keys()]);
  });

  it('a sender never receives its own messages', async () => {
    const { a, b } = await joinPair(srv);
    await sent(a.token, 'from-a', 1);
    const seqB = await sent(b.token, 'from-b', 2);
    assert.deepEqual(await inbox(a.token), [{ seq: seqB, type: 'from-b', data: 2 }]);
  });

  it('messages stay within their room', async () => {
    const one = await joinPair(srv);
    const two = await joinPair(srv);
    await sent(one.a.token, 'room-one', 1);
    const seq = await sent(two.a.token, 'room-two', 2);
    assert.deepEqual(await inbox(two.b.token), [{ seq, type: 'room-two', data: 2 }]);
  });

  it('a peer alone in the room gets 409 no_peer and nothing is stored', async () => {
    const r = await srv.join(freshPin());
    const before = srv.snapshot();
    assertError(await srv.send(r.json.token, 'offer', {}), 409, 'no_peer');
    assert.deepEqual(srv.snapshot(), before);
  });

  it('after the other peer left, send is 409 no_peer', async () => {
    const { a, b } = await joinPair(srv);
    assert.equal((await srv.leave(b.token)).status, 204);
    assertError(await srv.send(a.token, 'offer', {}), 409, 'no_peer');
  });

  for (const type of ['a', 'offer', 'ice-candidate', 'x1', 'a-', 'peer', 'peers-x', 'peerx',
    `a${'b'.repeat(31)}`, 'z9-9-']) {
    it(`type ${JSON.stringify(type)} is accepted`, async () => {
      const { a, b } = await joinPair(srv);
      const seq = await sent(a.token, type, 1);
      assert.deepEqual(await inbox(b.token), [{ seq, type, data: 1 }]);
    });
  }

  for (const type of ['', 'A', 'Offer', '1abc', '-a', 'a_b', 'a.b', 'a b', 'é', `a${'b'.repeat(32)}`,
    'peer-joined', 'peer-left', 'peer-x', 'peer-']) {
    it(`type ${JSON.stringify(type)} is 400 invalid_type and nothing is stored`, async () => {
      const { a } = await joinPair(srv);
      const before = srv.snapshot();
      assertError(await srv.send(a.token, type, 1), 400, 'invalid_type');
      assert.deepEqual(srv.snapshot(), before);
    });
  }
});
