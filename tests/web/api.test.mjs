// The API client against a fake fetch: requests as docs/api.md has them,
// and every failure as an ApiError.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createApi, ApiError, retryAfterSeconds } from '../../htdocs/js/api.mjs';

function fakeFetch(answer) {
  const calls = [];
  const fetchFn = async (url, init) => {
    calls.push({ url, ...init, headers: init.headers || {} });
    const a = typeof answer === 'function' ? answer(url, init) : answer;
    if (a instanceof Error) throw a;
    const { status = 200, body = null, headers = {} } = a;
    return {
      status, ok: status >= 200 && status < 300,
      headers: { get: (k) => headers[k] ?? headers[k.toLowerCase()] ?? null },
      json: async () => (typeof body === 'string' ? JSON.parse(body) : body),
    };
  };
  return { calls, fetchFn };
}

test('join posts the PIN as JSON and returns the answer', async () => {
  const answer = { peer: 'ab', token: 'tt', polite: false, peers: 1, ice_servers: [], ice_transport_policy: 'all', poll_timeout: 25 };
  const f = fakeFetch({ body: answer });
  const api = createApi({ fetchFn: f.fetchFn });
  assert.deepEqual(await api.join('123456'), answer);
  assert.equal(f.calls[0].url, '/api/join');
  assert.equal(f.calls[0].method, 'POST');
  assert.equal(f.calls[0].body, '{"pin":"123456"}');
  assert.equal(f.calls[0].headers['Content-Type'], 'application/json');
  assert.equal(f.calls[0].headers.Authorization, undefined);
});

test('send, poll, turn and leave carry the bearer token', async () => {
  const f = fakeFetch((url) => (url.startsWith('/api/poll') ? { body: { messages: [{ seq: 1, type: 'x', data: null }] } }
    : url === '/api/leave' ? { status: 204 } : { status: 202, body: { seq: 4 } }));
  const api = createApi({ fetchFn: f.fetchFn });
  assert.deepEqual(await api.send('tok', 'media', { audio: true }), { seq: 4 });
  assert.equal(f.calls[0].body, '{"type":"media","data":{"audio":true}}');
  assert.equal(f.calls[0].headers['Content-Type'], 'application/json', 'the server refuses other types (415)');
  assert.deepEqual(await api.poll('tok', 17, new AbortController().signal), [{ seq: 1, type: 'x', data: null }]);
  assert.equal(f.calls[1].url, '/api/poll?after=17');
  assert.equal(f.calls[1].method, 'GET');
  assert.equal(f.calls[1].cache, 'no-store');
  assert.equal(await api.leave('tok'), null);
  for (const c of f.calls) assert.equal(c.headers.Authorization, 'Bearer tok');
});

test('sendBatch posts the messages as one {"messages":[...]} body with the bearer token', async () => {
  const f = fakeFetch(() => ({ status: 202, body: { seqs: [5, 6] } }));
  const api = createApi({ fetchFn: f.fetchFn });
  const batch = [{ type: 'description', data: { n: 1 } }, { type: 'candidate', data: { n: 2 } }];
  assert.deepEqual(await api.sendBatch('tok', batch), { seqs: [5, 6] });
  assert.equal(f.calls[0].url, '/api/send');
  assert.equal(f.calls[0].body, JSON.stringify({ messages: batch }));
  assert.equal(f.calls[0].headers.Authorization, 'Bearer tok');
});

test('an error answer becomes ApiError with status, code and message', async () => {
  const f = fakeFetch({ status: 409, body: { error: 'room_full', message: 'Two people are already in the call.' } });
  const api = createApi({ fetchFn: f.fetchFn });
  await assert.rejects(api.join('123456'), (e) => e instanceof ApiError && e.status === 409
    && e.code === 'room_full' && e.message === 'Two people are already in the call.');
});

test('429 carries Retry-After in seconds', async () => {
  const f = fakeFetch({ status: 429, body: { error: 'rate_limited', message: 'wait' }, headers: { 'Retry-After': '17' } });
  const api = createApi({ fetchFn: f.fetchFn });
  await assert.rejects(api.join('123456'), (e) => e.code === 'rate_limited' && e.retryAfter === 17);
  assert.equal(retryAfterSeconds('5'), 5);
  assert.equal(retryAfterSeconds('Wed, 21 Oct 2015 07:28:00 GMT'), 0);
  assert.equal(retryAfterSeconds(null), 0);
  assert.equal(retryAfterSeconds('-3'), 0);
});

test('no answer at all is status 0, code network', async () => {
  const api = createApi({ fetchFn: fakeFetch(new TypeError('Failed to fetch')).fetchFn });
  await assert.rejects(api.send('t', 'x', {}), (e) => e instanceof ApiError && e.status === 0 && e.code === 'network');
});

test('a non-JSON error page (a proxy) still gives an ApiError', async () => {
  const f = fakeFetch({ status: 502, body: '<html>' });
  const api = createApi({ fetchFn: f.fetchFn });
  await assert.rejects(api.turn('t'), (e) => e.status === 502 && e.code === 'http_502');
  const ok = fakeFetch({ status: 200, body: '<html>' });
  await assert.rejects(createApi({ fetchFn: ok.fetchFn }).turn('t'), (e) => e.code === 'bad_response');
  const noList = fakeFetch({ status: 200, body: { messages: 3 } });
  await assert.rejects(createApi({ fetchFn: noList.fetchFn }).poll('t', 0), (e) => e.code === 'bad_response');
});

test('requests time out; a poll is bounded by its caller instead', async () => {
  const hang = (url, init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => {
    const e = new Error('aborted');
    e.name = 'AbortError';
    reject(e);
  }));
  const api = createApi({ fetchFn: hang, timeoutMs: 20 });
  await assert.rejects(api.join('123456'), (e) => e.status === 0 && e.code === 'network');
  const ctl = new AbortController();
  const p = api.poll('t', 0, ctl.signal);
  let settled = false;
  p.catch(() => {}).finally(() => { settled = true; });
  await new Promise((r) => setTimeout(r, 60)); // longer than timeoutMs: the poll must still be open
  assert.equal(settled, false);
  ctl.abort();
  await assert.rejects(p, (e) => e.code === 'network');
});

test('leaveBeacon sends the token in the body (sendBeacon cannot set headers)', () => {
  const sent = [];
  const api = createApi({ fetchFn: fakeFetch({ status: 204 }).fetchFn, sendBeacon: (u, d) => { sent.push([u, d]); return true; } });
  assert.equal(api.leaveBeacon('abc'), true);
  assert.deepEqual(sent, [['/api/leave', '{"token":"abc"}']]);
  const f = fakeFetch({ status: 204 });
  const noBeacon = createApi({ fetchFn: f.fetchFn });
  noBeacon.leaveBeacon('abc');
  assert.equal(f.calls[0].keepalive, true);
  assert.equal(f.calls[0].body, '{"token":"abc"}');
});
