// serve.test.mjs: scripts/serve.sh runs coturn beside lighttpd: its URLs are
// the default ICE servers, FORCE_RELAY and TURN=0 work, a taken port stops the
// start, and however the server stops (SIGTERM, Ctrl-C, SIGKILL) coturn stops.
// scripts/configure's coturn settings: TURN_LISTEN_IP (coturn on an address of
// its own, even on lighttpd's port) and TURN_ALLOWED_PEERS, garbage refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { BIN, ROOT, alive, freshPin, launchServer, request, startServer, waitFor, within } from '../integration/harness.mjs';
import { coturnPid, freeLowPort, runConfigure, startTurnServer, turnEntry, turnPorts } from './harness.mjs';
import { connect } from './stun.mjs';

const GONE_MS = 10000;
const gone = (pid, what) => waitFor(() => !alive(pid), GONE_MS, `${what} (pid ${pid}) to exit`);
const urlsOf = (iceServers) => iceServers.flatMap((s) => s.urls);

describe('serve.sh and coturn', () => {
  it('SIGTERM to the server stops coturn too', async () => {
    const srv = await startTurnServer();
    const pid = srv.coturnPid();
    try {
      assert.ok(pid && alive(pid), `coturn pid ${pid}`);
      assert.equal(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'turnserver');
      assert.equal(fs.statSync(path.join(srv.state, 'turnserver.conf')).mode & 0o777, 0o600, 'it holds the secret');
    } finally {
      await srv.stop(); // fails when coturn outlives lighttpd
    }
    assert.equal(alive(pid), false);
  });

  it('SIGKILL to the server (lighttpd) leaves no coturn and no tuturu-api behind', async () => {
    const srv = await startTurnServer();
    const turn = srv.coturnPid();
    const kids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(srv.pid);
      } catch {
        return false;
      }
    });
    assert.ok(kids.includes(turn) && kids.length >= 2, `coturn ${turn} and tuturu-api are lighttpd's children (${kids})`);
    process.kill(srv.pid, 'SIGKILL');
    await srv.exited;
    for (const pid of kids) await gone(pid, 'a child of the killed lighttpd');
    await srv.stop();
  });

  it('Ctrl-C (SIGINT to the terminal\'s process group) stops lighttpd, tuturu-api and coturn', async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-turn-'));
    const port = await freeLowPort();
    const env = { ...process.env, ...(await turnPorts()), TURN: '1', TUTURU_STATE: state, PORT: String(port), TUTURU_BIN: BIN };
    // its own process group, as a shell gives a foreground job
    const child = spawn(path.join(ROOT, 'scripts/serve.sh'), [], { env, detached: true, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      await waitFor(async () => (await request(`http://127.0.0.1:${port}`, 'GET', '/api/health')).status === 200,
        20000, 'the server to answer');
      const turn = coturnPid(state);
      assert.ok(turn && alive(turn));
      process.kill(-child.pid, 'SIGINT');
      await within(exited, GONE_MS, 'lighttpd to exit on SIGINT');
      await gone(turn, 'coturn');
      const api = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${state}/tuturu.conf`);
        } catch {
          return false;
        }
      });
      for (const p of api) await gone(Number(p), 'tuturu-api');
      fs.rmSync(state, { recursive: true, force: true });
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    }
  });

  it('FORCE_RELAY=1 makes join answer ice_transport_policy "relay" with coturn\'s URLs', async () => {
    const srv = await startTurnServer({ env: { FORCE_RELAY: '1' } });
    try {
      const r = await srv.join(freshPin());
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ice_transport_policy, 'relay');
      assert.ok(urlsOf(r.json.ice_servers).includes(`turn:127.0.0.1:${srv.turnPort}?transport=udp`), r.text);
    } finally {
      await srv.stop();
    }
  });

  it('URLs the operator sets win, an empty list included', async () => {
    const mine = 'turns:turn.example.org:443?transport=tcp';
    const srv = await startTurnServer({ env: { TUTURU_TURN_URLS: mine, TUTURU_STUN_URLS: '' } });
    try {
      const r = await srv.join(freshPin());
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(urlsOf(r.json.ice_servers), [mine]);
      assert.ok(alive(srv.coturnPid()), 'coturn runs all the same');
    } finally {
      await srv.stop();
    }
  });

  it('TURN=0: no coturn, and no STUN or TURN URLs', async () => {
    const srv = await startServer({ env: { TURN: '0' } });
    try {
      const r = await srv.join(freshPin());
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.ice_servers, []);
      assert.equal(fs.existsSync(path.join(srv.state, 'turnserver.conf')), false);
      assert.equal(coturnPid(srv.state), null);
    } finally {
      await srv.stop();
    }
  });

  it('a taken TURN port stops the start with a message naming it (no coturn sharing it)', async () => {
    const ports = await turnPorts();
    const squatter = dgram.createSocket('udp4');
    await new Promise((resolve) => squatter.bind(Number(ports.TURN_PORT), '127.0.0.1', resolve));
    try {
      const srv = await launchServer({ env: { TURN: '1', ...ports } });
      const st = await within(srv.exited, 20000, 'serve.sh to give up');
      assert.notEqual(st.code, 0);
      assert.match(fs.readFileSync(srv.serveLog, 'utf8'), new RegExp(`udp port ${ports.TURN_PORT} is taken`));
      assert.equal(coturnPid(srv.state), null);
      await srv.stop();
    } finally {
      squatter.close();
    }
  });
});

/** GET https://host:port/path accepting any certificate: {status, text}. */
function httpsGet(host, port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host, port, path: urlPath, rejectUnauthorized: false, timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`https://${host}:${port}${urlPath}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

/** The values of `name=` lines in a coturn configuration text. */
const confValues = (text, name) => text.split('\n').filter((l) => l.startsWith(`${name}=`)).map((l) => l.slice(name.length + 1));

describe('configure: TURN_LISTEN_IP and TURN_ALLOWED_PEERS', () => {
  it('coturn listens on BIND by default, on TURN_LISTEN_IP when set (and relays from it)', async () => {
    const plain = await runConfigure();
    const own = await runConfigure({ TURN_LISTEN_IP: '127.0.0.2' });
    try {
      assert.equal(plain.code, 0, plain.out);
      assert.deepEqual(confValues(plain.conf, 'listening-ip'), ['127.0.0.1']);
      assert.equal(own.code, 0, own.out);
      assert.deepEqual(confValues(own.conf, 'listening-ip'), ['127.0.0.2']);
      assert.deepEqual(confValues(own.conf, 'relay-ip'), ['127.0.0.2']);
      const web = fs.readFileSync(path.join(own.state, 'lighttpd.conf'), 'utf8');
      assert.match(web, /^server\.bind\s*=\s*"127\.0\.0\.1"/m, 'lighttpd stays on BIND');
      assert.deepEqual(confValues(own.conf, 'allowed-peer-ip'), ['127.0.0.2', '127.0.0.1']);
    } finally {
      for (const r of [plain, own]) fs.rmSync(path.dirname(r.state), { recursive: true, force: true });
    }
  });

  it('TURN_ALLOWED_PEERS becomes allowed-peer-ip ranges (CIDR converted), after the relay\'s own address', async () => {
    const r = await runConfigure({ TURN_RELAY_IP: '192.168.1.20', TURN_ALLOWED_PEERS: ' 192.168.1.0/24,10.1.2.3  172.16.0.1-172.16.0.9,' });
    try {
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(confValues(r.conf, 'allowed-peer-ip'),
        ['192.168.1.20', '192.168.1.0-192.168.1.255', '10.1.2.3', '172.16.0.1-172.16.0.9']);
      assert.doesNotMatch(r.conf, /allow-loopback-peers/);
    } finally {
      fs.rmSync(path.dirname(r.state), { recursive: true, force: true });
    }
  });

  const garbage = {
    TURN_ALLOWED_PEERS: ['garbage', '10.0.0.0/33', '10.0.0.1/8', '10.0.0.9-10.0.0.1', '::1', 'fc00::-fdff::',
      '10.0.0.256', '010.0.0.1', '10.0.0', '10.0.0.1-', '10.0.0.1;10.0.0.2', '10.0.0.1\nallow-loopback-peers',
      'example.org', '10.0.0.1/'],
    TURN_LISTEN_IP: ['::1', 'localhost', '127.0.0.256', '127.0.0.2 127.0.0.3', '127.0.0.2,127.0.0.3',
      '127.0.0.2\nallow-loopback-peers', '127.0.0.2/32', '0127.0.0.2', '127.0.0.2:3478'],
    // (it becomes an allowed-peer-ip line too)
    TURN_EXTERNAL_IP: ['1.2.3', '198.51.100.7/10.0.0.2', '198.51.100.0/24', 'turn.example.org'],
  };
  for (const [name, values] of Object.entries(garbage)) {
    for (const value of values) {
      it(`${name}=${JSON.stringify(value)} is refused, naming it, before anything is written`, async () => {
        const r = await runConfigure({ [name]: value });
        try {
          assert.notEqual(r.code, 0, r.out);
          assert.match(r.out, new RegExp(`configure: ${name}`), r.out);
          assert.equal(fs.existsSync(r.state), false, 'no state directory made');
        } finally {
          fs.rmSync(path.dirname(r.state), { recursive: true, force: true });
        }
      });
    }
  }

  // Two addresses: the page on 127.0.0.1:p (lighttpd), TURN over TLS on
  // 127.0.0.2:p (coturn). With listening-ip from BIND coturn took
  // 127.0.0.1:p first and lighttpd could not start.
  it('TURN_LISTEN_IP=127.0.0.2 with TURN_TLS_PORT equal to lighttpd\'s https port: both start and both answer', async () => {
    const p = String(await freeLowPort());
    const srv = await startTurnServer({ env: { TURN_LISTEN_IP: '127.0.0.2', HTTPS_PORT: p, TURN_TLS_PORT: p } });
    let c;
    try {
      const page = await httpsGet('127.0.0.1', p, '/api/health'); // (the self-signed certificate)
      assert.equal(page.status, 200, page.text);
      const r = await srv.join(freshPin());
      assert.equal(r.status, 200, r.text);
      assert.ok(urlsOf(r.json.ice_servers).includes(`turns:127.0.0.2:${p}?transport=tcp`), r.text);
      const t = turnEntry(r.json.ice_servers);
      c = await connect({ host: '127.0.0.2', port: Number(p), transport: 'tls', tlsOptions: { rejectUnauthorized: false } });
      const a = await c.allocate({ username: t.username, password: t.credential });
      assert.equal(a.ok, true, `allocate over TLS on 127.0.0.2:${p}: ${a.code} ${a.reason}`);
      assert.equal(a.relayed.ip, '127.0.0.2');
      await c.refresh(0);
    } finally {
      c?.close();
      await srv.stop();
    }
  });
});
