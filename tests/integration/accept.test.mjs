// accept.test.mjs: tuturu-api when accepting a request fails (issue 10.2).
// The descriptor limit of the real process behind the real lighttpd is lowered
// with prlimit until accept() fails with EMFILE, then raised again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ROOT, alive, freshPin, startHeldPoll, startServer, waitFor, within } from './harness.mjs';

/**
 * The soft descriptor limit that leaves pid exactly `free` more descriptors:
 * the kernel hands out the lowest free number and refuses numbers >= the
 * limit, and the table has holes (and a high fd from the sanitizer).
 */
function limitLeaving(pid, free) {
  const used = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
  for (let n = 0, left = free; ; n++) {
    if (used.has(n)) continue;
    if (left-- === 0) return n;
  }
}
const tasks = (pid) => fs.readdirSync(`/proc/${pid}/task`).length;

/** The soft and hard RLIMIT_NOFILE of pid, as prlimit prints them. */
function nofile(pid) {
  const out = execFileSync('prlimit', ['--pid', String(pid), '--nofile', '--raw', '--noheadings',
    '--output=SOFT,HARD'], { encoding: 'utf8' });
  const [soft, hard] = out.trim().split(/\s+/);
  return { soft, hard };
}

/** Set the soft limit only: the hard one stays, so raising it again needs no privilege. */
function setSoft(pid, soft, hard) {
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
}

const logLines = (srv, re) => fs.readFileSync(srv.serveLog, 'utf8').split('\n').filter((l) => re.test(l));

/** Join n peers, each alone in its own room: a poll of theirs is held. */
async function loners(srv, n) {
  const peers = [];
  for (let i = 0; i < n; i++) {
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    peers.push(r.json);
  }
  return peers;
}

describe('accept failures (EMFILE) with polls held', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '60', TUTURU_PEER_GRACE: '70' } });
  });
  after(() => srv?.stop());

  it('threads back off and retry, the burst is logged once, health answers once descriptors return', async () => {
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    const peers = await loners(srv, 8);
    const threads = tasks(api);
    const limit = nofile(api);
    // Room for exactly 4 more descriptors: the 4 held polls below fill the table.
    setSoft(api, limitLeaving(api, 4), limit.hard);
    try {
      for (const p of peers.slice(0, 4)) await startHeldPoll(srv, p, 0); // answered at stop
      await waitFor(() => logLines(srv, /accept/).length > 0 || tasks(api) < threads,
        10000, 'accept() to fail (a log line, or a thread gone)');
      // A request now waits in the backlog: nothing can be accepted.
      const health = srv.request('GET', '/api/health');
      health.catch(() => {});
      await assert.rejects(within(health, 2500, 'health while no descriptor is free'), /no answer/);
      assert.equal(tasks(api), threads, 'a request thread ended when accept() failed');
      setSoft(api, limit.soft, limit.hard);
      const r = await within(health, 3000, 'health after the limit was raised');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'ok', r.text);
      assert.equal(srv.apiPid(), api, 'the same process serves');
      assert.equal(tasks(api), threads, 'thread count');
      // The other peers are served as before.
      for (const p of peers.slice(4)) assert.equal((await srv.leave(p.token)).status, 204);
      const failing = logLines(srv, /accept.*failing/);
      assert.equal(failing.length, 1, `one line for the burst, got:\n${logLines(srv, /accept/).join('\n')}`);
      assert.ok(logLines(srv, /accept/).length <= 2, logLines(srv, /accept/).join('\n'));
      assert.match(failing[0], /Too many open files/);
    } finally {
      setSoft(api, limit.soft, limit.hard);
    }
  });
});

describe('accept failing for good', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '2', TUTURU_PEER_GRACE: '4' } });
  });
  after(() => srv?.stop());

  it('the process exits non-zero after failing for 2 x poll_timeout + 5 s, and lighttpd starts a new one', async () => {
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    const limit = nofile(api);
    setSoft(api, limitLeaving(api, 0), limit.hard); // every accept fails
    // The thread blocked in accept() took its descriptor before the limit
    // changed: one request goes through, the next accept fails.
    assert.equal((await srv.request('GET', '/api/health')).status, 200);
    const started = Date.now();
    await waitFor(() => logLines(srv, /accept.*failing/).length === 1, 5000, 'the failure to be logged');
    await waitFor(() => !alive(api), 20000, `tuturu-api ${api} to give up and exit`);
    const took = Date.now() - started;
    assert.ok(took > 8000, `exited after ${took} ms, before the 9 s bound`);
    await srv.waitHealthy(10000);
    const next = srv.apiPid();
    assert.ok(next && next !== api, `lighttpd did not start a new tuturu-api (pid ${next})`);
    assert.equal(logLines(srv, /accept.*giving up/).length, 1, fs.readFileSync(srv.serveLog, 'utf8'));
    const exit = fs.readFileSync(srv.errorLog, 'utf8');
    assert.match(exit, /child exited: 1 /, `lighttpd saw exit status 1:\n${exit}`);
  });
});

describe('the listening socket made unusable', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '30', TUTURU_PEER_GRACE: '40' } });
  });
  after(() => srv?.stop());

  it('accept() failing with EINVAL ends the process at once with status 1; held polls are answered; lighttpd starts a new one', async () => {
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    const helper = path.join(srv.state, 'shut_listener');
    execFileSync('cc', ['-o', helper, path.join(ROOT, 'tests/integration/shut_listener.c')]);
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    const held = await startHeldPoll(srv, r.json, 0);
    // shutdown() on a duplicate of its fd 0 (pidfd_getfd): the socket it shares no longer listens.
    execFileSync(helper, [String(api)]);
    const answer = await within(held.answer, 5000, 'the poll held when the socket went away');
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { messages: [] });
    await waitFor(() => !alive(api), 5000, `tuturu-api ${api} to exit`);
    await srv.waitHealthy(10000);
    const next = srv.apiPid();
    assert.ok(next && next !== api, `lighttpd did not start a new tuturu-api (pid ${next})`);
    assert.equal(logLines(srv, /accept: Invalid argument.*giving up/).length, 1, fs.readFileSync(srv.serveLog, 'utf8'));
    assert.match(fs.readFileSync(srv.errorLog, 'utf8'), /child exited: 1 /);
  });
});
