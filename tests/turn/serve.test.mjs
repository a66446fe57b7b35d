// serve.test.mjs: scripts/serve.sh runs coturn beside lighttpd: its URLs are
// the default ICE servers, FORCE_RELAY and TURN=0 work, a taken port stops the
// start, and however the server stops (SIGTERM, Ctrl-C, SIGKILL) coturn stops.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { BIN, ROOT, alive, freshPin, launchServer, request, startServer, waitFor, within } from '../integration/harness.mjs';
import { coturnPid, freeLowPort, startTurnServer, turnPorts } from './harness.mjs';

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
