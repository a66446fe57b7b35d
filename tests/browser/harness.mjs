// harness.mjs: the real server (scripts/serve.sh: lighttpd + the FastCGI
// program, on a free loopback port with a temporary state directory) and
// Debian's Chromium driven by playwright-core, for the browser tests.
//
// TUTURU_BIN picks the FastCGI binary (default: build/asan/tuturu-api if
// built, else build/tuturu-api). CHROMIUM overrides /usr/bin/chromium.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Timeouts (ms) scaled for a loaded 2-core machine. */
export const T = { start: 20000, call: 45000, short: 15000 };

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function binary() {
  if (process.env.TUTURU_BIN) return resolve(process.env.TUTURU_BIN);
  for (const p of ['build/asan/tuturu-api', 'build/tuturu-api']) if (existsSync(join(TOP, p))) return join(TOP, p);
  throw new Error('no server binary: run `make build/asan/tuturu-api` or set TUTURU_BIN');
}

async function waitHealthy(base, child, output, ms) {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`serve.sh exited with ${child.exitCode}:\n${output()}`);
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = String(e.cause || e);
    }
    await new Promise((ok) => setTimeout(ok, 100)); // polling a port that is not up yet
  }
  throw new Error(`server not healthy in ${ms} ms (${last}):\n${output()}`);
}

/**
 * Start the server; settings are TUTURU_<NAME> values (e.g. { POLL_TIMEOUT: 5 }),
 * extraEnv other serve.sh variables (e.g. { TURN: '1', TURN_PORT: ... }).
 * Resolves with { base, port, state, stop() }.
 */
export async function startServer(settings = {}, extraEnv = {}) {
  const state = mkdtempSync(join(tmpdir(), 'tuturu-web-'));
  const port = await freePort();
  const env = { ...process.env, ...extraEnv, TUTURU_STATE: state, PORT: String(port), TUTURU_BIN: binary(), HTDOCS: extraEnv.HTDOCS || join(TOP, 'htdocs') };
  for (const [k, v] of Object.entries(settings)) env[`TUTURU_${k}`] = String(v);
  const child = spawn(join(TOP, 'scripts/serve.sh'), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((ok) => child.once('exit', ok));
  const output = () => {
    let log = '';
    try { log = readFileSync(join(state, 'log/lighttpd-error.log'), 'utf8'); } catch { /* not there yet */ }
    return `${out}\n${log}`.trim();
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(base, child, output, T.start);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
    throw e;
  }
  return {
    base, port, state, output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      rmSync(state, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A fresh six-digit PIN per test, so tests never share a room. */
export function testPin() {
  return String(100000 + Math.floor(Math.random() * 900000));
}

/**
 * A page in its own browser context (its own storage, as another person's
 * browser would be). opts: { viewport, init (a function or script text for addInitScript) }.
 * Page errors are collected on page.errors.
 */
export async function openPage(browser, base, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1000, height: 700 }, locale: opts.locale || 'en-US' });
  if (opts.init) await context.addInitScript(opts.init);
  const page = await context.newPage();
  page.errors = [];
  page.logs = [];
  page.name = opts.name || 'page';
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => page.logs.push(`${m.type()}: ${m.text()}`));
  page.setDefaultTimeout(T.short);
  if (opts.setup) await opts.setup(page);
  // ?debug makes the page log its actions to the console, shown when a test fails
  await page.goto(`${base}/?debug${opts.hash ? `#${opts.hash}` : ''}`);
  return page;
}

export async function joinPin(page, pin) {
  await page.fill('#pin', pin);
  await page.click('#join');
}

export function stateOf(page) {
  return page.getAttribute('#status', 'data-state');
}

/** Wait until #status has data-state `state` (bounded). */
export async function waitState(page, state, timeout = T.call) {
  try {
    await page.waitForSelector(`#status[data-state="${state}"]`, { state: 'attached', timeout });
  } catch (e) {
    const now = await stateOf(page).catch(() => '?');
    throw new Error(`waiting for state ${state}, still ${now}: ${e.message.split('\n')[0]}`);
  }
}

/**
 * Remote video is playing: frames have a size and the clock advances by
 * `advance` seconds from what it was when first seen playing.
 */
export async function waitRemoteVideoPlaying(page, advance = 0.5, timeout = T.call) {
  const t0 = await page.waitForFunction(() => {
    const v = document.querySelector('#remote-video');
    return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused ? v.currentTime : false;
  }, null, { timeout, polling: 100 }).then((h) => h.jsonValue());
  await page.waitForFunction((t) => document.querySelector('#remote-video').currentTime > t, t0 + advance,
    { timeout, polling: 100 });
}

/**
 * Two pages in one call, both connected. opts.a / opts.b go to openPage;
 * the pages are pushed to opts.pages as soon as they exist.
 */
export async function connectedPair(browser, base, opts = {}) {
  const pin = testPin();
  const a = await openPage(browser, base, { name: 'A', ...opts.a });
  if (opts.pages) opts.pages.push(a);
  const b = await openPage(browser, base, { name: 'B', ...opts.b });
  if (opts.pages) opts.pages.push(b);
  await joinPin(a, pin);
  await waitState(a, 'waiting');
  await joinPin(b, pin);
  await Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
  return { pin, a, b };
}

/**
 * Run fn; if it throws, add what the pages logged (their actions, with
 * ?debug) and any page errors to the failure message.
 */
export async function explain(pages, fn) {
  try {
    return await fn();
  } catch (e) {
    const tail = pages.filter(Boolean).map((p) =>
      `--- ${p.name}: errors ${JSON.stringify(p.errors)}\n${p.logs.slice(-40).join('\n')}`).join('\n');
    e.message = `${e.message}\n${tail}`;
    throw e;
  }
}

export async function closePages(...pages) {
  await Promise.all(pages.filter(Boolean).map((p) => p.context().close().catch(() => {})));
}

/** Run body(pages) with failure diagnostics; close every page it opened. */
export async function withPages(body) {
  const pages = [];
  try {
    await explain(pages, () => body(pages));
  } finally {
    await closePages(...pages);
  }
}
