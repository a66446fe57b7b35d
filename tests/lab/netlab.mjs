// netlab.mjs: the network lab's runner (as root; tests/lab/run starts it,
// `make netlab`). For each profile of profiles.mjs, from nothing: the four
// namespaces of net.mjs and the router's rules (and build/lab/delay for a
// profile with latency), the real server (scripts/serve.sh: HAProxy on 443
// by default (ONE_PORT=1, what `install.sh --domain` deploys), lighttpd,
// tuturu-api, coturn; a fresh state directory) in the server namespace, one
// Debian Chromium in each client namespace (through chromium-ns), both
// pages on the server's https page, the same PIN, and then: connected or
// not, seconds from the second join to both connected, remote video
// playing, an outage and the way back (profile.outage), remote frames still
// decoded 30 s after connecting, the selected candidate pair of each page
// (getStats) and each page's states. Everything a profile made is torn down
// after it and on any exit.
//
// Profiles run LAB_JOBS at a time (default 3), each in namespaces of its
// own (PREFIX-N-...): nothing is shared between them but the CPU.
//
// Prints one line per profile as it ends, a table, and `N passed, N
// failed`; exits 1 if a profile failed that is not a known failure
// (report.mjs). Results as JSON lines in build/netlab/results.jsonl, the
// table in build/netlab/table.md. Arguments: profile names to run (default:
// all).
//
// The page is served over https with the self-signed certificate serve.sh
// makes for 203.0.113.10 (a camera needs a secure context). The browsers
// accept exactly that key, and coturn's TLS key, through
// --ignore-certificate-errors-spki-list: what a real certificate gives a
// real browser, for the page and for TURN over TLS alike.

import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TOP, CHROMIUM_ARGS, testPin, joinPin, waitState, waitRemoteVideoPlaying } from '../browser/harness.mjs';
import { ADDR, LAB_RANGES, up, down, applyRules, existing, queueForwarded, outage, counted } from './net.mjs';
import { PROFILES } from './profiles.mjs';
import { keepCallState, selectedPair, gathered, videoFrames, stateTime, judge } from './call.mjs';
import { line, table, summary } from './report.mjs';

const PREFIX = process.env.LAB_PREFIX || `tl${process.pid}`;
const JOBS = Number(process.env.LAB_JOBS || 3);
const OUT = join(TOP, 'build/netlab');
/** Bounds (ms), generous: the machine is shared and loaded. */
const B = { start: 90000, load: 60000, join: 60000, connect: 90000, video: 60000, back: 60000, decoding: 20000, mustFail: 30000, delay: 60000 };
/** Remote frames are read this long after both pages connected (the "30 s later"). */
const LATER = 30000;
/**
 * Frames a page must decode, once LATER has passed, within B.decoding, to
 * count as still decoding: a frozen call decodes none; a starved machine
 * (other tests beside the lab) was seen at 0.5 frame/s on a live call.
 */
const LATER_FRAMES = 5;
const BASE = `https://${ADDR.server}`;
const BIN = process.env.TUTURU_BIN || join(TOP, 'build/asan/tuturu-api');
const DELAY_BIN = join(TOP, 'build/lab/delay');
/** The server a profile gets unless it says otherwise: what `install.sh --domain` deploys, on 443. */
const SERVER_DEFAULTS = { HTTPS_PORT: '443', ONE_PORT: '1', TURN: '1', TURN_ALLOWED_PEERS: LAB_RANGES };

/** What each running profile started (a context per profile): torn down on any exit. */
const live = new Set();

function spkiHash(certFile) {
  const der = new crypto.X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

function within(ms, what, promise) {
  let t;
  const timeout = new Promise((_, fail) => { t = setTimeout(() => fail(new Error(`${what}: not within ${ms / 1000} s`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** Until wall-clock time `at` (a moment the profile defines, never a wait for something to happen). */
const until = (at) => new Promise((ok) => setTimeout(ok, Math.max(0, at - Date.now())));

/** Check `probe` every 250 ms until it returns a value, or throw `what` (text, or a function giving it) after ms. */
async function poll(ms, what, probe) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${typeof what === 'function' ? what() : what}: not within ${ms / 1000} s`);
    await new Promise((ok) => setTimeout(ok, 250)); // the interval between two looks
  }
}

/** serve.sh in the server namespace; resolves once /api/health answers there. */
async function startServer(ctx, profile) {
  const state = mkdtempSync(join(process.env.LAB_TMP || tmpdir(), 'state-'));
  const env = {
    ...process.env, TUTURU_STATE: state, TUTURU_BIN: BIN, HTDOCS: join(TOP, 'htdocs'),
    BIND: ADDR.server, PORT: '80', HTTPS_HOSTS: ADDR.server, ...SERVER_DEFAULTS, ...profile.server,
  };
  const server = spawn('ip', ['netns', 'exec', ctx.ns.srv, join(TOP, 'scripts/serve.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.on('data', (d) => { out += d; });
  server.stderr.on('data', (d) => { out += d; });
  Object.assign(ctx, { server, state, output: () => out });
  await poll(B.start, () => `server healthy (${out.trim()})`, async () => {
    if (server.exitCode !== null) throw new Error(`serve.sh exited with ${server.exitCode}: ${out.trim()}`);
    // (asynchronously: a blocked event loop would stall the other profiles' browsers)
    const code = await new Promise((ok) => execFile('ip', ['netns', 'exec', ctx.ns.srv, 'curl', '-sk', '--max-time', '2',
      '-o', '/dev/null', '-w', '%{http_code}', `${BASE}/api/health`], (e, stdout) => ok(stdout)));
    return code === '200';
  });
  const certs = ['https-cert.pem', 'turn-cert.pem'].map((f) => join(state, f)).filter((f) => existsSync(f));
  return certs.map(spkiHash).join(',');
}

/** build/lab/delay in the router, then every forwarded packet through it. */
async function startDelay(ctx, { ms, jitter }) {
  const d = spawn('ip', ['netns', 'exec', ctx.ns.rt, DELAY_BIN, '-q', '0', '-d', String(ms), '-j', String(jitter)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  ctx.delay = d;
  let out = '';
  d.stdout.on('data', (x) => { out += x; });
  d.stderr.on('data', (x) => { out += x; });
  await poll(B.delay, () => `delay ready (${out.trim()})`, () => {
    if (d.exitCode !== null) throw new Error(`delay exited with ${d.exitCode}: ${out.trim()}`);
    return /ready/.test(out);
  });
  queueForwarded(ctx.ns, 0);
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
  const at = () => ((Date.now() - page.t0) / 1000).toFixed(1);
  page.t0 = Date.now();
  page.on('console', (m) => page.logs.push(`${at()} ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.logs.push(`${at()} pageerror: ${e}`));
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

/** How the page's own requests went: HTTP versions seen, and bytes received for the page's files. */
const httpUse = (page) => page.evaluate(() => {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return {
    protocols: [...new Set(entries.map((e) => e.nextHopProtocol))],
    pageBytes: entries.filter((e) => !e.name.includes('/api/')).reduce((n, e) => n + (e.transferSize || 0), 0),
  };
}).catch(() => null);

/** Each page decodes at least `frames` more remote frames within `ms`: { frames, seconds } per page. */
function decoding(pages, frames, ms, what) {
  return Promise.all(pages.map(async (p) => {
    const t0 = Date.now();
    const first = await videoFrames(p);
    let last = first;
    await poll(ms, () => `page ${p.name}: ${what} (${first.frames ?? 'no'} frames, then ${last.frames ?? 'none'})`, async () => {
      last = await videoFrames(p);
      return last.frames !== null && last.frames >= first.frames + frames && last.clock > first.clock;
    });
    return { frames: last.frames - first.frames, seconds: Math.round((Date.now() - t0) / 100) / 10 };
  })).then((l) => Object.fromEntries(pages.map((p, i) => [p.name, l[i]])));
}

/** profile.outage: everything dropped for its seconds, then how long until both pages decode video again. */
async function outageAndBack(ctx, pages, { seconds }) {
  outage(ctx.ns, true);
  await until(Date.now() + seconds * 1000); // the outage's length is the profile's, not a wait for an event
  outage(ctx.ns, false);
  const t0 = Date.now();
  await Promise.all(pages.map((p) => waitState(p, 'connected', B.back)));
  await decoding(pages, LATER_FRAMES, B.back, 'remote video back after the outage');
  return { seconds, back: Math.round((Date.now() - t0) / 100) / 10 };
}

/** The call between the two clients; returns the measured result (never throws). */
async function call(ctx, profile, spki) {
  const r = { connected: false, stage: 'load', seconds: null, pairs: {}, states: {} };
  const pages = [];
  try {
    ctx.browsers = await Promise.all([launch(ctx.ns.c1, spki), launch(ctx.ns.c2, spki)]);
    const [a, b] = await Promise.all([openPage(ctx.browsers[0], 'A'), openPage(ctx.browsers[1], 'B')]);
    pages.push(a, b);
    r.stage = 'join';
    const pin = testPin();
    await joinPin(a, pin);
    await waitState(a, 'waiting', B.join);
    await joinPin(b, pin);
    r.stage = 'connect';
    // (a profile that must not connect is given B.mustFail: ICE gives up on its checks well before)
    const bound = profile.expect.connected ? B.connect : B.mustFail;
    await Promise.all([waitState(a, 'connected', bound), waitState(b, 'connected', bound)]);
    // from B's join (its `joining`) to the later of the two first `connected`, by the pages' clocks
    const joined = await stateTime(b, 'joining');
    const connectedAt = Math.max(await stateTime(a, 'connected', joined), await stateTime(b, 'connected', joined));
    r.seconds = Math.round((connectedAt - joined) / 100) / 10;
    r.stage = 'video';
    await within(B.video, 'remote video', Promise.all([waitRemoteVideoPlaying(a, 1, B.video), waitRemoteVideoPlaying(b, 1, B.video)]));
    r.connected = true;
    if (profile.outage) {
      r.stage = 'outage';
      r.outage = await outageAndBack(ctx, pages, profile.outage);
    }
    r.stage = 'later';
    await until(connectedAt + LATER); // the moment: 30 s after connecting
    r.later = await decoding(pages, LATER_FRAMES, B.decoding, `remote frames decoded ${LATER / 1000} s after connecting`);
    r.stage = null;
  } catch (e) {
    r.error = e.message.split('\n')[0].replace(/: page\.\w+: /, ': ');
  }
  for (const p of pages) {
    r.pairs[p.name] = await selectedPair(p).catch(() => null);
    r.states[p.name] = await states(p);
    r.http = { ...r.http, [p.name]: await httpUse(p) };
    r.offered = p.offered;
    r.gathered = { ...r.gathered, [p.name]: await gathered(p).catch(() => null) };
    if (r.stage || process.env.LAB_LOGS) r.logs = { ...r.logs, [p.name]: p.logs.slice(-40) };
  }
  return r;
}

/** Stop what a profile started and remove its namespaces (never throws). */
async function teardown(ctx) {
  const { server, browsers = [], state } = ctx;
  await Promise.all(browsers.map((b) => within(10000, 'browser close', b.close()).catch(() => {})));
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.once('exit', ok));
    server.kill('SIGTERM');
    await within(10000, 'server stop', exited).catch(() => server.kill('SIGKILL'));
  }
  if (ctx.delay && ctx.delay.exitCode === null) ctx.delay.kill('SIGTERM');
  down(ctx.prefix);
  if (state) rmSync(state, { recursive: true, force: true });
}

async function runProfile(profile, i) {
  const ctx = { prefix: `${PREFIX}-${i}` };
  live.add(ctx);
  const started = Date.now();
  let r;
  try {
    down(ctx.prefix);
    ctx.ns = up(ctx.prefix, profile.serverAddrs);
    applyRules(ctx.ns, profile);
    if (profile.delay) await startDelay(ctx, profile.delay);
    const spki = await startServer(ctx, profile);
    r = await call(ctx, profile, spki);
    r.router = counted(ctx.ns);
    if (r.stage || profile.expect.deniedPeer) r.turnLog = tail(join(ctx.state, 'log/turnserver.log'));
  } catch (e) {
    r = { connected: false, stage: 'lab', error: e.message, pairs: {}, states: {} };
  } finally {
    await teardown(ctx);
    live.delete(ctx);
  }
  Object.assign(r, { profile: profile.name, known: profile.known, total: Math.round((Date.now() - started) / 1000) });
  Object.assign(r, judge(profile, r));
  return r;
}

function tail(file, n = 30) {
  try { return readFileSync(file, 'utf8').split('\n').slice(-n); } catch { return []; }
}

/** Run fn over items, at most n at a time; results in the items' order. */
async function pool(items, n, fn) {
  const out = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

function onSignal(sig) {
  process.stderr.write(`netlab: ${sig}, tearing down\n`);
  // (browsers, coturn and delay live in the namespaces: down() kills them)
  for (const ctx of live) if (ctx.server?.exitCode === null) ctx.server.kill('SIGKILL');
  down(PREFIX);
  for (const ctx of live) if (ctx.state) rmSync(ctx.state, { recursive: true, force: true });
  process.exit(130);
}

async function main() {
  if (process.getuid() !== 0) throw new Error('netlab runs as root (network namespaces)');
  if (!existsSync(BIN)) throw new Error(`${BIN} is not built (make build/asan/tuturu-api)`);
  if (!(JOBS >= 1 && JOBS <= 12 && Number.isInteger(JOBS))) throw new Error(`LAB_JOBS must be a whole number from 1 to 12, got '${process.env.LAB_JOBS}'`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !PROFILES.some((p) => p.name === n));
  if (unknown.length) throw new Error(`unknown profile(s): ${unknown.join(', ')}`);
  const profiles = wanted.length ? PROFILES.filter((p) => wanted.includes(p.name)) : PROFILES;
  if (profiles.some((p) => p.delay) && !existsSync(DELAY_BIN)) throw new Error(`${DELAY_BIN} is not built (make build/lab/delay)`);
  mkdirSync(OUT, { recursive: true });
  const jsonl = join(OUT, 'results.jsonl');
  writeFileSync(jsonl, '');
  const t0 = Date.now();
  const results = await pool(profiles, JOBS, async (p, i) => {
    const r = await runProfile(p, i);
    appendFileSync(jsonl, `${JSON.stringify(r)}\n`);
    console.log(line(r));
    return r;
  });
  const left = existing(PREFIX);
  const t = table(results);
  const took = Math.round((Date.now() - t0) / 1000);
  writeFileSync(join(OUT, 'table.md'), `${t}\n\n${profiles.length} profiles, ${JOBS} at a time, ${took} s\n`);
  console.log(`\n${t}\n\nresults: ${jsonl} (${took} s, ${JOBS} profiles at a time)`);
  if (left.length) console.log(`netlab: namespaces left behind: ${left.join(' ')}`);
  const { lines, code } = summary(results);
  for (const l of lines) console.log(l);
  return left.length ? 1 : code;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`netlab: ${e.message}`);
  down(PREFIX);
  process.exit(2);
});
