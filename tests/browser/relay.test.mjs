// Relayed calls in real Chromium through coturn beside the real server
// (scripts/serve.sh with TURN=1, on loopback ports of its own): with
// FORCE_RELAY both pages connect through the relay and video flows; a page
// given only TURN over TCP, or only TURN over TLS, connects too, and so do
// two pages that reach the page, the API and TURN over TLS on one port
// (ONE_PORT=1: HAProxy in front, haproxy.cfg).
//
// Everything is on 127.0.0.1: the browsers reach coturn there, and coturn
// relays between its own relay addresses there, which the local-run addition
// to its config allows (allow-loopback-peers, allowed-peer-ip=127.0.0.1).
//
// With a short turn_ttl the pages refresh their TURN credentials through
// /api/turn before they expire, and a relayed call outlives the first ones.
//
// TURN over TLS and the self-signed certificate serve.sh makes: Chromium
// refuses it (a test below shows it: error 701, no relay candidate), and
// production needs a real certificate (TURN_CERT/TURN_KEY, docs/turn.md). The
// TLS call runs in a browser told to accept this one certificate's key
// (--ignore-certificate-errors-spki-list), not every certificate.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  T, CHROMIUM_ARGS, startServer, launchBrowser, openPage, connectedPair, waitRemoteVideoPlaying, withPages, testPin,
} from './harness.mjs';
import { alive, waitFor } from '../integration/harness.mjs';
import { coturnPid, freeLowPort, turnPorts } from '../turn/harness.mjs';

const TEST_MS = 150000;
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
});

/** Keep every RTCPeerConnection the page makes, for getStats from the test. */
function keepPeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
}

/** The selected candidate pair of the page's connected RTCPeerConnection. */
function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs.filter((p) => p.connectionState === 'connected').at(-1);
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
    });
    const local = pair && stats.get(pair.localCandidateId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    return local ? {
      local: local.candidateType, relayProtocol: local.relayProtocol, url: local.url, remote: remote?.candidateType,
    } : null;
  });
}

/**
 * A server with coturn; `urls` (a function of the TURN ports) replaces the
 * TURN URLs when given, with no STUN; `env` (an async function of the TURN
 * ports) adds serve.sh variables. stop() also checks coturn is gone.
 */
async function startRelayServer(urls, more = {}, env = async () => ({})) {
  const turn = await turnPorts();
  const ports = { ...turn, ...await env(turn) };
  const settings = { POLL_TIMEOUT: 5, PEER_GRACE: 30, JOIN_LIMIT: 1000, FORCE_RELAY: 1, ...more };
  if (urls) Object.assign(settings, { TURN_URLS: urls(ports), STUN_URLS: '' });
  const srv = await startServer(settings, { TURN: '1', ...ports });
  const pid = coturnPid(srv.state);
  assert.ok(pid && alive(pid), `coturn is running:\n${srv.output()}`);
  const stop = srv.stop;
  srv.stop = async () => {
    await stop();
    await waitFor(() => !alive(pid), 10000, `coturn (pid ${pid}) to exit with the server (an orphan)`);
  };
  srv.turnLog = () => {
    try {
      return readFileSync(join(srv.state, 'log/turnserver.log'), 'utf8');
    } catch {
      return '';
    }
  };
  return srv;
}

/** Both pages connected, video both ways, and every path relayed over `protocol`. */
async function relayedCall(srv, pages, protocol, inBrowser = browser, init = keepPeerConnections) {
  const opts = { pages, a: { init }, b: { init } };
  const { a, b } = await connectedPair(inBrowser, srv.pageBase || srv.base, opts);
  await Promise.all([waitRemoteVideoPlaying(a, 1), waitRemoteVideoPlaying(b, 1)]);
  for (const p of [a, b]) {
    await p.waitForSelector('#status[data-path]', { state: 'attached', timeout: T.call });
    assert.equal(await p.getAttribute('#status', 'data-path'), 'relay', `${p.name}: #status data-path`);
    const pair = await selectedPair(p);
    assert.equal(pair?.local, 'relay', `${p.name}: ${JSON.stringify(pair)}`);
    assert.equal(pair.remote, 'relay', `${p.name}: ${JSON.stringify(pair)}`);
    if (protocol) assert.equal(pair.relayProtocol, protocol, `${p.name}: ${JSON.stringify(pair)}`);
  }
  assert.deepEqual([...a.errors, ...b.errors], []);
  return { a, b };
}

test('FORCE_RELAY: two pages connect through coturn, video flows, data-path="relay"', { timeout: TEST_MS }, async () => {
  const srv = await startRelayServer();
  try {
    // coturn's UDP, TCP and TLS URLs: whichever relayed pair ICE picks first
    await withPages((pages) => relayedCall(srv, pages));
  } catch (e) {
    e.message += `\n--- coturn log ---\n${srv.turnLog().split('\n').slice(-30).join('\n')}`;
    throw e;
  } finally {
    await srv.stop();
  }
});

test('only TURN over TCP: the call connects, relayed over TCP', { timeout: TEST_MS }, async () => {
  const srv = await startRelayServer((p) => `turn:127.0.0.1:${p.TURN_PORT}?transport=tcp`);
  try {
    await withPages((pages) => relayedCall(srv, pages, 'tcp'));
  } catch (e) {
    e.message += `\n--- coturn log ---\n${srv.turnLog().split('\n').slice(-30).join('\n')}`;
    throw e;
  } finally {
    await srv.stop();
  }
});

/** Base64 SHA-256 of a certificate's public key, as --ignore-certificate-errors-spki-list takes it. */
function spkiHash(certFile) {
  const der = new crypto.X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

/**
 * body(browser) with a Chromium that trusts certFile's key; a failure gets
 * coturn's log; the browser and the server are stopped either way.
 */
async function withTrusting(srv, certFile, body) {
  let trusting;
  try {
    trusting = await launchTrusting(certFile);
    await body(trusting);
  } catch (e) {
    e.message += `\n--- coturn log ---\n${srv.turnLog().split('\n').slice(-30).join('\n')}`;
    throw e;
  } finally {
    if (trusting) await trusting.close();
    await srv.stop();
  }
}

/** A Chromium that trusts certFile's key, as a real certificate would be trusted. */
function launchTrusting(certFile) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spkiHash(certFile)}`],
  });
}

test('only TURN over TLS: the call connects, relayed over TLS, once the browser trusts the certificate', { timeout: TEST_MS }, async () => {
  const srv = await startRelayServer((p) => `turns:127.0.0.1:${p.TURN_TLS_PORT}?transport=tcp`);
  await withTrusting(srv, join(srv.state, 'turn-cert.pem'), (trusting) =>
    withPages((pages) => relayedCall(srv, pages, 'tls', trusting)));
});

test('ONE_PORT=1: page, API and TURN over TLS on one port: the call connects, relayed over TLS through the router', { timeout: TEST_MS }, async () => {
  let https;
  let proxy;
  const srv = await startRelayServer((p) => `turns:127.0.0.1:${p.HTTPS_PORT}?transport=tcp`, {}, async (turn) => {
    const taken = new Set([turn.TURN_PORT, turn.TURN_TLS_PORT]);
    for (https = await freeLowPort(); taken.has(String(https));) https = await freeLowPort();
    taken.add(String(https));
    for (proxy = await freeLowPort(); taken.has(String(proxy));) proxy = await freeLowPort();
    return { ONE_PORT: '1', HTTPS_PORT: String(https), TURN_PROXY_PORT: String(proxy) };
  });
  // the page too comes through the router (ALPN h2, http/1.1: to lighttpd)
  srv.pageBase = `https://127.0.0.1:${https}`;
  await withTrusting(srv, join(srv.state, 'https-cert.pem'), async (trusting) => {
    const conf = readFileSync(join(srv.state, 'turnserver.conf'), 'utf8');
    assert.match(conf, new RegExp(`^tcp-proxy-port=${proxy}$`, 'm'), 'coturn takes TURN from the router only');
    await withPages(async (pages) => {
      const { a, b } = await relayedCall(srv, pages, 'tls', trusting);
      for (const p of [a, b]) {
        assert.equal((await selectedPair(p)).url, `turns:127.0.0.1:${https}?transport=tcp`, p.name);
      }
    });
  });
});

test('Chromium refuses the self-signed certificate for TURN over TLS (error 701, no relay candidate)', { timeout: TEST_MS }, async () => {
  const srv = await startRelayServer((p) => `turns:127.0.0.1:${p.TURN_TLS_PORT}?transport=tcp`);
  try {
    await withPages(async (pages) => {
      const page = await openPage(browser, srv.base, { name: 'A' });
      pages.push(page);
      const gathered = await page.evaluate(async (pin) => {
        const r = await fetch('/api/join', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pin }),
        });
        const j = await r.json();
        const pc = new RTCPeerConnection({ iceServers: j.ice_servers, iceTransportPolicy: 'relay' });
        const candidates = [];
        const errors = [];
        pc.onicecandidate = (e) => e.candidate && candidates.push(e.candidate.candidate);
        pc.onicecandidateerror = (e) => errors.push(e.errorCode);
        pc.createDataChannel('probe');
        const complete = new Promise((ok) => {
          pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && ok();
        });
        await pc.setLocalDescription();
        await Promise.race([complete, new Promise((ok) => setTimeout(ok, 30000))]); // bounded
        const state = pc.iceGatheringState;
        pc.close();
        return { state, candidates, errors };
      }, testPin());
      assert.equal(gathered.state, 'complete');
      assert.deepEqual(gathered.candidates, []);
      assert.ok(gathered.errors.length > 0 && gathered.errors.every((c) => c === 701), JSON.stringify(gathered));
    });
  } finally {
    await srv.stop();
  }
});

/**
 * A record of the page's API requests: when the join answer came and when
 * each GET /api/turn went out and what it got (ms, performance.now()).
 */
function recordTurnFetches() {
  window.__turn = [];
  const nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = String((input && input.url) || input);
    const answer = nativeFetch.call(this, input, init);
    if (url.includes('/api/turn')) {
      const entry = { at: performance.now(), status: 0 };
      window.__turn.push(entry);
      answer.then((r) => { entry.status = r.status; }, () => { entry.status = -1; });
    } else if (url.includes('/api/join')) {
      answer.then(() => { window.__joinedAt = performance.now(); }, () => {});
    }
    return answer;
  };
}

const TTL = 20;

test(`turn_ttl ${TTL} s: the relayed call connects, each page fetches fresh credentials before they expire, and the call outlives the first ones`, { timeout: TEST_MS }, async () => {
  const srv = await startRelayServer(undefined, { TURN_TTL: TTL });
  try {
    await withPages(async (pages) => {
      const { a, b } = await relayedCall(srv, pages, undefined, browser,
        `(${keepPeerConnections})(); (${recordTurnFetches})();`);
      for (const p of [a, b]) {
        // the keeper asks when a quarter of the lifetime is left: 15 s after the join answer
        await p.waitForFunction(() => window.__turn.some((t) => t.status === 200), null, { timeout: TTL * 1000 + T.short });
        const { joinedAt, turn } = await p.evaluate(() => ({ joinedAt: window.__joinedAt, turn: window.__turn }));
        const first = (turn[0].at - joinedAt) / 1000;
        assert.ok(first >= TTL * 0.75 - 1 && first < TTL, `${p.name}: first /api/turn ${first.toFixed(1)} s after join: ${JSON.stringify(turn)}`);
      }
      // past the join credentials' expiry, video still flows through the relay
      await a.waitForFunction((ms) => performance.now() - window.__joinedAt > ms, (TTL + 2) * 1000, { timeout: TTL * 1000 + T.short });
      await Promise.all([waitRemoteVideoPlaying(a, 1), waitRemoteVideoPlaying(b, 1)]);
      for (const p of [a, b]) {
        assert.equal(await p.getAttribute('#status', 'data-state'), 'connected', p.name);
        assert.equal((await selectedPair(p))?.local, 'relay', p.name);
      }
      assert.deepEqual([...a.errors, ...b.errors], []);
    });
  } catch (e) {
    e.message += `\n--- coturn log ---\n${srv.turnLog().split('\n').slice(-30).join('\n')}`;
    throw e;
  } finally {
    await srv.stop();
  }
});
