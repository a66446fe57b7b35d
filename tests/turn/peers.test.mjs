// peers.test.mjs: which peers the production configuration lets the relay
// reach, measured on the real coturn with a relay address in a denied range.
//
// - The relay's own address is always allowed: two allocations on one coturn
//   whose relay address is private or documentation (a LAN install on
//   192.168.x.x) reach each other, while the addresses next to it stay
//   refused.
// - TURN_ALLOWED_PEERS opens the ranges it lists, and only those.
// - TURN_EXTERNAL_IP (the address the allocations are told) is allowed too.
//
// Everything runs in a network namespace this test makes (`ip netns add`,
// root only): its loopback interface holds 192.0.2.2 (the relay) and
// 192.0.2.3 (a UDP echo peer, in the same denied documentation range; this
// kernel has no dummy interfaces), coturn
// (scripts/configure's turnserver.conf, started with `ip netns exec`) listens
// on the namespace's own loopback, and the clients run there too
// (peers-scenario.mjs). The namespace has no route anywhere else; it is
// removed in after(), even when a test fails.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BIN, ROOT, alive, waitFor } from '../integration/harness.mjs';
import { restCredential, turnPorts } from './harness.mjs';

const RELAY = '192.0.2.2';
const ECHO = '192.0.2.3';
const SCENARIO = path.join(ROOT, 'tests/turn/peers-scenario.mjs');
const STOP_MS = 10000;
const needsRoot = process.getuid() === 0 ? false : 'needs root (ip netns add)';

/** Run a program; resolve {code, out} (stdout), reject with its stderr when it fails. */
function run(file, args, { env, timeout = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * scripts/configure with env (BIND 127.0.0.1, TURN_RELAY_IP 192.0.2.2 unless
 * env says otherwise) into a fresh state directory: {state, conf, port,
 * confText, username, password}.
 */
async function configure(env = {}) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-peers-'));
  const ports = await turnPorts();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TUTURU_|TURN)/.test(k)));
  await run('sh', [path.join(ROOT, 'scripts/configure')], {
    env: { ...inherited, TUTURU_STATE: state, TUTURU_BIN: BIN, BIND: '127.0.0.1', TURN: '1',
      TURN_RELAY_IP: RELAY, ...ports, ...env },
  });
  const secret = fs.readFileSync(path.join(state, 'secret'), 'utf8').trim();
  const username = `${Math.floor(Date.now() / 1000) + 300}:peers-test`;
  const conf = path.join(state, 'turnserver.conf');
  return { state, conf, confText: fs.readFileSync(conf, 'utf8'), port: Number(ports.TURN_PORT), username,
    password: restCredential(secret, username) };
}

describe('peers of a relay on a documentation address (real coturn in a network namespace)', { skip: needsRoot }, () => {
  const ns = `tuturu-peers-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const states = [];
  before(async () => {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const a of [RELAY, ECHO]) await run('ip', ['-n', ns, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
  });
  after(async () => {
    await run('ip', ['netns', 'del', ns]);
    for (const s of states) fs.rmSync(s, { recursive: true, force: true });
  });

  /**
   * coturn from scripts/configure (env) in the namespace, the scenario run
   * beside it (echo peer on 192.0.2.3, CreatePermission towards probe), coturn
   * stopped: {out (the scenario's JSON), conf, log}.
   */
  async function scenario(env, probe, extraPeers = []) {
    const c = await configure(env);
    states.push(c.state);
    const coturn = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--pdeathsig', 'TERM', 'turnserver', '-c', c.conf],
      { stdio: 'ignore' });
    const exited = new Promise((resolve) => coturn.once('exit', resolve));
    try {
      const arg = JSON.stringify({ port: c.port, username: c.username, password: c.password, echoIp: ECHO, probe,
        peers: [RELAY, ECHO, ...extraPeers] });
      const out = JSON.parse(await run('ip', ['netns', 'exec', ns, process.execPath, SCENARIO, arg]));
      const log = fs.readFileSync(path.join(c.state, 'log/turnserver.log'), 'utf8');
      return { out, conf: c.confText, log };
    } finally {
      if (coturn.exitCode === null && coturn.signalCode === null) coturn.kill('SIGTERM');
      await exited;
      await waitFor(() => !coturn.pid || !alive(coturn.pid), STOP_MS, 'coturn to exit');
    }
  }

  it('two allocations reach each other on the relay address 192.0.2.2; the addresses beside it stay refused', async () => {
    const { out, conf, log } = await scenario({}, ['192.0.2.1', '192.0.2.4', '192.0.2.254', '10.0.0.1', '127.0.0.1']);
    assert.equal(out.error, undefined, out.error);
    assert.deepEqual(out.relayed.map((r) => r.ip), [RELAY, RELAY]);
    assert.deepEqual([out.permAB, out.permBA].map((p) => p.code), [0, 0],
      `CreatePermission towards the relay's own address: ${JSON.stringify(out)}\n${log}`);
    assert.deepEqual(out.aToB, { from: out.relayed[0], data: 'a to b' });
    assert.deepEqual(out.bToA, { from: out.relayed[1], data: 'b to a' });
    assert.equal(out.permEcho.code, 403, 'a peer next to the relay address is still refused');
    assert.equal(out.echo, undefined);
    assert.deepEqual(out.probe, { '192.0.2.1': 403, '192.0.2.4': 403, '192.0.2.254': 403, '10.0.0.1': 403, '127.0.0.1': 403 });
    assert.match(conf, new RegExp(`^allowed-peer-ip=${RELAY.replaceAll('.', '\\.')}$`, 'm'));
    assert.doesNotMatch(log, /A peer IP 192\.0\.2\.2 denied|Wrong address format/);
  });

  it('TURN_ALLOWED_PEERS lets the relay reach a peer in a denied range, and nothing else', async () => {
    const { out, log } = await scenario({ TURN_ALLOWED_PEERS: '198.51.100.7, 192.0.2.3-192.0.2.3' },
      ['192.0.2.4', '198.51.100.6', '198.51.100.8', '10.0.0.1']);
    assert.equal(out.error, undefined, out.error);
    assert.equal(out.permEcho.code, 0, `${JSON.stringify(out)}\n${log}`);
    assert.equal(out.echo?.data, 'echo', JSON.stringify(out));
    assert.deepEqual(out.echo.from.ip, ECHO);
    assert.equal(out.aToB?.data, 'a to b', 'the relay address is still allowed');
    assert.deepEqual(out.probe, { '192.0.2.4': 403, '198.51.100.6': 403, '198.51.100.8': 403, '10.0.0.1': 403 });
    assert.doesNotMatch(log, /Wrong address format/);
  });

  it('TURN_ALLOWED_PEERS in CIDR form is taken as the range it means (coturn 4.6.1 would skip it)', async () => {
    const { out, conf, log } = await scenario({ TURN_ALLOWED_PEERS: '192.0.2.0/30' }, ['192.0.2.4', '192.0.2.255']);
    assert.equal(out.error, undefined, out.error);
    assert.match(conf, /^allowed-peer-ip=192\.0\.2\.0-192\.0\.2\.3$/m);
    assert.equal(out.echo?.data, 'echo', `${JSON.stringify(out)}\n${log}`);
    assert.deepEqual(out.probe, { '192.0.2.4': 403, '192.0.2.255': 403 });
  });

  it('TURN_EXTERNAL_IP in a denied range: the address the allocations are told is allowed as a peer', async () => {
    // (198.51.100.2 is on no interface and the namespace has no route to it:
    // what the relay sends there goes nowhere)
    const { out, conf, log } = await scenario({ TURN_EXTERNAL_IP: '198.51.100.2' }, ['198.51.100.2', '198.51.100.3'],
      ['198.51.100.2']);
    assert.equal(out.error, undefined, out.error);
    assert.deepEqual(out.relayed.map((r) => r.ip), ['198.51.100.2', '198.51.100.2'], 'coturn announces external-ip');
    assert.deepEqual([out.permAB.code, out.permBA.code], [0, 0], `${JSON.stringify(out)}\n${log}`);
    assert.deepEqual(out.probe, { '198.51.100.2': 0, '198.51.100.3': 403 });
    assert.match(conf, /^allowed-peer-ip=198\.51\.100\.2$/m);
  });
});
