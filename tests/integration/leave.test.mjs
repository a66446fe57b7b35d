// leave.test.mjs: POST /api/leave revokes the token and tells the other peer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, joinPair, pollUntil, startHeldPoll, startServer, within } from './harness.mjs';

describe('POST /api/leave', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '20', TUTURU_PEER_GRACE: '60' } });
  });
  after(() => srv?.stop());

  const leaveWithBody = (body, contentType) =>
    srv.request('POST', '/api/leave', {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      contentType: contentType ?? null,
    });

  it('with a Bearer token it answers 204 with no body', async () => {
    const { b } = await joinPair(srv);
    const r = await srv.leave(b.token);
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
  });

  it('after leaving, the token is 401 on poll, send, turn and leave', async () => {
    const { a, b } = await joinPair(srv);
    assert.equal((await srv.leave(b.token)).status, 204);
    assertError(await srv.poll(b.token, 0), 401, 'unauthorized', 'poll');
    assertError(await srv.send(b.token, 'offer', 1), 401, 'unauthorized', 'send');
    assertError(await srv.turn(b.token), 401, 'unauthorized', 'turn');
    assertError(await srv.leave(b.token), 401, 'unauthorized', 'leave');
    assertError(await leaveWithBody({ token: b.token }, 'text/plain'), 401, 'unauthorized', 'leave by body');
    assert.equal((await srv.poll(a.token, 0)).status, 200, 'the other token still works');
  });

  it('the other peer receives peer-left', async () => {
    const { a, b } = await joinPair(srv);
    assert.equal((await srv.leave(b.token)).status, 204);
    const { messages } = await pollUntil(srv, a.token, 'peer-left');
    assert.deepEqual(messages.map((m) => m.type), ['peer-joined', 'peer-left']);
  });

  it("the other peer's held poll returns peer-left promptly", async () => {
    const { a, b } = await joinPair(srv);
    const joined = await pollUntil(srv, a.token, 'peer-joined');
    const held = await startHeldPoll(srv, a, joined.cursor);
    assert.equal((await srv.leave(b.token)).status, 204);
    const r = await within(held.answer, 5000, 'the held poll after a leave');
    assert.deepEqual(r.json.messages.map((m) => m.type), ['peer-left']);
  });

  for (const [name, contentType] of [['text/plain (sendBeacon)', 'text/plain;charset=UTF-8'],
    ['application/json', 'application/json'], ['no Content-Type', undefined],
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded']]) {
    it(`the token in a ${name} body works: 204, revoked, peer-left`, async () => {
      const { a, b } = await joinPair(srv);
      const r = await leaveWithBody({ token: b.token }, contentType);
      assert.equal(r.status, 204, r.text);
      assertError(await srv.poll(b.token, 0), 401, 'unauthorized');
      await pollUntil(srv, a.token, 'peer-left');
    });
  }

  it('a sendBeacon body sent by fetch as a Blob works', async () => {
    const { a, b } = await joinPair(srv);
    const r = await fetch(`${srv.url}/api/leave`, {
      method: 'POST',
      body: new Blob([JSON.stringify({ token: b.token })], { type: 'text/plain;charset=UTF-8' }),
    });
    assert.equal(r.status, 204);
    await pollUntil(srv, a.token, 'peer-left');
  });

  it("a leave deletes the leaver's pending messages", async () => {
    const { a, b } = await joinPair(srv);
    assert.equal((await srv.send(b.token, 'offer', 1)).status, 202);
    assert.ok(srv.sql(`SELECT count(*) AS n FROM messages WHERE peer_id = '${a.peer}'`)[0].n >= 1);
    assert.equal((await srv.leave(a.token)).status, 204);
    assert.equal(srv.sql(`SELECT count(*) AS n FROM messages WHERE peer_id = '${a.peer}'`)[0].n, 0);
  });

  it('when the last peer leaves, the room is deleted', async () => {
    const { a, b } = await joinPair(srv);
    const room = srv.sql(`SELECT room_id FROM peers WHERE id = '${a.peer}'`)[0].room_id;
    assert.equal((await srv.leave(a.token)).status, 204);
    assert.equal(srv.sql(`SELECT count(*) AS n FROM rooms WHERE id = ${room}`)[0].n, 1);
    assert.equal((await srv.leave(b.token)).status, 204);
    assert.equal(srv.sql(`SELECT count(*) AS n FROM rooms WHERE id = ${room}`)[0].n, 0);
  });
});
