// oneport.test.mjs: install.sh --one-port, as a user without root (--prefix,
// an unprivileged https port): HAProxy shares the https port between the
// page and TURN over TLS. After the install the page answers there and a
// TURN Allocate over TLS with the join's credentials succeeds there; the
// control script starts, stops and reports the router with the other
// servers; a re-run changes nothing; uninstall leaves nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { alive, freshPin, request, waitFor } from '../integration/harness.mjs';
import { connect } from '../turn/stun.mjs';
import { turnEntry } from '../turn/harness.mjs';
import { INSTALL_MS, USER_UID, install, pidOf, ports, processesWith, removeScratch, runAs, scratch } from './harness.mjs';

const insecure = { rejectUnauthorized: false };

/** GET path on 127.0.0.1:port over TLS offering ALPN alpn (a browser offers h2, http/1.1). */
function httpsGet(port, urlPath, alpn) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, agent: false, ALPNProtocols: alpn, ...insecure },
      (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text }));
      });
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${urlPath}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

/** Something accepts TCP connections on 127.0.0.1:port. */
const accepts = (port) => new Promise((resolve) => {
  const sock = net.connect({ host: '127.0.0.1', port });
  sock.once('connect', () => { sock.destroy(); resolve(true); });
  sock.once('error', () => resolve(false));
});

describe('install.sh --one-port --prefix, without root', { timeout: 5 * INSTALL_MS }, () => {
  let s;
  let p;
  let state;
  let base;
  const ctl = (cmd) => runAs([path.join(s.prefix, 'bin/tuturu'), cmd], { cwd: s.dir, home: s.home });
  /** A TURN Allocate over TLS on the https port with a fresh join's credentials. */
  const allocateOverTls = async () => {
    const join = await request(base, 'POST', '/api/join', { body: { pin: freshPin() } });
    assert.equal(join.status, 200, join.text);
    const t = turnEntry(join.json.ice_servers);
    const c = await connect({ port: p.https, transport: 'tls', tlsOptions: insecure, timeoutMs: 10000 });
    try {
      return await c.allocate({ username: t.username, password: t.credential });
    } finally {
      c.close();
    }
  };

  before(async () => {
    s = scratch();
    p = await ports();
    state = path.join(s.prefix, 'var');
    base = `http://127.0.0.1:${p.web}`;
  });
  after(async () => {
    if (fs.existsSync(path.join(s.prefix, 'bin/tuturu'))) await ctl('stop');
    removeScratch(s);
  });

  it('installs and serves the page on the https port through the router', async () => {
    const r = await install(s, ['--prefix', s.prefix, '--one-port', ...p.args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /tuturu install \(local, one port, no root\)/);
    assert.match(r.stdout, new RegExp(`One port: +page, API and TURN over TLS on tcp ${p.https} \\(HAProxy\\)`));
    const page = await httpsGet(p.https, '/', ['h2', 'http/1.1']);
    assert.equal(page.status, 200);
    assert.match(page.text, /<!doctype html>/i);
    const health = await httpsGet(p.https, '/api/health'); // no ALPN: a monitoring probe
    assert.equal(health.status, 200, health.text);
  });

  it('offers turns: on the https port, and coturn\'s own TLS port is closed', async () => {
    const join = await request(base, 'POST', '/api/join', { body: { pin: freshPin() } });
    assert.equal(join.status, 200, join.text);
    const urls = join.json.ice_servers.flatMap((e) => e.urls);
    assert.ok(urls.some((u) => u.startsWith('turns:') && u.endsWith(`:${p.https}?transport=tcp`)), urls.join(' '));
    assert.ok(!urls.some((u) => u.includes(`:${p.tls}?`)), urls.join(' '));
    assert.equal(await accepts(p.tls), false, `nothing listens on ${p.tls}`);
  });

  it('allocates a relay over TLS on the https port with the join\'s credentials', async () => {
    const a = await allocateOverTls();
    assert.ok(a.ok, `Allocate: ${a.code} ${a.reason}`);
    assert.ok(a.relayed.port > 0);
  });

  it('runs HAProxy beside lighttpd, tuturu-api and coturn, all as the installing user; its files are private', () => {
    const procs = processesWith(s.prefix);
    const names = procs.map((x) => x.cmd.split(' ')[0].split('/').pop()).sort();
    assert.deepEqual(names, ['haproxy', 'lighttpd', 'turnserver', 'tuturu-api'], JSON.stringify(procs));
    assert.ok(procs.every((x) => x.uid === USER_UID), JSON.stringify(procs));
    const router = pidOf(path.join(state, 'haproxy.pid'));
    assert.ok(procs.some((x) => x.pid === router && x.cmd.includes(`${state}/haproxy.cfg`)), `pid file ${router}`);
    for (const f of ['haproxy.cfg', 'router.pem']) assert.equal(fs.statSync(path.join(state, f)).mode & 0o777, 0o600, f);
    assert.equal(fs.statSync(path.join(state, 'router')).mode & 0o777, 0o700, 'router/, the sockets\' directory');
  });

  it('a re-run with only --prefix keeps the router running, unchanged', async () => {
    const router = pidOf(path.join(state, 'haproxy.pid'));
    const again = await install(s, ['--prefix', s.prefix]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Starting tuturu +ok .*already running, unchanged/);
    assert.equal(pidOf(path.join(state, 'haproxy.pid')), router);
  });

  it('the control script stops, reports and starts the router with the other servers', async () => {
    const router = pidOf(path.join(state, 'haproxy.pid'));
    const stop = await ctl('stop');
    assert.equal(stop.code, 0, stop.stderr);
    await waitFor(() => !alive(router), 10000, 'haproxy to exit');
    assert.deepEqual(processesWith(s.prefix), []);
    assert.equal(await accepts(p.https), false);
    assert.equal(await accepts(p.turn), false, 'TURN\'s TCP port (the router\'s) is closed');
    const down = await ctl('status');
    assert.equal(down.code, 1);
    assert.match(down.stdout, /router \(haproxy\): stopped/);

    const start = await ctl('start');
    assert.equal(start.code, 0, start.stdout + start.stderr);
    const up = await ctl('status');
    assert.equal(up.code, 0, up.stdout);
    assert.match(up.stdout, /lighttpd: running[\s\S]*coturn: running[\s\S]*router \(haproxy\): running \(pid \d+\)[\s\S]*health: \{"status":"ok"/);
    const a = await allocateOverTls();
    assert.ok(a.ok, `Allocate after start: ${a.code} ${a.reason}`);
    const logs = await ctl('logs');
    assert.equal(logs.code, 0);
    assert.match(logs.stdout, /haproxy\.log/);
  });

  it('a re-run without --one-port drops the router: coturn takes TLS on its own port again', async () => {
    const router = pidOf(path.join(state, 'haproxy.pid'));
    const r = await install(s, ['--prefix', s.prefix, ...p.args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitFor(() => !alive(router), 10000, 'the old router to exit');
    assert.ok(!fs.existsSync(path.join(state, 'haproxy.cfg')) && !fs.existsSync(path.join(state, 'router')));
    await waitFor(() => accepts(p.tls), 10000, `coturn on ${p.tls}`);
    const page = await httpsGet(p.https, '/api/health', ['http/1.1']);
    assert.equal(page.status, 200, 'lighttpd holds the https port itself');
    const back = await install(s, ['--prefix', s.prefix, '--one-port', ...p.args]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const a = await allocateOverTls();
    assert.ok(a.ok, `Allocate with the router back: ${a.code} ${a.reason}`);
  });

  it('uninstall stops the router too and leaves nothing behind', async () => {
    const pids = processesWith(s.prefix).map((x) => x.pid);
    assert.equal(pids.length >= 4, true);
    const out = await ctl('uninstall');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    for (const pid of pids) await waitFor(() => !alive(pid), 10000, `pid ${pid} to exit`);
    assert.equal(fs.existsSync(s.prefix), false);
    for (const port of [p.https, p.web, p.turn, p.proxy]) assert.equal(await accepts(port), false, `port ${port} closed`);
    assert.deepEqual(fs.readdirSync(s.dir).sort(), ['home', 'src']);
  });
});
