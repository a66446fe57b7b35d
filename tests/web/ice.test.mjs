// The ICE keeper: TURN credentials refreshed through /api/turn before they
// expire and before an ICE restart (htdocs/js/transport.mjs createIceKeeper).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createIceKeeper, iceConfig } from '../../htdocs/js/transport.mjs';
import { ApiError } from '../../htdocs/js/api.mjs';
import { fakeTimers, settle, deferred } from './fakes.mjs';

const S = 1000;

/** A /api/turn answer whose credential is numbered n. */
const answer = (n, ttl = 300, policy = 'all') => ({
  ice_servers: [{ urls: ['stun:h'] }, { urls: ['turn:h'], username: `u${n}`, credential: `c${n}` }],
  ice_transport_policy: policy,
  ...(ttl ? { turn_ttl: ttl } : {}),
});
const userOf = (config) => config.iceServers[1] && config.iceServers[1].username;

/** A keeper whose load() is answered by the test; calls[] holds each request. */
function harness({ initial = answer(0), timers = fakeTimers() } = {}) {
  const calls = [];
  const configs = [];
  const lost = [];
  const errors = [];
  const keeper = createIceKeeper({
    initial,
    load: () => {
      const d = deferred();
      calls.push({ at: timers.now, ...d });
      return d.promise;
    },
    onConfig: (c) => configs.push(c),
    onLost: (e) => lost.push(e),
    onError: (e) => errors.push(e),
    timers,
    now: () => timers.now,
    random: () => 1,
  });
  return { keeper, calls, configs, lost, errors, timers };
}

test('iceConfig: the RTCConfiguration part of an answer; anything odd gives no servers and policy all', () => {
  assert.deepEqual(iceConfig(answer(1, 300, 'relay')), { iceServers: answer(1).ice_servers, iceTransportPolicy: 'relay' });
  for (const bad of [null, undefined, 'x', 7, {}, { ice_servers: 'no', ice_transport_policy: 'any' }]) {
    assert.deepEqual(iceConfig(bad), { iceServers: [], iceTransportPolicy: 'all' }, JSON.stringify(bad));
  }
});

test('no request while the credential is fresh; one when a minute is left; then every ttl minus a minute', async () => {
  const h = harness();
  assert.equal(userOf(h.keeper.config), 'u0');
  await h.timers.advance(239 * S);
  assert.equal(h.calls.length, 0);
  await h.timers.advance(1 * S);
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0].at, 240 * S);
  h.calls[0].resolve(answer(1));
  await settle();
  assert.equal(userOf(h.keeper.config), 'u1');
  assert.deepEqual(h.configs.map(userOf), ['u1'], 'onConfig told the open connection');
  await h.timers.advance(239 * S);
  assert.equal(h.calls.length, 1);
  await h.timers.advance(1 * S);
  assert.equal(h.calls.length, 2);
  assert.equal(h.calls[1].at, 480 * S);
});

test('a short ttl is refreshed when a quarter of it is left; a tiny one at most once a second', async () => {
  const h = harness({ initial: answer(0, 60) });
  await h.timers.advance(44 * S);
  assert.equal(h.calls.length, 0);
  await h.timers.advance(1 * S);
  assert.equal(h.calls.length, 1, 'at 45 s of 60');
  h.calls[0].resolve(answer(1, 1));
  await settle();
  await h.timers.advance(999);
  assert.equal(h.calls.length, 1);
  await h.timers.advance(1);
  assert.equal(h.calls.length, 2, 'ttl 1 s: one second later, not sooner');
});

test('the expiry counts from when the request went out, not from when the answer came', async () => {
  const h = harness();
  const f = h.keeper.fresh();
  await h.timers.advance(10 * S); // a slow answer
  h.calls[0].resolve(answer(1));
  await f;
  await h.timers.advance(229 * S);
  assert.equal(h.calls.length, 1);
  await h.timers.advance(1 * S);
  assert.equal(h.calls.length, 2, 'asked at 0, valid to 300: ask again at 240');
});

test('fresh() (before an ICE restart) asks at once, shares one request, and resolves the new config', async () => {
  const h = harness();
  await h.timers.advance(10 * S);
  const a = h.keeper.fresh();
  const b = h.keeper.fresh();
  await settle();
  assert.equal(h.calls.length, 1);
  h.calls[0].resolve(answer(7, 300, 'relay'));
  const [ca, cb] = await Promise.all([a, b]);
  assert.equal(userOf(ca), 'u7');
  assert.equal(cb, ca);
  assert.equal(ca.iceTransportPolicy, 'relay');
  await h.timers.advance(239 * S);
  assert.equal(h.calls.length, 1, 'the timer restarted from the new answer');
  await h.timers.advance(1 * S);
  assert.equal(h.calls.length, 2);
});

test('a failed refresh keeps the old servers and is retried with backoff until it works', async () => {
  const h = harness();
  await h.timers.advance(240 * S);
  h.calls[0].reject(new ApiError(0, 'network', 'down'));
  await settle();
  assert.equal(userOf(h.keeper.config), 'u0');
  assert.equal(h.errors.length, 1);
  assert.deepEqual(h.configs, []);
  await h.timers.advance(1 * S);
  assert.equal(h.calls.length, 2, 'retried after 1 s');
  h.calls[1].reject(new ApiError(503, 'unavailable', 'busy'));
  await settle();
  await h.timers.advance(2 * S);
  assert.equal(h.calls.length, 3, 'then after 2 s');
  const during = h.keeper.fresh(); // an ICE restart meanwhile waits for the same request
  h.calls[2].resolve(answer(3));
  assert.equal(userOf(await during), 'u3');
  assert.equal(h.calls.length, 3);
});

test('fresh() that fails resolves the current config, so a restart still happens', async () => {
  const h = harness();
  const f = h.keeper.fresh();
  await settle();
  h.calls[0].reject(new ApiError(0, 'network', 'down'));
  assert.equal(userOf(await f), 'u0');
});

test('401 (we are no longer in the room): onLost once, no more requests', async () => {
  const h = harness();
  await h.timers.advance(240 * S);
  h.calls[0].reject(new ApiError(401, 'unauthorized', 'gone'));
  await settle();
  assert.equal(h.lost.length, 1);
  assert.equal(h.keeper.scheduled, false);
  await h.timers.advance(3600 * S);
  assert.equal(userOf(await h.keeper.fresh()), 'u0');
  assert.equal(h.calls.length, 1);
  assert.equal(h.lost.length, 1);
});

test('no turn_ttl (no TURN servers): nothing is asked by itself, fresh() still asks', async () => {
  const h = harness({ initial: answer(0, 0) });
  assert.equal(h.keeper.scheduled, false);
  await h.timers.advance(86400 * S);
  assert.equal(h.calls.length, 0);
  const f = h.keeper.fresh();
  await settle();
  h.calls[0].resolve(answer(1, 0));
  assert.equal(userOf(await f), 'u1');
  assert.equal(h.keeper.scheduled, false);
});

test('stop(): no timer left, and an answer that comes later is not used', async () => {
  const h = harness();
  const f = h.keeper.fresh();
  await settle();
  h.keeper.stop();
  assert.equal(h.timers.pending, 0);
  h.calls[0].resolve(answer(1));
  assert.equal(userOf(await f), 'u0');
  assert.deepEqual(h.configs, []);
  await h.timers.advance(3600 * S);
  assert.equal(h.calls.length, 1);
});
