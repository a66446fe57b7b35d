// connections.test.mjs: one address holding lighttpd's connections with
// half-sent request headers cannot keep others out for long, and the short
// header timeout that frees them does not cut held polls (lighttpd.conf).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { joinPair, startHeldPoll, startServer, waitFor, within } from './harness.mjs';

// lighttpd.conf: server.max-read-idle for the request-header phase. lighttpd
// checks its timeouts once a second and closes when idle > the setting.
const HEADER_TIMEOUT_S = 10;
const CLOSE_BOUND_MS = (HEADER_TIMEOUT_S + 3) * 1000;
// MAX_FDS 300: scripts/configure makes max-connections 300/2 - 100 = 50.
const MAX_CONNS = 50;
const ATTACKERS = MAX_CONNS + 20;

/** GET path from a given local (loopback) address; resolves {status, json}. */
function getFrom(localAddress, port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(body) }));
    });
    req.on('error', reject);
  });
}

/** A socket from 127.0.0.1 that sends half a request header and then nothing. */
function halfHeader(port) {
  const s = net.connect({ port, host: '127.0.0.1' });
  const sock = { closedAt: 0, opened: Date.now() };
  s.on('error', () => {});
  s.on('close', () => (sock.closedAt = Date.now()));
  s.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
  sock.destroy = () => s.destroy();
  return sock;
}

describe(`half-sent headers from one address (max-connections ${MAX_CONNS})`, () => {
  let srv;
  const socks = [];
  before(async () => {
    srv = await startServer({ env: { MAX_FDS: '300', TUTURU_POLL_TIMEOUT: '60', TUTURU_PEER_GRACE: '90' } });
  });
  after(async () => {
    for (const s of socks) s.destroy();
    await srv?.stop();
  });

  it('health from another address answers, the sockets are closed, a held poll lives on', async () => {
    const { a, b } = await joinPair(srv);
    const poll = await startHeldPoll(srv, b, 0);
    const start = Date.now();
    for (let i = 0; i < ATTACKERS; i++) socks.push(halfHeader(srv.port));

    // Every slot is taken (or soon): health from 127.0.0.2 waits in the
    // listen backlog until the header timeout frees slots.
    const health = await within(getFrom('127.0.0.2', srv.port, '/api/health'),
      CLOSE_BOUND_MS + 3000, 'GET /api/health from 127.0.0.2 while 127.0.0.1 holds every connection');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');

    // The server closes each half-header socket within the header timeout of
    // its accept; those left in the backlog are accepted one timeout later.
    await waitFor(() => socks.every((s) => s.closedAt), 2 * CLOSE_BOUND_MS + 2000,
      'the server to close every half-header socket', 100);
    const first = socks.slice(0, MAX_CONNS - 5).map((s) => s.closedAt - start);
    assert.ok(Math.max(...first) <= CLOSE_BOUND_MS, `closed after ${Math.max(...first)} ms`);
    assert.ok(Math.min(...first) >= (HEADER_TIMEOUT_S - 1) * 1000, `closed after ${Math.min(...first)} ms`);

    // The poll held since before the attack outlived the header timeout.
    let settled = false;
    poll.answer.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the held poll was answered or cut');
    const sent = await srv.send(a.token, 'late', { ok: true });
    assert.equal(sent.status, 202, sent.text);
    const r = await within(poll.answer, 5000, 'the held poll');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.messages.map((m) => m.type), ['late']);
    assert.ok(Date.now() - start > HEADER_TIMEOUT_S * 1000);
  });
});
