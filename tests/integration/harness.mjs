// harness.mjs: start the real lighttpd + tuturu-api on a free loopback port
// with a temporary state directory, and the small clients the tests share.
//
// A server is scripts/serve.sh (which execs lighttpd, which spawns the
// FastCGI program). Its output, which includes tuturu-api's stderr, goes to
// <state>/serve.log; lighttpd's own log is <state>/log/lighttpd-error.log.
// stop() sends SIGTERM to lighttpd, waits for lighttpd and tuturu-api to be
// gone (no orphan), then fails if AddressSanitizer or UBSan wrote a report to
// either log. Every wait is bounded (waitFor, within); nothing sleeps to
// synchronise.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.TUTURU_BIN || path.join(ROOT, 'build/asan/tuturu-api');

// Servers still running when this process exits (a test crashed or timed
// out): SIGTERM them so no lighttpd outlives the test run.
const running = new Set();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
});

const START_MS = 15000;
const STOP_MS = 10000;
// ASan (leak reports included: their SUMMARY names AddressSanitizer), UBSan.
const SANITIZER = /AddressSanitizer|runtime error:/;

/** Resolve after ms milliseconds (for polling intervals only, never as synchronisation). */
export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call fn until it returns a truthy value (or a promise of one) and return
 * that value; throw after timeoutMs with `what` in the message. Exceptions
 * thrown by fn count as "not yet" and the last one is reported.
 */
export async function waitFor(fn, timeoutMs, what = 'condition', intervalMs = 20) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (last ? ` (last error: ${last.message})` : ''));
    }
    await delay(intervalMs);
  }
}

/** Settle a promise within ms or throw: for requests that must return promptly. */
export async function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run a query with the sqlite3 CLI; rows as objects ([] for none). */
export function sql(db, query) {
  const out = execFileSync('sqlite3', ['-cmd', '.timeout 5000', '-json', db, query],
    { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

/**
 * Every row of every table (one sqlite3 run), for "this request changed
 * nothing". Without peers.last_seen: the cleaner writes the heartbeats of
 * every poll once a second, so a poll of an earlier test can move it
 * between two snapshots of a request that changed nothing.
 */
export function snapshot(db) {
  const table = (name, cols, order) =>
    `(SELECT json_group_array(json_array(${cols})) FROM (SELECT * FROM ${name} ORDER BY ${order})) AS ${name}`;
  const [row] = sql(db, `SELECT ${[
    table('rooms', 'id, pin_hash, created', 'id'),
    table('peers', 'id, room_id, token_hash, polite, joined', 'id'),
    table('messages', 'seq, peer_id, type, data, created', 'seq'),
    table('join_rate', 'addr_hash, window, count', 'addr_hash, window'),
  ].join(', ')}`);
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, JSON.parse(v)]));
}

/** A PIN no other test of this run uses: 6 digits. */
let pinCounter = Math.floor(Math.random() * 500000);
export function freshPin() {
  pinCounter = (pinCounter + 7919) % 1000000;
  return String(pinCounter).padStart(6, '0');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return `(${file} unreadable)`;
  }
}

/** Parent pid and state of a process from /proc, or null when it is gone. */
function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/** True while pid exists and is not a zombie. */
export function alive(pid) {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

function childrenOf(pid) {
  const kids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (st && st.ppid === pid && st.state !== 'Z') kids.push(Number(name));
  }
  return kids;
}

/**
 * One HTTP request; the body parsed as JSON when it is JSON. A body (object,
 * string or bytes) goes as `Content-Type: application/json`, as the API
 * requires, unless headers name another type or contentType says otherwise
 * (null: no Content-Type header at all).
 */
export async function request(base, method, urlPath, { headers = {}, body, token, contentType = 'application/json' } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  let payload = body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    payload = JSON.stringify(body);
  }
  if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
    // fetch adds text/plain to a string body by itself; bytes go without a type
    if (contentType === null) payload = Buffer.from(payload);
    else h['content-type'] = contentType;
  }
  const res = await fetch(base + urlPath, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Send bytes on a fresh TCP connection and read until the server closes it
 * (bounded). halfClose ends our side after writing; localAddress binds the
 * client socket (e.g. 127.0.0.2: all of 127/8 is loopback on Linux, so the
 * server sees another REMOTE_ADDR). Returns the raw answer
 * and, when there is one, its status, headers and JSON body.
 */
export function rawRequest(port, data, { halfClose = false, timeoutMs = 5000, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect({ port, host: '127.0.0.1', localAddress },
      () => (halfClose ? s.end(data) : s.write(data)));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`raw request: no close within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('data', (b) => chunks.push(b));
    s.on('error', () => {}); // a reset after the answer is fine; close follows
    s.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const sep = raw.indexOf('\r\n\r\n');
      const head = sep < 0 ? raw : raw.slice(0, sep);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      const headers = new Map();
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
      }
      let body = sep < 0 ? '' : raw.slice(sep + 4);
      if (/chunked/i.test(headers.get('transfer-encoding') || '')) {
        let out = '';
        for (let i = 0; ;) {
          const eol = body.indexOf('\r\n', i);
          const n = parseInt(body.slice(i, eol), 16);
          if (!(n > 0)) break;
          out += body.slice(eol + 2, eol + 2 + n);
          i = eol + 2 + n + 2;
        }
        body = out;
      }
      let json;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({
        raw,
        status: m ? Number(m[1]) : 0,
        headers: { get: (k) => headers.get(k.toLowerCase()) ?? null },
        text: body,
        json,
      });
    });
  });
}

/**
 * Start lighttpd + tuturu-api and wait until /api/health answers ok; throws
 * with the tail of the logs when it does not. env: extra environment
 * (TUTURU_POLL_TIMEOUT and friends). The join rate limit defaults to its
 * maximum so that tests joining often from 127.0.0.1 are not limited; the
 * rate-limit test sets it.
 */
export async function startServer({ env = {} } = {}) {
  for (let attempt = 1; ; attempt++) {
    const srv = await launchServer({ env });
    try {
      await srv.waitHealthy();
      return srv;
    } catch (e) {
      const logs = srv.logs();
      await srv.stop().catch(() => {});
      // The free port may have been taken between our probe and lighttpd's bind.
      if (attempt < 3 && /Address already in use/.test(logs)) continue;
      throw new Error(`the server did not come up on ${srv.url}: ${e.message}\n${logs}`);
    }
  }
}

/**
 * Spawn scripts/serve.sh without waiting for it to serve; see startServer.
 * srv.exited resolves with {code, signal} when serve.sh/lighttpd exits.
 */
export async function launchServer({ env = {} } = {}) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-it-'));
  const port = await freePort();
  const serveLog = path.join(state, 'serve.log');
  const errorLog = path.join(state, 'log', 'lighttpd-error.log');
  const out = fs.openSync(serveLog, 'a');
  // Settings come from `env` only, not from whatever TUTURU_* the caller has.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TUTURU_')));
  const fullEnv = {
    ...inherited,
    TUTURU_JOIN_LIMIT: '1000000',
    ...env,
    TUTURU_STATE: state,
    PORT: String(port),
    TUTURU_BIN: BIN,
  };
  const child = spawn(path.join(ROOT, 'scripts/serve.sh'), [], {
    env: fullEnv,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  running.add(child.pid);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child.pid);
      exited = { code, signal };
      resolve(exited);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const logs = () => `--- ${serveLog} ---\n${tail(serveLog)}\n--- ${errorLog} ---\n${tail(errorLog)}`;

  const srv = {
    url,
    port,
    state,
    db: path.join(state, 'tuturu.db'),
    secretFile: path.join(state, 'secret'),
    pid: child.pid,
    exited: exitPromise,
    exitStatus: () => exited,
    errorLog,
    serveLog,
    logs,
    /** The pid of the running tuturu-api (lighttpd's child), or null. */
    apiPid() {
      const kids = childrenOf(child.pid);
      return kids.length ? kids[0] : null;
    },
    /** Wait until /api/health answers ok (after a start or a backend restart). */
    async waitHealthy(ms = START_MS) {
      let died = false;
      await waitFor(async () => {
        if (exited) return (died = true);
        const r = await request(url, 'GET', '/api/health');
        return r.status === 200 && r.json?.status === 'ok';
      }, ms, 'GET /api/health to answer ok');
      if (died) throw new Error(`serve.sh exited ${JSON.stringify(exited)}`);
    },
    /** The sanitizer reports in the logs so far ('' when none). */
    sanitizerReports() {
      const text = [serveLog, errorLog]
        .map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : ''))
        .join('\n');
      return text.split('\n').filter((l) => SANITIZER.test(l)).join('\n');
    },
    stopped: false,
    /**
     * SIGTERM lighttpd; wait for it and tuturu-api to exit; fail on an
     * orphan or a sanitizer report (the state directory is then kept for a
     * look, and whatever still runs is killed).
     */
    async stop() {
      if (srv.stopped) return;
      srv.stopped = true;
      const api = srv.apiPid();
      try {
        if (!exited) child.kill('SIGTERM');
        await within(exitPromise, STOP_MS, `lighttpd (pid ${child.pid}) to exit on SIGTERM`);
        if (api) {
          await waitFor(() => !alive(api), STOP_MS,
            `tuturu-api (pid ${api}) to exit after lighttpd stopped (an orphan)`);
        }
      } catch (e) {
        for (const pid of [child.pid, api]) {
          try {
            if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        throw new Error(`${e.message} (state kept in ${state})\n${logs()}`);
      }
      const reports = srv.sanitizerReports();
      if (reports) {
        throw new Error(`sanitizer reports in the logs (state kept in ${state}):\n${reports}\n${logs()}`);
      }
      fs.rmSync(state, { recursive: true, force: true });
    },
    // Clients bound to this server.
    request: (method, p, opts) => request(url, method, p, opts),
    join: (pin) => request(url, 'POST', '/api/join', { body: { pin } }),
    send: (token, type, data) => request(url, 'POST', '/api/send', { token, body: { type, data } }),
    poll: (token, after) =>
      request(url, 'GET', after === undefined ? '/api/poll' : `/api/poll?after=${after}`, { token }),
    leave: (token) => request(url, 'POST', '/api/leave', { token }),
    turn: (token) => request(url, 'GET', '/api/turn', { token }),
    sql: (query) => sql(srv.db, query),
    snapshot: () => snapshot(srv.db),
  };
  return srv;
}

/** Join two peers to a fresh PIN; a is the first (it gets peer-joined). */
export async function joinPair(srv, pin = freshPin()) {
  const ra = await srv.join(pin);
  if (ra.status !== 200) throw new Error(`join a: ${ra.status} ${ra.text}`);
  const rb = await srv.join(pin);
  if (rb.status !== 200) throw new Error(`join b: ${rb.status} ${rb.text}`);
  return { pin, a: ra.json, b: rb.json };
}

/**
 * Start a poll and resolve once the server has it: the peer's last_seen is
 * first set to a marker one second in the past (far inside any peer_grace,
 * so the cleanup leaves the peer alone), and the poll's heartbeat moves it.
 * Returns {answer}: the pending request, wrapped (an async function that
 * returned the promise itself would wait for it).
 */
export async function startHeldPoll(srv, peer, after) {
  const marker = Math.floor(Date.now() / 1000) - 1;
  srv.sql(`UPDATE peers SET last_seen = ${marker} WHERE id = '${peer.peer}'`);
  const pending = srv.poll(peer.token, after);
  pending.catch(() => {}); // the caller awaits it; avoid an unhandled rejection meanwhile
  await waitFor(() => {
    const rows = srv.sql(`SELECT last_seen FROM peers WHERE id = '${peer.peer}'`);
    return rows.length === 1 && rows[0].last_seen !== marker;
  }, 5000, `the poll of ${peer.peer} to reach the server`);
  return { answer: pending };
}

/** Poll with a cursor until a message of `type` arrives; returns all messages seen. */
export async function pollUntil(srv, token, type, { after = 0, timeoutMs = 10000 } = {}) {
  const seen = [];
  let cursor = after;
  await waitFor(async () => {
    const r = await srv.poll(token, cursor);
    if (r.status !== 200) throw new Error(`poll: ${r.status} ${r.text}`);
    for (const m of r.json.messages) {
      seen.push(m);
      cursor = Math.max(cursor, m.seq);
    }
    return seen.some((m) => m.type === type);
  }, timeoutMs, `a ${type} message`, 0);
  return { messages: seen, cursor };
}

/**
 * Assert that r is the API error `code` with HTTP `status`: a JSON body
 * {"error","message"} with a non-empty message. `code` may be a list of
 * acceptable codes where the contract allows more than one.
 */
export function assertError(r, status, code, what = '') {
  const codes = Array.isArray(code) ? code : [code];
  const ct = r.headers.get('content-type') || '';
  const got = {
    status: r.status,
    json: ct.startsWith('application/json'),
    error: codes.includes(r.json?.error) ? codes[0] : r.json?.error,
    message: typeof r.json?.message === 'string' && r.json.message.length > 0,
    keys: r.json ? Object.keys(r.json).sort() : r.text,
  };
  assert.deepEqual(got, { status, json: true, error: codes[0], message: true, keys: ['error', 'message'] },
    `${what} answered ${r.status} ${ct} ${r.text.slice(0, 300)}`);
}
