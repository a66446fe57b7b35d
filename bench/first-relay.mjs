#!/usr/bin/env node
// first-relay.mjs: how long Chromium takes to gather its first relay
// candidate from the join's ice_servers, for several orders of those
// servers, on an open network, with UDP blocked, and with only TCP 443 open.
// A measurement (prints a table and JSON lines), not a test: exits 0 whatever
// the numbers say, non-zero if it cannot run.
//
//   sudo node bench/first-relay.mjs [--runs N] [--nets open,udp-blocked,tcp443]
//                                   [--rtt MS [--delay PATH]]
//
// --rtt holds every packet the client sends for MS milliseconds (a round
// trip of MS, as this kernel has no netem): iptables-nft's NFQUEUE target
// and the lab's delay program (tests/lab/delay.c, built as build/lab/delay;
// --delay names another build of it). Without it the veth's round trip is
// some microseconds and every time below is the browser's own work.
//
// As root: two network namespaces joined by one veth pair, documentation
// addresses only, no link to the host's network, removed on exit (also after
// a failure or Ctrl-C):
//   fr<pid>-srv  192.0.2.10/24  the real server: ONE_PORT=1 HTTPS_PORT=443 (HAProxy,
//                lighttpd, coturn with TURN_PORT 3478), scripts/serve.sh
//   fr<pid>-cli  192.0.2.20/24  Debian's Chromium (tests/lab/chromium-ns), whose
//                nftables output rules make the network
// Each trial is a fresh browser context (no TLS session to resume): it loads
// https://192.0.2.10/api/health, joins a fresh PIN, builds ice_servers from
// the join's URLs in one order, and times setLocalDescription -> the first
// icecandidate of type relay (iceTransportPolicy "all", as the page uses).
// The orders are interleaved trial by trial so load from other work spreads
// over all of them alike.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRV = '192.0.2.10';
const CLI = '192.0.2.20';
const PREFIX = `fr${process.pid}`;
const NS = { srv: `${PREFIX}-srv`, cli: `${PREFIX}-cli` };
const TRIAL_MS = 20000;

const ARGS = [
  '--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** The client's nftables output rules per network (first match wins, then accept). */
const NETS = {
  open: [],
  'udp-blocked': ['oifname "eth0" meta l4proto udp drop'],
  tcp443: ['oifname "eth0" tcp dport 443 accept', 'oifname "eth0" drop'],
};

/**
 * The orders compared: from the join's STUN URL and its three TURN URLs
 * (udp and tcp on TURN_PORT, tls on the one port), the ice_servers a page
 * would get. `one`: all TURN URLs in one entry (what tuturu-api makes);
 * `each`: one entry per URL.
 */
const ORDERS = {
  'udp,tcp,tls one entry': (u) => [{ urls: u.stun }, { urls: [u.udp, u.tcp, u.tls], ...u.cred }],
  'tls,tcp,udp one entry': (u) => [{ urls: u.stun }, { urls: [u.tls, u.tcp, u.udp], ...u.cred }],
  'udp,tcp,tls each': (u) => [{ urls: u.stun }, ...[u.udp, u.tcp, u.tls].map((x) => ({ urls: x, ...u.cred }))],
  'tls,tcp,udp each': (u) => [{ urls: u.stun }, ...[u.tls, u.tcp, u.udp].map((x) => ({ urls: x, ...u.cred }))],
};

function run(cmd, args, input) {
  return execFileSync(cmd, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], encoding: 'utf8' });
}

function options() {
  const o = { runs: 7, nets: Object.keys(NETS), rtt: 0, delay: path.join(TOP, 'build/lab/delay') };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    if (a[i] === '--runs' && /^[1-9][0-9]?$/.test(a[i + 1] || '')) o.runs = Number(a[i + 1]);
    else if (a[i] === '--nets' && (a[i + 1] || '').split(',').every((n) => n in NETS)) o.nets = a[i + 1].split(',');
    else if (a[i] === '--rtt' && /^[1-9][0-9]{0,3}$/.test(a[i + 1] || '')) o.rtt = Number(a[i + 1]);
    else if (a[i] === '--delay' && a[i + 1]) o.delay = path.resolve(a[i + 1]);
    else {
      throw new Error(`usage: first-relay.mjs [--runs 1-99] [--nets ${Object.keys(NETS).join(',')}] [--rtt 1-9999 [--delay PATH]] (got ${a[i]} ${a[i + 1]})`);
    }
  }
  if (o.rtt && !fs.existsSync(o.delay)) throw new Error(`--rtt needs the lab's delay program: ${o.delay} is not there (make build/lab/delay, or --delay PATH)`);
  return o;
}

/** Make both namespaces and their link. Throws with ip's message. */
function netUp() {
  for (const n of Object.values(NS)) {
    run('ip', ['netns', 'add', n]);
    run('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
  }
  run('ip', ['link', 'add', 'fr-tmp-a', 'netns', NS.srv, 'type', 'veth', 'peer', 'name', 'fr-tmp-b', 'netns', NS.cli]);
  for (const [n, tmp, addr] of [[NS.srv, 'fr-tmp-a', SRV], [NS.cli, 'fr-tmp-b', CLI]]) {
    run('ip', ['-n', n, 'link', 'set', tmp, 'name', 'eth0']);
    run('ip', ['-n', n, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    run('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);
  }
}

/** Kill what runs in our namespaces and remove them; never throws. */
function netDown() {
  for (const n of Object.values(NS)) {
    const pids = spawnSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).stdout || '';
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    spawnSync('ip', ['netns', 'del', n]);
  }
}

/**
 * Hold every packet the client sends on eth0 for ms (NFQUEUE queue 0, the
 * delay program in the client's namespace, killed with it by netDown).
 * Resolves once the program says its queue is bound.
 */
async function addDelay(bin, ms) {
  const child = spawn('ip', ['netns', 'exec', NS.cli, bin, '-q', '0', '-d', String(ms)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`delay did not start in 10 s: ${out}`)), 10000);
    const seen = (d) => {
      out += d;
      if (/ready/.test(out)) { clearTimeout(timer); ok(); }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`delay exited with ${code}: ${out}`)); });
  });
  run('ip', ['netns', 'exec', NS.cli, 'iptables-nft', '-t', 'mangle', '-A', 'OUTPUT', '-o', 'eth0', '-j', 'NFQUEUE', '--queue-num', '0']);
}

function setNet(name) {
  // (our table only: iptables-nft's mangle table holds the delay's NFQUEUE rule)
  const rules = ['table inet fr {}', 'delete table inet fr', 'table inet fr {', '  chain out {',
    '    type filter hook output priority filter; policy accept;', ...NETS[name].map((r) => `    ${r}`), '  }', '}'];
  run('ip', ['netns', 'exec', NS.cli, 'nft', '-f', '-'], `${rules.join('\n')}\n`);
}

/** serve.sh in the server namespace; resolves once the page answers through the router. */
async function startServer(state) {
  const bin = process.env.TUTURU_BIN || path.join(TOP, 'build/tuturu-api');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is not built (make build/tuturu-api, or set TUTURU_BIN)`);
  const env = {
    ...process.env, TUTURU_STATE: state, TUTURU_BIN: bin, BIND: SRV, PORT: '8080', ONE_PORT: '1', HTTPS_PORT: '443',
    HTTPS_HOSTS: SRV, TURN: '1', TURN_PORT: '3478', TURN_RELAY_IP: SRV, TURN_MIN_PORT: '40000', TURN_MAX_PORT: '40999',
    TUTURU_JOIN_LIMIT: '100000', TUTURU_POLL_TIMEOUT: '5',
  };
  const out = fs.openSync(path.join(state, 'serve.out'), 'a');
  const child = spawn('ip', ['netns', 'exec', NS.srv, path.join(TOP, 'scripts/serve.sh')], { env, stdio: ['ignore', out, out] });
  const until = Date.now() + 90000;
  while (Date.now() < until) {
    if (child.exitCode !== null) break;
    const r = spawnSync('ip', ['netns', 'exec', NS.cli, 'curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}',
      '--max-time', '2', `https://${SRV}/api/health`], { encoding: 'utf8' });
    if (r.stdout === '200') return child;
    await new Promise((ok) => setTimeout(ok, 200)); // polling a server that is starting
  }
  throw new Error(`server not up in 90 s:\n${['serve.out', 'log/haproxy.log'].map((f) => { try { return fs.readFileSync(path.join(state, f), 'utf8').slice(-1500); } catch { return ''; } }).join('\n')}`);
}

function spki(certFile) {
  const der = new crypto.X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

/** In the page: join a fresh PIN; the join's URLs by kind, and its TURN credentials. */
async function pageJoin() {
  const r = await fetch('/api/join', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ pin: String(100000 + Math.floor(Math.random() * 900000)) }),
  });
  const j = await r.json();
  const all = j.ice_servers.flatMap((s) => [].concat(s.urls));
  const t = j.ice_servers.find((s) => s.username);
  return {
    stun: all.filter((x) => x.startsWith('stun:')),
    udp: all.find((x) => x.startsWith('turn:') && x.endsWith('transport=udp')),
    tcp: all.find((x) => x.startsWith('turn:') && x.endsWith('transport=tcp')),
    tls: all.find((x) => x.startsWith('turns:')),
    cred: { username: t.username, credential: t.credential },
  };
}

/** In the page: gather with these servers; every candidate until the first relay one (bounded). */
async function pageGather([iceServers, ms]) {
  const pc = new RTCPeerConnection({ iceServers });
  const seen = [];
  let t0 = 0;
  const first = new Promise((ok) => {
    pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      const c = e.candidate;
      seen.push({ ms: performance.now() - t0, type: c.type, address: c.address, port: c.port, priority: c.priority });
      if (e.candidate.type === 'relay') ok();
    };
  });
  pc.createDataChannel('probe');
  const offer = await pc.createOffer();
  t0 = performance.now();
  await pc.setLocalDescription(offer);
  await Promise.race([first, new Promise((ok) => setTimeout(ok, ms))]); // bounded
  const relay = seen.find((c) => c.type === 'relay') || null;
  if (relay) {
    // the candidate's own fields do not say which server it came from: its stats do
    (await pc.getStats()).forEach((st) => {
      if (st.type === 'local-candidate' && st.candidateType === 'relay' && st.address === relay.address &&
        st.port === relay.port) Object.assign(relay, { proto: st.relayProtocol, url: st.url });
    });
  }
  pc.close();
  return { relay, seen };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

async function main() {
  const opts = options();
  if (process.getuid() !== 0) throw new Error('first-relay.mjs makes network namespaces: run it as root');
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-first-relay-'));
  let browser;
  const cleanup = () => {
    netDown();
    fs.rmSync(state, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });
  try {
    netUp();
    await startServer(state);
    if (opts.rtt) await addDelay(opts.delay, opts.rtt);
    browser = await chromium.launch({
      executablePath: path.join(TOP, 'tests/lab/chromium-ns'),
      env: { ...process.env, LAB_NS: NS.cli },
      headless: true,
      args: [...ARGS, `--ignore-certificate-errors-spki-list=${spki(path.join(state, 'https-cert.pem'))}`],
    });
    console.error(`Chromium ${browser.version()}, ${opts.runs} runs per order and network, round trip ${opts.rtt ? `${opts.rtt} ms` : 'of a veth'}`);
    const rows = [];
    for (const net of opts.nets) {
      setNet(net);
      const times = Object.fromEntries(Object.keys(ORDERS).map((o) => [o, []]));
      const protos = Object.fromEntries(Object.keys(ORDERS).map((o) => [o, {}]));
      for (let i = 0; i < opts.runs; i++) {
        for (const order of Object.keys(ORDERS)) {
          const ctx = await browser.newContext();
          try {
            const page = await ctx.newPage();
            await page.goto(`https://${SRV}/api/health`);
            const urls = await page.evaluate(pageJoin);
            const r = await page.evaluate(pageGather, [ORDERS[order](urls), TRIAL_MS]);
            console.log(JSON.stringify({ net, order, run: i, ...r }));
            times[order].push(r.relay ? r.relay.ms : Infinity);
            const p = r.relay ? r.relay.proto : 'none';
            protos[order][p] = (protos[order][p] || 0) + 1;
          } finally {
            await ctx.close();
          }
        }
      }
      for (const order of Object.keys(ORDERS)) {
        const ts = times[order].filter(Number.isFinite);
        rows.push({ net, order, median: median(ts), min: Math.min(...ts), max: Math.max(...ts), n: `${ts.length}/${times[order].length}`, first: protos[order] });
      }
    }
    console.log('\n| network | order of TURN URLs | median ms | min | max | found | first relay over |');
    console.log('| --- | --- | ---: | ---: | ---: | --- | --- |');
    for (const r of rows) {
      const first = Object.entries(r.first).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`| ${r.net} | ${r.order} | ${r.median.toFixed(0)} | ${r.min.toFixed(0)} | ${r.max.toFixed(0)} | ${r.n} | ${first} |`);
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    cleanup();
  }
}

main().catch((e) => {
  console.error(`first-relay: ${e.message}`);
  process.exit(1);
});
