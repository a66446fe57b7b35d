// Long-poll receiver, ordered sender, backoff and de-duplication.
import test from 'node:test';
import assert from 'node:assert/strict';
import { backoff, transient, createPoller, createSender, createDeduper } from '../../htdocs/js/transport.mjs';
import { ApiError } from '../../htdocs/js/api.mjs';
import { fakeTimers, settle, deferred } from './fakes.mjs';

const netErr = () => new ApiError(0, 'network', 'down');

test('backoff grows exponentially, is capped, and jitters between half and all', () => {
  assert.equal(backoff(1, () => 0), 250);
  assert.equal(backoff(1, () => 1), 500);
  assert.equal(backoff(2, () => 1), 1000);
  assert.equal(backoff(4, () => 1), 4000);
  assert.equal(backoff(5, () => 1), 5000);
  assert.equal(backoff(50, () => 1), 5000);
  assert.equal(backoff(50, () => 0), 2500);
  for (let i = 1; i < 30; i++) {
    const d = backoff(i);
    assert.ok(d >= 250 && d <= 5000, `attempt ${i}: ${d}`);
  }
});

test('transient: no answer, 408, 429 and 5xx are retried; other 4xx are not', () => {
  assert.ok(transient(netErr()));
  assert.ok(transient(new ApiError(503, 'unavailable')));
  assert.ok(transient(new ApiError(429, 'rate_limited')));
  assert.ok(!transient(new ApiError(409, 'no_peer')));
  assert.ok(!transient(new ApiError(400, 'invalid_type')));
  assert.ok(!transient(new ApiError(401, 'unauthorized')));
});

/** A fake server side for the poller: each poll() is answered by the test. */
function pollHarness(clock = () => 0) {
  const calls = [];
  let outstanding = 0;
  let maxOutstanding = 0;
  const poll = (after, signal) => {
    outstanding++;
    maxOutstanding = Math.max(maxOutstanding, outstanding);
    const d = deferred();
    const call = { after, signal, at: clock(), ...d };
    signal.addEventListener('abort', () => d.reject(new ApiError(0, 'network', 'aborted')));
    d.promise.then(() => outstanding--, () => outstanding--);
    calls.push(call);
    return d.promise;
  };
  return { calls, poll, get max() { return maxOutstanding; } };
}

test('poller: one poll at a time, cursor follows the last seq, batches in order', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  const got = [];
  const p = createPoller({ poll: h.poll, onMessages: (m) => got.push(...m.map((x) => x.seq)), onLost: () => {}, timers });
  p.start(0);
  await settle();
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0].after, 0);
  h.calls[0].resolve([{ seq: 3, type: 'a' }, { seq: 2, type: 'b' }]);
  await settle();
  assert.deepEqual(got, [2, 3]);
  assert.equal(h.calls[1].after, 3);
  h.calls[1].resolve([]); // a poll that timed out on the server
  await settle();
  assert.equal(h.calls[2].after, 3);
  h.calls[2].resolve([{ seq: 3, type: 'dup' }, { seq: 9, type: 'c' }]); // 3 again is not new
  await settle();
  assert.deepEqual(got, [2, 3, 9]);
  assert.equal(p.after, 9);
  assert.equal(h.max, 1);
  p.stop();
});

test('poller: after a network error it backs off, then resumes with the same cursor', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  const errors = [];
  const p = createPoller({ poll: h.poll, onMessages: () => {}, onLost: () => {}, onError: (e, n) => errors.push(n),
    timers, random: () => 1 });
  p.start(5);
  await settle();
  h.calls[0].resolve([{ seq: 7, type: 'x' }]);
  await settle();
  h.calls[1].reject(netErr());
  await settle();
  assert.equal(h.calls.length, 2, 'no poll during the backoff');
  await timers.advance(499);
  assert.equal(h.calls.length, 2);
  await timers.advance(1);
  assert.equal(h.calls.length, 3);
  assert.equal(h.calls[2].after, 7);
  h.calls[2].reject(netErr());
  await timers.advance(999);
  assert.equal(h.calls.length, 3, 'the second wait is longer');
  await timers.advance(1);
  assert.equal(h.calls[3].after, 7);
  h.calls[3].resolve([{ seq: 8, type: 'y' }]);
  await settle();
  assert.equal(h.calls[4].after, 8);
  assert.deepEqual(errors, [1, 2]);
  assert.equal(p.failures, 0, 'a success resets the backoff');
  assert.equal(h.max, 1);
  p.stop();
});

test('poller: backoff stays capped during a long outage', async () => {
  const timers = fakeTimers();
  const times = [];
  let outstanding = 0;
  const poll = async () => {
    times.push(timers.now);
    assert.equal(outstanding++, 0, 'one poll at a time');
    await Promise.resolve();
    outstanding--;
    throw netErr();
  };
  const p = createPoller({ poll, onMessages: () => {}, onLost: () => {}, timers, random: () => 1 });
  p.start(0);
  await timers.advance(23000);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.deepEqual(gaps.slice(0, 7), [500, 1000, 2000, 4000, 5000, 5000, 5000]);
  p.stop();
});

test('poller: kick() ends a backoff early (the network is back)', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  const p = createPoller({ poll: h.poll, onMessages: () => {}, onLost: () => {}, timers, random: () => 1 });
  p.start(0);
  await settle();
  h.calls[0].reject(netErr());
  await settle();
  assert.equal(h.calls.length, 1);
  p.kick();
  await settle();
  assert.equal(h.calls.length, 2);
  p.stop();
});

test('poller: a 401 is reported once and polling stops', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  let lost = 0;
  const p = createPoller({ poll: h.poll, onMessages: () => {}, onLost: () => lost++, timers });
  p.start(0);
  await settle();
  h.calls[0].reject(new ApiError(401, 'unauthorized'));
  await settle();
  await timers.advance(60000);
  assert.equal(lost, 1);
  assert.equal(h.calls.length, 1);
  assert.equal(p.running, false);
});

test('poller: stop() aborts the poll in flight and starts no other', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  let errors = 0;
  const p = createPoller({ poll: h.poll, onMessages: () => {}, onLost: () => {}, onError: () => errors++, timers });
  p.start(0);
  await settle();
  p.stop();
  await settle();
  assert.equal(h.calls[0].signal.aborted, true);
  await timers.advance(60000);
  assert.equal(h.calls.length, 1);
  assert.equal(errors, 0, 'an abort by stop() is not an error');
  assert.equal(timers.pending, 0, 'no timer left behind');
});

test('poller: stop() during a backoff ends it without another poll', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  const p = createPoller({ poll: h.poll, onMessages: () => {}, onLost: () => {}, timers });
  p.start(0);
  await settle();
  h.calls[0].reject(netErr());
  await settle();
  p.stop();
  await timers.advance(60000);
  assert.equal(h.calls.length, 1);
});

test('poller: the watchdog aborts a poll that hangs (a stalled connection) and polls again', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  const p = createPoller({ poll: h.poll, onMessages: () => {}, onLost: () => {}, timers, watchdogMs: 30000, random: () => 0 });
  p.start(4);
  await settle();
  await timers.advance(29999);
  assert.equal(h.calls[0].signal.aborted, false);
  await timers.advance(1);
  assert.equal(h.calls[0].signal.aborted, true);
  await timers.advance(250);
  assert.equal(h.calls.length, 2);
  assert.equal(h.calls[1].after, 4);
  p.stop();
});

test('poller: onMessages may stop the poller (a hang-up message)', async () => {
  const h = pollHarness();
  const timers = fakeTimers();
  let p = null;
  p = createPoller({ poll: h.poll, onMessages: () => p.stop(), onLost: () => {}, timers });
  p.start(0);
  await settle();
  h.calls[0].resolve([{ seq: 1, type: 'bye' }]);
  await settle();
  assert.equal(h.calls.length, 1);
});

/** A fake /api/send: each call (a batch) waits for the test to answer it. */
function sendHarness() {
  const calls = [];
  let outstanding = 0;
  let max = 0;
  const send = (batch) => {
    outstanding++;
    max = Math.max(max, outstanding);
    const d = deferred();
    d.promise.then(() => outstanding--, () => outstanding--);
    calls.push({ batch, types: batch.map((m) => m.type), ns: batch.map((m) => m.data.n), ...d });
    return d.promise;
  };
  return { calls, send, get max() { return max; } };
}

const LINGER = 25;

test('sender: what is pushed together goes out in one request after a short linger, each with a growing n', async () => {
  const h = sendHarness();
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, timers });
  s.push('description', { sdp: 'o' });
  s.push('candidate', { candidate: { candidate: 'c1' } });
  await timers.advance(LINGER - 1);
  assert.equal(h.calls.length, 0, 'it waits for the candidates that trickle right after');
  s.push('candidate', { candidate: { candidate: 'c2' } });
  await timers.advance(1);
  assert.equal(h.calls.length, 1);
  assert.deepEqual(h.calls[0].types, ['description', 'candidate', 'candidate']);
  assert.deepEqual(h.calls[0].batch[0].data, { sdp: 'o', n: 1 });
  assert.deepEqual(h.calls[0].ns, [1, 2, 3]);
  h.calls[0].resolve({ seqs: [10, 11, 12] });
  await settle();
  assert.equal(s.pending, 0);
});

test('sender: one request at a time; what is pushed meanwhile goes in the next, in order', async () => {
  const h = sendHarness();
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, timers });
  s.push('a');
  await timers.advance(LINGER);
  s.push('b');
  s.push('c');
  await timers.advance(1000);
  assert.equal(h.calls.length, 1, 'nothing more while the first is in flight');
  h.calls[0].resolve({});
  await settle();
  assert.deepEqual(h.calls.map((c) => c.types), [['a'], ['b', 'c']]);
  assert.equal(h.max, 1);
});

test('sender: a batch holds at most max messages and maxBytes of JSON', async () => {
  const h = sendHarness();
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, timers, max: 3, maxBytes: 200 });
  for (const t of ['a', 'b', 'c', 'd']) s.push(t);
  await timers.advance(LINGER);
  assert.deepEqual(h.calls[0].types, ['a', 'b', 'c']);
  h.calls[0].resolve({});
  await settle();
  assert.deepEqual(h.calls[1].types, ['d']);
  h.calls[1].resolve({});
  await settle();
  s.push('big', { sdp: 'x'.repeat(150) });
  s.push('small');
  await timers.advance(LINGER);
  assert.deepEqual(h.calls[2].types, ['big'], 'the second would pass maxBytes');
  h.calls[2].resolve({});
  await settle();
  assert.deepEqual(h.calls[3].types, ['small']);
});

test('sender: a transient failure retries the same batch, same n, before anything later goes out', async () => {
  const h = sendHarness();
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, timers, random: () => 1 });
  s.push('a');
  s.push('b');
  await timers.advance(LINGER);
  s.push('c');
  h.calls[0].reject(netErr());
  await settle();
  assert.equal(h.calls.length, 1);
  await timers.advance(500);
  assert.equal(h.calls.length, 2);
  assert.deepEqual(h.calls[1].types, ['a', 'b']);
  assert.deepEqual(h.calls[1].ns, [1, 2], 'the retry keeps its n, so a duplicate can be recognised');
  h.calls[1].resolve({});
  await settle();
  assert.deepEqual(h.calls[2].types, ['c']);
  h.calls[2].resolve({});
  await settle();
  assert.equal(s.pending, 0);
});

test('sender: 409 no_peer drops that batch and goes on', async () => {
  const h = sendHarness();
  const dropped = [];
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, onDropped: (m, e) => dropped.push([m.type, e.code]), timers });
  s.push('a');
  s.push('b');
  await timers.advance(LINGER);
  s.push('c');
  h.calls[0].reject(new ApiError(409, 'no_peer'));
  await settle();
  assert.deepEqual(dropped, [['a', 'no_peer'], ['b', 'no_peer']]);
  assert.deepEqual(h.calls[1].types, ['c']);
});

test('sender: a 401 is reported once; nothing more is sent', async () => {
  const h = sendHarness();
  let lost = 0;
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => lost++, timers });
  s.push('a');
  s.push('b');
  await timers.advance(LINGER);
  h.calls[0].reject(new ApiError(401, 'unauthorized'));
  await settle();
  s.push('c');
  await timers.advance(60000);
  assert.equal(lost, 1);
  assert.equal(h.calls.length, 1);
});

test('sender: clear() forgets the queue and an in-flight batch that fails; messages pushed after it go out', async () => {
  const h = sendHarness();
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, timers, random: () => 1 });
  s.push('old1');
  await timers.advance(LINGER);
  s.push('old2');
  s.clear();
  s.push('new');
  h.calls[0].reject(netErr()); // the old connection's batch is not tried again
  await timers.advance(5000);
  assert.deepEqual(h.calls.map((c) => c.types), [['old1'], ['new']]);
});

test('sender: stop() ends a retry wait and drops the queue', async () => {
  const h = sendHarness();
  const timers = fakeTimers();
  const s = createSender({ send: h.send, onLost: () => {}, timers });
  s.push('a');
  await timers.advance(LINGER);
  h.calls[0].reject(netErr());
  await settle();
  s.stop();
  s.push('b');
  await timers.advance(60000);
  assert.equal(h.calls.length, 1);
  assert.equal(s.pending, 0);
});

test('deduper: drops an n already seen, passes messages without n, resets for a new peer', () => {
  const d = createDeduper();
  assert.ok(d.fresh({ n: 1 }));
  assert.ok(d.fresh({ n: 2 }));
  assert.ok(!d.fresh({ n: 2 }));
  assert.ok(!d.fresh({ n: 1 }));
  assert.ok(d.fresh({}));
  assert.ok(d.fresh(null));
  assert.ok(d.fresh({ n: 5 }));
  d.reset();
  assert.ok(d.fresh({ n: 1 }));
});
