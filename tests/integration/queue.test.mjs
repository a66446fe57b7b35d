// queue.test.mjs: a peer's undelivered messages are bounded by count
// (queue_max_messages) and bytes (queue_max_bytes); past either, send is
// 429 queue_full and stores nothing; once the partner polls, sending works.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { assertError, joinPair, launchServer, startServer, waitFor, within } from './harness.mjs';

/** Assert a 429 queue_full answer with Retry-After. */
function assertQueueFull(r) {
  assertError(r, 429, 'queue_full');
  assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/, `Retry-After: ${r.headers.get('retry-after')}`);
}

/** Poll b until it has acknowledged up to cursor (the server deletes them). */
async function drain(srv, peer) {
  const r = await srv.poll(peer.token, 0);
  assert.equal(r.status, 200, r.text);
  const last = r.json.messages.at(-1).seq;
  // Acknowledgements are written in batches (beat.c): wait for the delete.
  const ack = srv.poll(peer.token, last);
  await waitFor(() => srv.sql(`SELECT count(*) AS n FROM messages WHERE peer_id = '${peer.peer}'`)[0].n === 0,
    5000, 'the acknowledged messages to be deleted');
  return { ack, last };
}

describe('queue cap by count (queue_max_messages 8)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_QUEUE_MAX_MESSAGES: '8', TUTURU_POLL_TIMEOUT: '2' } });
  });
  after(() => srv?.stop());

  it('the 9th undelivered message is 429 queue_full and changes nothing; sending works after a poll', async () => {
    const { a, b } = await joinPair(srv);
    for (let i = 0; i < 8; i++) {
      const r = await srv.send(a.token, 'ice', { i });
      assert.equal(r.status, 202, `send ${i + 1}: ${r.text}`);
    }
    const before = srv.snapshot();
    assertQueueFull(await srv.send(a.token, 'ice', { i: 8 }));
    assertQueueFull(await srv.send(a.token, 'ice', 'x'));
    assert.deepEqual(srv.snapshot(), before);

    // The other direction is b -> a: a's queue (peer-joined) is not full.
    assert.equal((await srv.send(b.token, 'answer', 1)).status, 202);

    const { ack } = await drain(srv, b);
    const r = await srv.send(a.token, 'ice', { i: 9 });
    assert.equal(r.status, 202, r.text);
    const got = await ack;
    assert.deepEqual(got.json.messages.map((m) => m.data), [{ i: 9 }]);
  });

  it('the cap is per recipient: another pair is not refused', async () => {
    const one = await joinPair(srv);
    const two = await joinPair(srv);
    for (let i = 0; i < 8; i++) assert.equal((await srv.send(one.a.token, 'x', i)).status, 202);
    assertQueueFull(await srv.send(one.a.token, 'x', 8));
    assert.equal((await srv.send(two.a.token, 'x', 0)).status, 202);
  });

  it('the server\'s own peer-left still reaches a full queue', async () => {
    const { a, b } = await joinPair(srv);
    // a's queue holds peer-joined and 7 more.
    for (let i = 0; i < 7; i++) assert.equal((await srv.send(b.token, 'x', i)).status, 202);
    assertQueueFull(await srv.send(b.token, 'x', 7));
    assert.equal((await srv.leave(b.token)).status, 204);
    const r = await srv.poll(a.token, 0);
    assert.equal(r.json.messages.at(-1).type, 'peer-left');
  });
});

describe('queue cap by bytes (queue_max_bytes 65536)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_QUEUE_MAX_BYTES: '65536', TUTURU_POLL_TIMEOUT: '2' } });
  });
  after(() => srv?.stop());

  it('a message that would take the queue past the bytes is 429 queue_full; a smaller one fits', async () => {
    const { a, b } = await joinPair(srv);
    const big = 'x'.repeat(30000); // stored as "xxx…": 30,002 bytes
    assert.equal((await srv.send(a.token, 'blob', big)).status, 202);
    assert.equal((await srv.send(a.token, 'blob', big)).status, 202); // 60,004
    const before = srv.snapshot();
    assertQueueFull(await srv.send(a.token, 'blob', big));
    assert.deepEqual(srv.snapshot(), before);
    // 65,536 - 60,004 = 5,532 bytes left: a 5,530-character string fits exactly.
    assertQueueFull(await srv.send(a.token, 'blob', 'y'.repeat(5531)));
    assert.equal((await srv.send(a.token, 'blob', 'y'.repeat(5530))).status, 202);
    assertQueueFull(await srv.send(a.token, 'n', null));

    const { ack } = await drain(srv, b);
    assert.equal((await srv.send(a.token, 'blob', big)).status, 202);
    assert.equal((await ack).json.messages.length, 1);
  });

  it('UTF-8 counts in bytes, not characters', async () => {
    const { a } = await joinPair(srv);
    const wide = 'é'.repeat(16000); // 32,002 bytes as stored
    assert.equal((await srv.send(a.token, 'w', wide)).status, 202);
    assert.equal((await srv.send(a.token, 'w', wide)).status, 202);
    assertQueueFull(await srv.send(a.token, 'w', 'z'.repeat(2000)));
  });
});

describe('queue caps by default (256 messages, 1 MiB)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '2' } });
  });
  after(() => srv?.stop());

  it('the 257th undelivered message is refused', async () => {
    const { a } = await joinPair(srv);
    for (let i = 0; i < 256; i++) assert.equal((await srv.send(a.token, 'ice', i)).status, 202, `send ${i + 1}`);
    assertQueueFull(await srv.send(a.token, 'ice', 256));
  });

  it('the 17th message of 65,500 bytes is refused (over 1 MiB queued)', async () => {
    const { a } = await joinPair(srv);
    const big = 'x'.repeat(65498); // 65,500 bytes stored; the body stays under 65,536
    for (let i = 0; i < 16; i++) assert.equal((await srv.send(a.token, 'blob', big)).status, 202, `send ${i + 1}`);
    assertQueueFull(await srv.send(a.token, 'blob', big));
  });
});

describe('queue settings', () => {
  for (const [name, value] of [['QUEUE_MAX_BYTES', '1000'], ['QUEUE_MAX_MESSAGES', 'many']]) {
    it(`TUTURU_${name}=${value} stops the server at start, naming the setting`, async () => {
      const srv = await launchServer({ env: { [`TUTURU_${name}`]: value } });
      try {
        const status = await within(srv.exited, 5000, 'the server to refuse to start');
        assert.notEqual(status.code, 0);
        assert.match(fs.readFileSync(srv.serveLog, 'utf8'), new RegExp(name.toLowerCase()));
      } finally {
        await srv.stop();
      }
    });
  }
});
