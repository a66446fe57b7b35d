// bench/setup.mjs (make bench, the browser phase): how long a call takes to
// set up and how many API requests it costs, with two headless Chromium
// pages on loopback (the browser tests' flags; TURN=0, host candidates).
// Side by side in one run, alternating: the page of this tree and the page
// of BENCH_BASE (default: the commit before the page sent batches), both
// against this tree's server. Per call:
//   seconds: B's join request starts -> both pages show `connected`
//            (each page stamps the moment with Date.now(); one clock)
//   requests: /api/ requests both pages start from A's join to that moment
// Prints the median and range of each over BENCH_CALLS calls (default 7).
// A measurement: exits 0 whatever the numbers; non-zero if it cannot run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOP, startServer, launchBrowser, openPage, joinPin, waitState, testPin, closePages } from '../tests/browser/harness.mjs';

const CALLS = Number(process.env.BENCH_CALLS || 7);
const BASE = process.env.BENCH_BASE || '0f9c22c'; // the last commit before "page: send what is queued in one request"

/** Stamp the moment #status says connected (and how it got there). */
const STAMP = `addEventListener('DOMContentLoaded', () => {
  const s = document.querySelector('#status');
  new MutationObserver(() => {
    if (s.dataset.state === 'connected' && !window.__connectedAt) window.__connectedAt = Date.now();
  }).observe(s, { attributes: true, attributeFilter: ['data-state'] });
});`;

async function oneCall(browser, base) {
  const pages = [];
  try {
    const a = await openPage(browser, base, { name: 'A', init: STAMP });
    const b = await openPage(browser, base, { name: 'B', init: STAMP });
    pages.push(a, b);
    let counting = false;
    let requests = 0;
    let bJoin = 0;
    for (const p of pages) {
      p.on('request', (r) => {
        if (!r.url().includes('/api/')) return;
        if (p === b && r.url().endsWith('/api/join')) bJoin = Date.now();
        if (p === a && r.url().endsWith('/api/join')) counting = true;
        if (counting) requests++;
      });
    }
    const pin = testPin();
    await joinPin(a, pin);
    await waitState(a, 'waiting');
    await joinPin(b, pin);
    await Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    const at = await Promise.all(pages.map((p) => p.evaluate(() => window.__connectedAt)));
    counting = false;
    return { seconds: (Math.max(...at) - bJoin) / 1000, requests };
  } finally {
    await closePages(...pages);
  }
}

const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const show = (xs, unit) => `median ${median(xs)}${unit} (${Math.min(...xs)}-${Math.max(...xs)})`;

const old = mkdtempSync(join(tmpdir(), 'tuturu-bench-page-'));
execFileSync('sh', ['-c', `git -C "${TOP}" archive "${BASE}" htdocs | tar -x -C "${old}"`]);
const bin = join(TOP, 'build/tuturu-api');
const servers = {};
let browser;
try {
  process.env.TUTURU_BIN = process.env.TUTURU_BIN || bin;
  servers.now = await startServer({}, { TURN: '0' });
  servers.base = await startServer({}, { TURN: '0', HTDOCS: join(old, 'htdocs') });
  browser = await launchBrowser();
  const got = { now: [], base: [] };
  for (let i = 0; i < CALLS; i++) {
    for (const k of i % 2 ? ['base', 'now'] : ['now', 'base']) got[k].push(await oneCall(browser, servers[k].base));
  }
  console.log(`== call set-up, two Chromium on loopback, ${CALLS} calls each, alternating ==`);
  for (const [k, label] of [['now', 'this page'], ['base', `page of ${BASE}`]]) {
    console.log(`  ${label.padEnd(20)} second join -> both connected: ${show(got[k].map((r) => r.seconds), ' s')};`
      + ` API requests join -> connected: ${show(got[k].map((r) => r.requests), '')}`);
  }
  const ratio = median(got.now.map((r) => r.seconds)) / median(got.base.map((r) => r.seconds));
  console.log(`  set-up time, this page / base: ${ratio.toFixed(2)}`);
} finally {
  await browser?.close();
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  rmSync(old, { recursive: true, force: true });
}
