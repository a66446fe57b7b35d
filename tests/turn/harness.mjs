// harness.mjs: the TURN tests' helpers on top of the integration harness:
// the real server with coturn beside it (scripts/serve.sh with TURN=1) on
// loopback ports of its own, Debian's coturn test clients (turnutils_uclient,
// turnutils_peer, a UDP echo server), and REST credentials made by hand.
//
// Ports: each coturn gets its listening ports and a 50-port relay range below
// the kernel's ephemeral range, so no client socket of a parallel test takes
// them; serve.sh refuses a taken port and startTurnServer then picks others.
import crypto from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { BIN, ROOT, alive, startServer, waitFor } from '../integration/harness.mjs';

const STOP_MS = 10000;

/** Low end of the kernel's ephemeral port range (client sockets take ports from there up). */
function ephemeralLow() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32768;
  }
}

/** True when port is free on 127.0.0.1 for both TCP and UDP right now. */
async function portFree(port) {
  const tcp = await new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => { u.close(); resolve(false); });
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

const randomIn = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo));

/** A port in 10000-19999 free for TCP and UDP on 127.0.0.1. */
export async function freeLowPort() {
  for (let i = 0; i < 50; i++) {
    const p = randomIn(10000, 20000);
    if (await portFree(p)) return p;
  }
  throw new Error('no free port in 10000-19999');
}

/** TURN_* settings for one coturn on free loopback ports. */
export async function turnPorts() {
  const top = Math.min(ephemeralLow(), 30000);
  const min = randomIn(20000, top - 50);
  const port = await freeLowPort();
  let tls = await freeLowPort();
  while (tls === port) tls = await freeLowPort();
  return {
    TURN_PORT: String(port),
    TURN_TLS_PORT: String(tls),
    TURN_MIN_PORT: String(min),
    TURN_MAX_PORT: String(min + 49),
  };
}

/** The pid in a server's coturn pid file, or null. */
export function coturnPid(state) {
  try {
    return Number(fs.readFileSync(path.join(state, 'run/turnserver.pid'), 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

/**
 * Start the server with coturn (TURN=1) on its own loopback ports and wait
 * until it serves; env adds settings (TURN_LOOPBACK_PEERS=0 for the
 * production configuration, TUTURU_* ...). The answer is the integration
 * harness's server plus turnPort, tlsPort, relayRange, coturnPid(), the
 * coturn log, and a stop() that also fails when coturn outlives lighttpd.
 */
export async function startTurnServer({ env = {} } = {}) {
  for (let attempt = 1; ; attempt++) {
    const ports = await turnPorts();
    let srv;
    try {
      srv = await startServer({ env: { TURN: '1', ...ports, ...env } });
    } catch (e) {
      if (attempt < 3 && /is taken/.test(e.message)) continue; // a parallel test took a port
      throw e;
    }
    srv.turnPort = Number(ports.TURN_PORT);
    srv.tlsPort = Number(ports.TURN_TLS_PORT);
    srv.relayRange = [Number(ports.TURN_MIN_PORT), Number(ports.TURN_MAX_PORT)];
    srv.turnLog = path.join(srv.state, 'log/turnserver.log');
    srv.coturnPid = () => coturnPid(srv.state);
    const stopServer = srv.stop;
    srv.stop = async () => {
      const pid = srv.coturnPid();
      await stopServer();
      if (pid) await waitFor(() => !alive(pid), STOP_MS, `coturn (pid ${pid}) to exit with lighttpd (an orphan)`);
    };
    return srv;
  }
}

/** The TURN entry of an ice_servers list: {urls, username, credential}. */
export function turnEntry(iceServers) {
  const t = iceServers.find((s) => s.username);
  if (!t) throw new Error(`no TURN entry in ${JSON.stringify(iceServers)}`);
  return t;
}

/** A TURN REST credential as tuturu-api makes it: base64(HMAC-SHA1(secret, username)). */
export function restCredential(secret, username) {
  return crypto.createHmac('sha1', secret).update(username).digest('base64');
}

/**
 * Run turnutils_uclient with args; resolve {code, signal, out} (stdout and
 * stderr together), never reject: the tests assert the exit status.
 */
export function uclient(args, timeoutMs = 60000) {
  return new Promise((resolve) => {
    execFile('turnutils_uclient', args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, signal: err?.signal ?? null, out: `${stdout}${stderr}` });
    });
  });
}

/**
 * turnutils_peer, Debian's UDP echo server, on a free 127.0.0.1 port;
 * resolves once it echoes a datagram. stop() ends it.
 */
export async function startPeer() {
  const port = await freeLowPort();
  const child = spawn('turnutils_peer', ['-L', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const probe = dgram.createSocket('udp4');
  let echoed = false;
  probe.on('message', () => { echoed = true; });
  try {
    await new Promise((resolve) => probe.bind(0, '127.0.0.1', resolve));
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`turnutils_peer exited ${child.exitCode}`);
      probe.send('ping', port, '127.0.0.1');
      return echoed;
    }, 10000, `turnutils_peer on 127.0.0.1:${port} to echo`, 100);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    probe.close();
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** An http(s) response read whole: {status, json (undefined if not JSON), text}. */
export function readReply(res) {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { text += d; });
    res.on('error', reject);
    res.on('end', () => {
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      resolve({ status: res.statusCode, json, text });
    });
  });
}

/**
 * POST /api/join from a given local address (127.0.0.2 is a second client
 * address on loopback: the server sees it as REMOTE_ADDR). Resolves
 * {status, json, text}.
 */
export function joinFrom(srv, pin, localAddress) {
  const body = JSON.stringify({ pin });
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}/api/join`, {
      method: 'POST',
      localAddress,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => readReply(res).then(resolve, reject));
    req.setTimeout(10000, () => req.destroy(new Error(`join from ${localAddress}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The number after `name=` in a coturn configuration file (the first such line). */
export function confNumber(file, name) {
  const m = new RegExp(`^${name}=(\\d+)\\s*$`, 'm').exec(fs.readFileSync(file, 'utf8'));
  if (!m) throw new Error(`no ${name}= line in ${file}`);
  return Number(m[1]);
}

/**
 * scripts/configure alone (it starts nothing) with env over BIND 127.0.0.1,
 * TURN=1 and free TURN ports, into state (default: a fresh directory not
 * yet made). Resolves {code, out (stdout and stderr), state, conf (the
 * turnserver.conf text, or null)}; never rejects.
 */
export async function runConfigure(env = {}, state = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-conf-')), 'state')) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TUTURU_|TURN|HTTPS_|BIND$)/.test(k)));
  const fullEnv = { ...inherited, BIND: '127.0.0.1', TURN: '1', ...(await turnPorts()), ...env, TUTURU_STATE: state, TUTURU_BIN: BIN };
  const r = await new Promise((resolve) => {
    execFile('sh', [path.join(ROOT, 'scripts/configure')], { env: fullEnv, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, out: `${stdout}${stderr}` });
    });
  });
  let conf = null;
  try {
    conf = fs.readFileSync(path.join(state, 'turnserver.conf'), 'utf8');
  } catch {
    // not written
  }
  return { ...r, state, conf };
}
