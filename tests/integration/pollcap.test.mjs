// pollcap.test.mjs: polls_per_addr, the held polls one client address may
// have (docs/api.md, docs/config.md). Polls go on their own TCP connections
// from a chosen loopback address (127.0.0.1 or 127.0.0.2: all of 127/8 is
// loopback on Linux, so lighttpd passes each as REMOTE_ADDR).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, joinPair, rawRequest, startServer, waitFor, within } from './harness.mjs';

const CAP = 3;
const POLL_TIMEOUT = 10;
const ANSWER_MS = 3000; // a refusal or a message's delivery comes well within this

describe(`held polls per client address (polls_per_addr ${CAP}, poll_timeout ${POLL_TIMEOUT})`, () => {
  let srv;
  let pairs;
  const held = new Map(); // name -> a held poll
  before(async () => {
    srv = await startServer({
      env: { TUTURU_POLLS_PER_ADDR: String(CAP), TUTURU_POLL_TIMEOUT: String(POLL_TIMEOUT), TUTURU_PEER_GRACE: '60' },
    });
    pairs = [];
    for (let i = 0; i < 5; i++) pairs.push(await joinPair(srv));
  });
  after(() => srv?.stop());

  /** GET /api/poll as b of pair i on its own connection from localAddress. */
  function pollFrom(i, after, localAddress = '127.0.0.1') {
    const req = `GET /api/poll?after=${after} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${pairs[i].b.token}\r\nConnection: close\r\n\r\n`;
    return rawRequest(srv.port, req, { localAddress, timeoutMs: (POLL_TIMEOUT + 10) * 1000 });
  }

  /**
   * Start a poll of b of pair i and resolve once the server has it (its
   * heartbeat moved last_seen off a marker, as startHeldPoll does). The
   * poll's settlement is recorded so a test can say it is still pending.
   */
  async function hold(i, after = 0, localAddress = '127.0.0.1') {
    const peer = pairs[i].b.peer;
    const marker = Math.floor(Date.now() / 1000) - 1;
    srv.sql(`UPDATE peers SET last_seen = ${marker} WHERE id = '${peer}'`);
    const p = { done: false, answer: pollFrom(i, after, localAddress) };
    p.answer.then(() => { p.done = true; }, () => { p.done = true; });
    await waitFor(() => {
      const rows = srv.sql(`SELECT last_seen FROM peers WHERE id = '${peer}'`);
      return rows.length === 1 && rows[0].last_seen !== marker;
    }, 5000, `the poll of pair ${i} to reach the server`);
    return p;
  }

  /** a of pair i sends one message; b's held poll must come back with it. */
  async function answerWithMessage(i, p) {
    const s = await srv.send(pairs[i].a.token, 'offer', { i });
    assert.equal(s.status, 202, s.text);
    const r = await within(p.answer, ANSWER_MS, `pair ${i}'s held poll after a message`);
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(r.json.messages.map((m) => [m.seq, m.type]), [[s.json.seq, 'offer']]);
    return s.json.seq;
  }

  const stillHeld = (...names) => {
    for (const n of names) assert.equal(held.get(n).done, false, `${n}'s poll was answered`);
  };

  it(`holds ${CAP} polls from 127.0.0.1; the next is 429 too_many_polls at once and changes nothing`, async () => {
    for (let i = 0; i < CAP; i++) held.set(`b${i}`, await hold(i));
    const before = srv.snapshot();
    const r = await within(pollFrom(3, 0), ANSWER_MS, 'the poll past the cap');
    assertError(r, 429, 'too_many_polls');
    assert.equal(r.headers.get('retry-after'), '2');
    const now = srv.snapshot();
    assert.deepEqual([now.rooms, now.messages], [before.rooms, before.messages]);
    // Every peer as it was; the refused poll is still a heartbeat (docs/api.md).
    const strip = (peers) => peers.map(([id, room, hash, polite, joined]) => [id, room, hash, polite, joined]);
    assert.deepEqual(strip(now.peers), strip(before.peers));
    stillHeld('b0', 'b1', 'b2');
  });

  it('a poll from another address (127.0.0.2) is still held', async () => {
    const p = await hold(4, 0, '127.0.0.2');
    assert.equal(p.done, false);
    await answerWithMessage(4, p);
    stillHeld('b0', 'b1', 'b2');
  });

  it('a newer poll of a held peer replaces its older one and does not count twice', async () => {
    const old = held.get('b1');
    held.set('b1', await hold(1));
    const r = await within(old.answer, ANSWER_MS, 'the replaced poll');
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(r.json, { messages: [] });
    stillHeld('b0', 'b1', 'b2');
    assertError(await within(pollFrom(3, 0), ANSWER_MS, 'a 4th poll'), 429, 'too_many_polls');
  });

  it('once a held poll is answered by a message, a new poll from 127.0.0.1 is held', async () => {
    const seq = await answerWithMessage(0, held.get('b0'));
    held.set('b3', await hold(3));
    stillHeld('b1', 'b2', 'b3');
    assertError(await within(pollFrom(0, seq), ANSWER_MS, 'a 4th poll'), 429, 'too_many_polls');
    await answerWithMessage(3, held.get('b3'));
  });

  it('once held polls time out, new polls from 127.0.0.1 are held again', async () => {
    for (const n of ['b1', 'b2']) {
      const r = await within(held.get(n).answer, (POLL_TIMEOUT + 5) * 1000, `${n}'s poll to time out`);
      assert.equal(r.status, 200, r.raw);
      assert.deepEqual(r.json, { messages: [] });
    }
    // What each b has seen: clear its queue so a new poll waits.
    const last = (i) => srv.sql(`SELECT coalesce(max(seq), 0) AS s FROM messages WHERE peer_id = '${pairs[i].b.peer}'`)[0].s;
    const polls = [];
    for (let i = 0; i < CAP; i++) polls.push(await hold(i, last(i)));
    assertError(await within(pollFrom(3, last(3)), ANSWER_MS, 'a 4th poll'), 429, 'too_many_polls');
    for (let i = 0; i < CAP; i++) await answerWithMessage(i, polls[i]);
  });
});
