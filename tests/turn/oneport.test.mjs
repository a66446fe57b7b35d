// oneport.test.mjs: ONE_PORT=1 HTTPS_PORT=p. HAProxy (haproxy.cfg) holds
// port p and shares it: a TLS client that offers ALPN (a page) reaches
// lighttpd, one that offers none (Chromium's turns: client) reaches coturn,
// TLS ended by HAProxy; TURN over TCP on TURN_PORT goes through it too. The
// PROXY protocol carries each client's address: tuturu-api counts two client
// addresses apart (its join limit), and coturn answers each with its own
// address. Garbage on the port closes that connection and nothing else.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { alive, freshPin, waitFor } from '../integration/harness.mjs';
import { freeLowPort, readReply, runConfigure, startPeer, startTurnServer, turnEntry } from './harness.mjs';
import { connect } from './stun.mjs';

const insecure = { rejectUnauthorized: false };

/**
 * An HTTPS request to 127.0.0.1:port. alpn: the protocols offered (none:
 * like wget or Node's own https). Resolves {status, json, text, alpn}.
 */
function httpsRequest(port, method, urlPath, { alpn, localAddress, body } = {}) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, method, path: urlPath, localAddress, agent: false, ...insecure,
      ...(alpn ? { ALPNProtocols: alpn } : {}),
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
    }, (res) => {
      const alpn = res.socket?.alpnProtocol; // (read before the socket may go back)
      readReply(res).then((r) => resolve({ ...r, alpn }), reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${urlPath}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Bytes to the port, then what comes back until the server closes (bounded). */
function rawExchange(port, bytes, { secure = false, ms = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = secure ? tls.connect({ host: '127.0.0.1', port, ...insecure }) : net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`the server kept the connection open ${ms} ms`)); }, ms);
    sock.once(secure ? 'secureConnect' : 'connect', () => sock.write(bytes));
    sock.on('data', (d) => { got = Buffer.concat([got, d]); });
    sock.on('error', () => {});
    sock.on('close', () => { clearTimeout(timer); resolve(got); });
  });
}

describe('ONE_PORT=1: the page, the API and TURN over TLS on one port', () => {
  let srv;
  let port;
  let peer;
  /** The HAProxy serving this state directory (serve.sh runs it in the foreground: no pid file). */
  const routerPid = () => {
    const pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(path.join(srv.state, 'haproxy.cfg'));
      } catch {
        return false;
      }
    });
    assert.equal(pids.length, 1, `one haproxy for ${srv.state}: ${pids}`);
    return Number(pids[0]);
  };

  before(async () => {
    port = await freeLowPort();
    srv = await startTurnServer({
      env: { ONE_PORT: '1', HTTPS_PORT: String(port), TURN_PROXY_PORT: String(await freeLowPort()), TUTURU_JOIN_LIMIT: '2' },
    });
    await waitFor(async () => (await httpsRequest(port, 'GET', '/api/health', { alpn: ['http/1.1'] }).catch(() => ({}))).status === 200,
      15000, 'health through the router');
    peer = await startPeer();
  });
  after(async () => {
    await peer?.stop();
    if (!srv) return;
    const pid = routerPid();
    await srv.stop();
    await waitFor(() => !alive(pid), 10000, `haproxy (pid ${pid}) to exit with lighttpd`);
  });

  it('serves the page to a browser-like client (ALPN h2, http/1.1) from lighttpd', async () => {
    const r = await httpsRequest(port, 'GET', '/', { alpn: ['h2', 'http/1.1'] });
    assert.equal(r.status, 200);
    assert.match(r.text, /<!doctype html>/i);
    assert.equal(r.alpn, 'http/1.1', 'lighttpd answered the TLS handshake (HTTP/2 is off there)');
  });

  it('serves HTTPS to a client that offers no ALPN (wget, a monitoring probe)', async () => {
    const r = await httpsRequest(port, 'GET', '/api/health');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ok');
  });

  it('offers turns: on the one port and UDP/TCP TURN on TURN_PORT in the join', async () => {
    const r = await httpsRequest(port, 'POST', '/api/join', { alpn: ['http/1.1'], body: { pin: freshPin() }, localAddress: '127.0.0.9' });
    assert.equal(r.status, 200, r.text);
    const urls = r.json.ice_servers.flatMap((s) => s.urls);
    assert.ok(urls.includes(`turns:127.0.0.1:${port}?transport=tcp`), urls.join(' '));
    assert.ok(urls.includes(`turn:127.0.0.1:${srv.turnPort}?transport=udp`), urls.join(' '));
    assert.ok(urls.includes(`turn:127.0.0.1:${srv.turnPort}?transport=tcp`), urls.join(' '));
    assert.ok(!urls.some((u) => u.endsWith(`:${srv.tlsPort}?transport=tcp`)), 'no URL for coturn\'s own TLS port, which is off');
    const t = turnEntry(r.json.ice_servers);
    assert.ok(t.username && t.credential);
  });

  for (const [transport, where] of [['tls', 'the one port'], ['tcp', 'TURN_PORT']]) {
    it(`relays with the join's credentials over ${transport.toUpperCase()} on ${where}`, async () => {
      const j = await httpsRequest(port, 'POST', '/api/join', { alpn: ['http/1.1'], body: { pin: freshPin() }, localAddress: '127.0.0.8' });
      const t = turnEntry(j.json.ice_servers);
      const c = await connect({ port: transport === 'tls' ? port : srv.turnPort, transport, tlsOptions: insecure });
      try {
        const a = await c.allocate({ username: t.username, password: t.credential });
        assert.ok(a.ok, `Allocate: ${a.code} ${a.reason}`);
        assert.ok((await c.createPermission('127.0.0.1')).ok);
        c.send('127.0.0.1', peer.port, 'through the router');
        const echo = await c.receive(5000);
        assert.equal(echo.data.toString(), 'through the router');
      } finally {
        c.close();
      }
    });
  }

  it('coturn sees each client\'s own address, not the router\'s (PROXY v2)', async () => {
    for (const [transport, p, ip] of [['tls', port, '127.0.0.5'], ['tcp', srv.turnPort, '127.0.0.6']]) {
      const c = await connect({ port: p, transport, tlsOptions: insecure, localAddress: ip });
      try {
        assert.equal((await c.binding()).ip, ip, `XOR-MAPPED-ADDRESS over ${transport}`);
      } finally {
        c.close();
      }
    }
  });

  it('tuturu-api counts two client addresses apart behind the router (join_limit 2)', async () => {
    const join = (ip, alpn) => httpsRequest(port, 'POST', '/api/join', { alpn, body: { pin: freshPin() }, localAddress: ip });
    for (const alpn of [['h2', 'http/1.1'], undefined]) { // through lighttpd's TLS, and through HAProxy's
      const a = alpn ? '127.0.0.2' : '127.0.0.4';
      const b = alpn ? '127.0.0.3' : '127.0.0.7';
      assert.equal((await join(a, alpn)).status, 200);
      assert.equal((await join(a, alpn)).status, 200);
      const third = await join(a, alpn);
      assert.equal(third.status, 429, `the third join from ${a}: ${third.text}`);
      assert.equal(third.json.error, 'rate_limited');
      const other = await join(b, alpn);
      assert.equal(other.status, 200, `${b} is another client: ${other.text}`);
    }
  });

  it('closes a connection that is not TLS, or TLS with neither TURN nor HTTP in it, and goes on serving', async () => {
    const pid = routerPid();
    assert.equal((await rawExchange(port, 'GET / HTTP/1.0\r\n\r\n')).length, 0, 'plain HTTP on the TLS port');
    assert.equal((await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3]))).length, 0, 'a broken ClientHello');
    assert.equal((await rawExchange(port, Buffer.from('\xff\xfe garbage', 'latin1'), { secure: true })).length, 0, 'TLS, then garbage');
    assert.ok(alive(pid), 'haproxy still runs');
    assert.equal((await httpsRequest(port, 'GET', '/api/health', { alpn: ['http/1.1'] })).status, 200);
    const c = await connect({ port, transport: 'tls', tlsOptions: insecure });
    try {
      assert.equal((await c.binding()).ip, '127.0.0.1');
    } finally {
      c.close();
    }
  });
});

describe('ONE_PORT settings', () => {
  for (const [env, msg] of [
    [{ ONE_PORT: '1' }, /ONE_PORT=1 needs HTTPS_PORT/],
    [{ ONE_PORT: '1', HTTPS_PORT: '8443', TURN: '0' }, /needs TURN=1/],
    [{ ONE_PORT: 'yes', HTTPS_PORT: '8443' }, /ONE_PORT must be 0 or 1/],
    [{ ONE_PORT: '1', HTTPS_PORT: '8443', TURN_PROXY_PORT: '34x' }, /must be a number/],
    [{ ONE_PORT: '1', HTTPS_PORT: '8443', CONN_LIMIT: '-1' }, /CONN_LIMIT must be a number/],
  ]) {
    it(`${JSON.stringify(env)} is refused, naming the setting, before anything is written`, async () => {
      const r = await runConfigure(env);
      assert.notEqual(r.code, 0);
      assert.match(r.out, msg);
      assert.equal(fs.existsSync(path.join(r.state, 'haproxy.cfg')), false);
      assert.equal(r.conf, null);
    });
  }

  it('writes coturn\'s tcp-proxy-port and a router configuration of mode 600 with its certificate', async () => {
    const proxy = String(await freeLowPort());
    const r = await runConfigure({ ONE_PORT: '1', HTTPS_PORT: '8443', TURN_PROXY_PORT: proxy });
    assert.equal(r.code, 0, r.out);
    assert.match(r.conf, new RegExp(`^tcp-proxy-port=${proxy}$`, 'm'));
    const cfg = fs.readFileSync(path.join(r.state, 'haproxy.cfg'), 'utf8');
    assert.match(cfg, /bind 127\.0\.0\.1:8443\n/);
    assert.match(cfg, new RegExp(`server coturn 127\\.0\\.0\\.1:${proxy} send-proxy-v2`));
    for (const f of ['haproxy.cfg', 'router.pem']) {
      assert.equal(fs.statSync(path.join(r.state, f)).mode & 0o777, 0o600, f);
    }
    const web = fs.readFileSync(path.join(r.state, 'lighttpd.conf'), 'utf8');
    assert.match(web, /extforward\.hap-PROXY = "enable"/);
    assert.ok(!web.includes(':8443"'), 'lighttpd leaves the port to the router');
    const plain = await runConfigure({ HTTPS_PORT: '8443' }, r.state);
    assert.equal(plain.code, 0, plain.out);
    assert.ok(!fs.existsSync(path.join(r.state, 'haproxy.cfg')) && !fs.existsSync(path.join(r.state, 'router.pem')),
      'ONE_PORT=0 removes the router\'s files');
    assert.doesNotMatch(plain.conf, /tcp-proxy-port/);
  });
});
