// netlab.mjs: the network lab's runner (as root; tests/lab/run starts it,
// `make netlab`). For each profile of profiles.mjs, from nothing: the four
// namespaces of net.mjs and the router's rules, the real server
// (scripts/serve.sh: lighttpd + tuturu-api + coturn, a fresh state
// directory) in the server namespace, one Debian Chromium in each client
// namespace (through chromium-ns), both pages on the server's https page,
// the same PIN, and then: connected or not, seconds from the second join to
// both connected, remote video playing, the selected candidate pair of each
// page (getStats) and each page's states. Everything is torn down after each
// profile and on any exit.
//
// Prints one line per profile, a table, and `N passed, N failed`; exits 1 if
// any failed. Results as JSON lines in build/netlab/results.jsonl, and a log
// per failed profile there. Arguments: profile names to run (default: all).
//
// The page is served over https with the self-signed certificate serve.sh
// makes for 203.0.113.10 (a camera needs a secure context). The browsers
// accept exactly that key, and coturn's TLS key, through
// --ignore-certificate-errors-spki-list: what a real certificate gives a
// real browser, for the page and for TURN over TLS alike.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TOP, CHROMIUM_ARGS, testPin, joinPin, waitState, waitRemoteVideoPlaying } from '../browser/harness.mjs';
import { ADDR, LAB_RANGES, up, down, applyRules, existing } from './net.mjs';
import { PROFILES } from './profiles.mjs';
import { keepCallState, selectedPair, gathered, judge } from './call.mjs';

const PREFIX = process.env.LAB_PREFIX || `tl${process.pid}`;
const OUT = join(TOP, 'build/netlab');
/** Bounds (ms), generous: the machine is shared and loaded. */
const B = { start: 40000, load: 30000, join: 30000, connect: 45000, video: 30000 };
const BASE = `https://${ADDR.server}`;
const BIN = process.env.TUTURU_BIN || join(TOP, 'build/asan/tuturu-api');

let live = null; // what the current profile started: { server, browsers, state }

function spkiHash(certFile) {
  const der = new crypto.X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

function within(ms, what, promise) {
  let t;
  const timeout = new Promise((_, fail) => { t = setTimeout(() => fail(new Error(`${what}: not within ${ms / 1000} s`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** serve.sh in the server namespace; resolves once /api/health answers there. */
async function startServer(ns, profile) {
  const state = mkdtempSync(join(process.env.LAB_TMP || tmpdir(), 'state-'));
  const env = {
    ...process.env, TUTURU_STATE: state, TUTURU_BIN: BIN, HTDOCS: join(TOP, 'htdocs'),
    BIND: ADDR.server, PORT: '80', HTTPS_PORT: '443', HTTPS_HOSTS: ADDR.server,
    TURN: '1', TURN_ALLOWED_PEERS: LAB_RANGES, ...profile.server,
  };
  const server = spawn('ip', ['netns', 'exec', ns.srv, join(TOP, 'scripts/serve.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.on('data', (d) => { out += d; });
  server.stderr.on('data', (d) => { out += d; });
  live.server = server;
  live.state = state;
  live.output = () => out;
  const until = Date.now() + B.start;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`serve.sh exited with ${server.exitCode}: ${out.trim()}`);
    const r = spawnSync('ip', ['netns', 'exec', ns.srv, 'curl', '-sk', '--max-time', '2', '-o', '/dev/null',
      '-w', '%{http_code}', `${BASE}/api/health`], { encoding: 'utf8' });
    if (r.stdout === '200') break;
    if (Date.now() > until) throw new Error(`server not healthy within ${B.start / 1000} s: ${out.trim()}`);
    await new Promise((ok) => setTimeout(ok, 200)); // polling a port that is not up yet
  }
  const certs = ['https-cert.pem', 'turn-cert.pem'].map((f) => join(state, f)).filter((f) => existsSync(f));
  return certs.map(spkiHash).join(',');
}

function launch(ns, spki) {
  return chromium.launch({
    executablePath: join(TOP, 'tests/lab/chromium-ns'),
    env: { ...process.env, LAB_NS: ns },
    headless: true,
    args: [...CHROMIUM_ARGS.filter((a) => a !== '--allow-loopback-in-peer-connection'),
      `--ignore-certificate-errors-spki-list=${spki}`],
  });
}

async function openPage(browser, name) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 }, locale: 'en-US' });
  await context.addInitScript(keepCallState);
  const page = await context.newPage();
  page.name = name;
  page.logs = [];
  page.on('console', (m) => page.logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.logs.push(`pageerror: ${e}`));
  // the ICE server URLs the join offered (URLs only: no credentials, no PIN)
  page.offered = [];
  page.on('response', (res) => {
    if (!res.url().endsWith('/api/join')) return;
    res.json().then((j) => { page.offered = (j.ice_servers || []).flatMap((s) => [].concat(s.urls)); }, () => {});
  });
  await page.goto(`${BASE}/?debug`, { timeout: B.load });
  return page;
}

const states = (page) => page.evaluate(() => window.__lab.states).catch(() => null);

/** The call between the two clients; returns the measured result (never throws). */
async function call(ns, spki) {
  const r = { connected: false, stage: 'load', seconds: null, pairs: {}, states: {} };
  const pages = [];
  try {
    live.browsers = await Promise.all([launch(ns.c1, spki), launch(ns.c2, spki)]);
    const [a, b] = await Promise.all([openPage(live.browsers[0], 'A'), openPage(live.browsers[1], 'B')]);
    pages.push(a, b);
    r.stage = 'join';
    const pin = testPin();
    await joinPin(a, pin);
    await waitState(a, 'waiting', B.join);
    await joinPin(b, pin);
    const t0 = Date.now();
    r.stage = 'connect';
    await Promise.all([waitState(a, 'connected', B.connect), waitState(b, 'connected', B.connect)]);
    r.seconds = Math.round((Date.now() - t0) / 100) / 10;
    r.stage = 'video';
    await within(B.video, 'remote video', Promise.all([waitRemoteVideoPlaying(a, 1, B.video), waitRemoteVideoPlaying(b, 1, B.video)]));
    r.connected = true;
    r.stage = null;
  } catch (e) {
    r.error = e.message.split('\n')[0].replace(/: page\.\w+: /, ': ');
  }
  for (const p of pages) {
    r.pairs[p.name] = await selectedPair(p).catch(() => null);
    r.states[p.name] = await states(p);
    r.offered = p.offered;
    r.gathered = { ...r.gathered, [p.name]: await gathered(p).catch(() => null) };
    if (!r.connected) r.logs = { ...r.logs, [p.name]: p.logs.slice(-30) };
  }
  return r;
}

/** Stop what the profile started and remove its namespaces (never throws). */
async function teardown() {
  if (!live) return;
  const { server, browsers = [], state } = live;
  await Promise.all(browsers.map((b) => within(10000, 'browser close', b.close()).catch(() => {})));
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.once('exit', ok));
    server.kill('SIGTERM');
    await within(10000, 'server stop', exited).catch(() => server.kill('SIGKILL'));
  }
  down(PREFIX);
  if (state) rmSync(state, { recursive: true, force: true });
  live = null;
}

async function runProfile(profile) {
  live = {};
  const started = Date.now();
  let r;
  try {
    down(PREFIX);
    const ns = up(PREFIX);
    applyRules(ns, profile);
    const spki = await startServer(ns, profile);
    r = await call(ns, spki);
    if (!r.connected) r.turnLog = tail(join(live.state, 'log/turnserver.log'));
  } catch (e) {
    r = { connected: false, stage: 'lab', error: e.message, pairs: {}, states: {} };
  } finally {
    await teardown();
  }
  Object.assign(r, { profile: profile.name, total: Math.round((Date.now() - started) / 1000) });
  Object.assign(r, judge(profile, r));
  return r;
}

function tail(file, n = 30) {
  try { return readFileSync(file, 'utf8').split('\n').slice(-n); } catch { return []; }
}

const pairText = (p) => (p ? `${p.local}/${p.protocol}${p.relayProtocol ? `(${p.relayProtocol})` : ''}->${p.remote}` : '-');

function line(r) {
  const how = r.connected ? `connected in ${r.seconds} s`
    : `not connected (${r.stage}: ${r.error || ''}; join offered ${r.offered?.join(' ') || 'nothing'}; `
      + `gathered A ${r.gathered?.A}, B ${r.gathered?.B})`;
  return `${r.pass ? 'PASS' : 'FAIL'} ${r.profile.padEnd(12)} ${how}; A ${pairText(r.pairs.A)}, B ${pairText(r.pairs.B)}`
    + `${r.pass ? '' : `; ${r.why}`}`;
}

function table(results) {
  const rows = results.map((r) => `| ${r.profile} | ${r.pass ? 'pass' : 'FAIL'} | ${r.connected ? 'yes' : `no (${r.stage})`} | `
    + `${r.seconds ?? '-'} | ${pairText(r.pairs.A)} | ${pairText(r.pairs.B)} | ${r.why} |`);
  return ['| profile | result | connected | seconds | A: local/proto(relay)->remote | B | why |',
    '|---|---|---|---|---|---|---|', ...rows].join('\n');
}

function onSignal(sig) {
  process.stderr.write(`netlab: ${sig}, tearing down\n`);
  // (the browsers and coturn live in the namespaces: down() kills them)
  if (live?.server?.exitCode === null) live.server.kill('SIGKILL');
  down(PREFIX);
  if (live?.state) rmSync(live.state, { recursive: true, force: true });
  process.exit(130);
}

async function main() {
  if (process.getuid() !== 0) throw new Error('netlab runs as root (network namespaces)');
  if (!existsSync(BIN)) throw new Error(`${BIN} is not built (make build/asan/tuturu-api)`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !PROFILES.some((p) => p.name === n));
  if (unknown.length) throw new Error(`unknown profile(s): ${unknown.join(', ')}`);
  const profiles = wanted.length ? PROFILES.filter((p) => wanted.includes(p.name)) : PROFILES;
  mkdirSync(OUT, { recursive: true });
  const jsonl = join(OUT, 'results.jsonl');
  writeFileSync(jsonl, '');
  const results = [];
  for (const p of profiles) {
    const r = await runProfile(p);
    results.push(r);
    appendFileSync(jsonl, `${JSON.stringify(r)}\n`);
    console.log(line(r));
  }
  const left = existing(PREFIX);
  const t = table(results);
  writeFileSync(join(OUT, 'table.md'), `${t}\n`);
  console.log(`\n${t}\n\nresults: ${jsonl}`);
  if (left.length) console.log(`netlab: namespaces left behind: ${left.join(' ')}`);
  const passed = results.filter((r) => r.pass).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  return passed === results.length && !left.length ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`netlab: ${e.message}`);
  down(PREFIX);
  process.exit(2);
});
