// Other websites cannot use our visitors' browsers (docs/api.md, "Requests
// from other websites"), in real Chromium.
//
// A second origin is a tiny static server of the test's own on another port.
// Seen from our server at http://127.0.0.1:PORT, a page at
// http://localhost:OTHER is cross-site, and one at http://127.0.0.1:OTHER is
// same-site (another port of a shared host): both are refused. From each, the
// page tries what needs no CORS preflight: a fetch with a text/plain body
// (cors and no-cors), navigator.sendBeacon, a form posting text/plain, and a
// beacon leave carrying a real token. Each is answered 403 forbidden_origin
// and the database shows nothing stored: no room, no peer, no rate-limit hit,
// and the peer whose token was used is still there. Our own page still leaves
// by sendBeacon when it goes away.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { T, startServer, launchBrowser, openPage, joinPin, waitState, testPin, withPages } from './harness.mjs';

const TEST_MS = 120000;
let srv;
let browser;
let other; // the second origin's server
let otherPort;

before(async () => {
  srv = await startServer({ POLL_TIMEOUT: 5, PEER_GRACE: 3600, JOIN_LIMIT: 1000, JOIN_WINDOW: 3600 });
  other = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another site</title><p>another site</p>');
  });
  await new Promise((ok) => other.listen(0, '127.0.0.1', ok));
  otherPort = other.address().port;
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (other) await new Promise((ok) => other.close(ok));
  if (srv) await srv.stop();
});

const sql = (query) => {
  const out = execFileSync('sqlite3', ['-cmd', '.timeout 5000', '-json', join(srv.state, 'tuturu.db'), query],
    { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
};
/** Every row the API writes, for "this request changed nothing". */
const snapshot = () => ({
  rooms: sql('SELECT id, pin_hash FROM rooms ORDER BY id'),
  peers: sql('SELECT id, room_id, token_hash FROM peers ORDER BY id'),
  messages: sql('SELECT seq, peer_id FROM messages ORDER BY seq'),
  join_rate: sql('SELECT addr_hash, window, count FROM join_rate ORDER BY addr_hash, window'),
});

/** A blank page on the second origin, at http://host:OTHER/. */
async function openOther(host) {
  const page = await (await browser.newContext()).newPage();
  Object.assign(page, { name: `another site (${host})`, errors: [], logs: [] });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.setDefaultTimeout(T.short);
  await page.goto(`http://${host}:${otherPort}/`);
  return page;
}

/** A peer joined by the test itself (not through a browser). */
async function joinDirect(pin = testPin()) {
  const r = await fetch(`${srv.base}/api/join`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pin }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

/**
 * Watch a page's network through the DevTools protocol, which sees the
 * server's status even where the page may not read it (a CORS failure, an
 * opaque no-cors answer, a beacon). answer(url) resolves with the status and
 * the request headers the browser sent, for the first request to url.
 */
async function watchNetwork(page) {
  const cdp = await page.context().newCDPSession(page);
  const url = new Map();
  const sent = new Map();
  const status = new Map();
  const waiters = [];
  const check = () => {
    for (const w of waiters.splice(0)) {
      const id = [...url].find(([i, u]) => u === w.url && status.has(i) && sent.has(i))?.[0];
      if (id) w.ok({ status: status.get(id), sent: sent.get(id) });
      else waiters.push(w);
    }
  };
  cdp.on('Network.requestWillBeSent', (e) => { url.set(e.requestId, e.request.url); check(); });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    sent.set(e.requestId, Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v])));
    check();
  });
  cdp.on('Network.responseReceivedExtraInfo', (e) => { status.set(e.requestId, e.statusCode); check(); });
  await cdp.send('Network.enable');
  return {
    answer(u) {
      let timer;
      const found = new Promise((ok) => { waiters.push({ url: u, ok }); check(); });
      const late = new Promise((_, fail) => {
        timer = setTimeout(() => fail(new Error(`no answer to ${u} within ${T.short} ms`)), T.short);
      });
      return Promise.race([found, late]).finally(() => clearTimeout(timer));
    },
  };
}

/** Run attempt(page); resolve with the server's answer to its request to path. */
async function answerTo(page, path, attempt) {
  const net = await watchNetwork(page);
  const [answer, saw] = await Promise.all([net.answer(`${srv.base}${path}`), attempt(page)]);
  return { ...answer, saw };
}

// What a page on another site can do without a preflight. Each returns what
// the page saw (for the failure message); the server's answer is what counts.
const attempts = {
  'fetch with a text/plain JSON body (cors mode)': (page, api, pin) => page.evaluate(([u, p]) =>
    fetch(`${u}/api/join`, { method: 'POST', body: JSON.stringify({ pin: p }) })
      .then((r) => `read ${r.status}`, (e) => `refused by the browser: ${e.name}`), [api, pin]),
  "fetch with mode 'no-cors'": (page, api, pin) => page.evaluate(([u, p]) =>
    fetch(`${u}/api/join`, { method: 'POST', mode: 'no-cors', body: JSON.stringify({ pin: p }) })
      .then((r) => `opaque: ${r.type}`, (e) => `refused: ${e.name}`), [api, pin]),
  'navigator.sendBeacon': (page, api, pin) => page.evaluate(([u, p]) =>
    `queued: ${navigator.sendBeacon(`${u}/api/join`, JSON.stringify({ pin: p }))}`, [api, pin]),
  'a form posting text/plain': (page, api, pin) => page.evaluate(([u, p]) => {
    const f = document.createElement('form');
    f.method = 'POST';
    f.enctype = 'text/plain';
    f.action = `${u}/api/join`;
    const i = document.createElement('input');
    i.name = `{"pin":"${p}","x":"`; // the body is name=value: {"pin":"...","x":"="}
    i.value = '"}';
    f.append(i);
    document.body.append(f);
    f.submit();
    return 'submitted';
  }, [api, pin]),
};

for (const [site, host] of [['cross-site (localhost)', 'localhost'], ['same-site (127.0.0.1, another port)', '127.0.0.1']]) {
  for (const [name, attempt] of Object.entries(attempts)) {
    test(`a page ${site}: ${name} to /api/join is 403 and stores nothing`, { timeout: TEST_MS }, () => withPages(async (pages) => {
      const page = await openOther(host);
      pages.push(page);
      const before = snapshot();
      const pin = testPin();
      const r = await answerTo(page, '/api/join', (p) => attempt(p, srv.base, pin));
      assert.equal(r.status, 403, `${JSON.stringify(r)}`);
      assert.deepEqual(snapshot(), before, 'the database changed');
    }));
  }

  test(`a page ${site}: a beacon leave with a real token is 403 and the peer stays`, { timeout: TEST_MS }, () => withPages(async (pages) => {
    const page = await openOther(host);
    pages.push(page);
    const j = await joinDirect();
    const before = snapshot();
    const r = await answerTo(page, '/api/leave', (p) => p.evaluate(([u, token]) =>
      navigator.sendBeacon(`${u}/api/leave`, JSON.stringify({ token })), [srv.base, j.token]));
    assert.equal(r.status, 403, JSON.stringify(r));
    assert.deepEqual(snapshot(), before, 'the database changed');
    assert.deepEqual(sql(`SELECT id FROM peers WHERE id = '${j.peer}'`), [{ id: j.peer }]);
  }));
}

test('our own page leaves by sendBeacon when it goes away', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const page = await openPage(browser, srv.base, { name: 'A' });
  pages.push(page);
  await joinPin(page, testPin());
  await waitState(page, 'waiting');
  const { peer, token } = await page.evaluate(() => window.tuturu.state.session);
  assert.equal(sql(`SELECT count(*) AS n FROM peers WHERE id = '${peer}'`)[0].n, 1);
  // pagehide: the page sends its beacon
  const r = await answerTo(page, '/api/leave', (p) => p.goto('about:blank'));
  assert.equal(r.status, 204, JSON.stringify(r));
  assert.match(r.sent['content-type'] ?? '', /^text\/plain/, 'a beacon with a string body is text/plain');
  assert.equal(r.sent['sec-fetch-site'], 'same-origin');
  assert.equal(sql(`SELECT count(*) AS n FROM peers WHERE id = '${peer}'`)[0].n, 0);
  const poll = await fetch(`${srv.base}/api/poll?after=0`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(poll.status, 401);
}));
