// harness.mjs: run install.sh from a copy of this working tree, as a user
// without root (nobody, when the tests run as root), on free ports.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { ROOT, alive } from '../integration/harness.mjs';
import { freeLowPort, turnPorts } from '../turn/harness.mjs';

export const IS_ROOT = process.getuid() === 0;
/** The uid install.sh runs as in the non-root tests. */
export const USER_UID = IS_ROOT ? 65534 : process.getuid();
/** How long one install.sh may take (INSTALL_MS=600000 on a busy machine). */
export const INSTALL_MS = Number(process.env.INSTALL_MS) || 180000;

/**
 * A scratch directory with a copy of the repository's files (tracked and
 * new, as a clone plus this change would have), a HOME, owned by USER_UID.
 */
export function scratch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-install-'));
  const src = path.join(dir, 'src');
  const home = path.join(dir, 'home');
  fs.mkdirSync(src);
  fs.mkdirSync(home);
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT })
    .toString().split('\0').filter((f) => f && fs.existsSync(path.join(ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(src, f));
    fs.chmodSync(path.join(src, f), fs.statSync(path.join(ROOT, f)).mode & 0o777);
  }
  fs.chmodSync(dir, 0o755);
  if (IS_ROOT) execFileSync('chown', ['-R', `${USER_UID}:${USER_UID}`, dir]);
  return { dir, src, home, prefix: path.join(dir, 'prefix') };
}

/**
 * Free ports for one install: web, https, TURN, TURN over TLS, coturn's
 * PROXY-protocol port behind the one-port router, relay range (and no
 * connection cap).
 */
export async function ports() {
  const used = new Set();
  const one = async () => {
    let p = await freeLowPort();
    while (used.has(p)) p = await freeLowPort();
    used.add(p);
    return p;
  };
  const web = await one();
  const https = await one();
  const t = await turnPorts();
  used.add(Number(t.TURN_PORT));
  used.add(Number(t.TURN_TLS_PORT));
  const proxy = await one();
  return {
    web, https, turn: Number(t.TURN_PORT), tls: Number(t.TURN_TLS_PORT), proxy,
    args: ['--port', web, '--https-port', https, '--turn-port', t.TURN_PORT, '--turn-tls-port', t.TURN_TLS_PORT,
      '--turn-proxy-port', proxy,
      '--turn-port-range', `${t.TURN_MIN_PORT}-${t.TURN_MAX_PORT}`,
      // No per-address connection cap: as root it would load an nftables
      // table into this machine's own network namespace (tests/systemd tests
      // it in a namespace of its own).
      '--conn-limit', '0'].map(String),
  };
}

/**
 * Run a command (argv) as USER_UID with a clean environment, in cwd.
 * wrap: argv prefix run as root before dropping (e.g. an unshare); env:
 * variables added to the clean environment. Resolves
 * to { code, stdout, stderr } (bounded by INSTALL_MS).
 */
export function runAs(argv, { cwd, home, asRoot = false, wrap = [], env: extra = {} } = {}) {
  const env = ['env', '-i', `HOME=${home}`, 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8',
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)];
  const drop = IS_ROOT && !asRoot ? ['setpriv', `--reuid=${USER_UID}`, `--regid=${USER_UID}`, '--clear-groups'] : [];
  const all = [...wrap, ...drop, ...env, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(all[0], all.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${argv.join(' ')}: no end within ${INSTALL_MS} ms\n${stdout}\n${stderr}`)); }, INSTALL_MS);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** ./install.sh ARGS in a scratch copy. */
export function install(s, args, opts = {}) {
  // TMPDIR: where a failed install leaves its log
  return runAs(['./install.sh', ...args], { cwd: s.src, home: s.home, ...opts, env: { TMPDIR: s.dir, ...opts.env } });
}

/** The pid in a pid file, or null. */
export function pidOf(file) {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

/** Processes whose command line mentions text (the prefix): [{pid, uid, cmd}]. */
export function processesWith(text) {
  const found = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!cmd.includes(text) || !alive(Number(n))) continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${n}/status`, 'utf8'))[1]);
      found.push({ pid: Number(n), uid, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** An HTTPS request: { status, headers, text, json }. tls: { ca, servername } or insecure. */
export function httpsRequest(port, method, urlPath, { ca, servername, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, method, path: urlPath, servername, ca,
      rejectUnauthorized: Boolean(ca), timeout: 5000,
      headers: { ...(servername ? { host: `${servername}:${port}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('https request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The service user's own paths under PREFIX (docs/install.md, "Who owns
 * what"): its directories and the log files the servers reopen as it.
 */
export const USER_DIRS = ['var/db', 'var/run', 'var/cache'];
export const USER_FILES = ['var/log/lighttpd-error.log', 'var/log/turnserver.log', 'var/log/turnserver-stderr.log',
  'var/log/haproxy.log'];

/** Every file and directory under prefix but the service user's (absolute). */
export function rootsPaths(prefix) {
  const out = [prefix];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      const rel = path.relative(prefix, abs);
      if (USER_DIRS.includes(rel) || USER_FILES.includes(rel)) continue;
      out.push(abs);
      if (e.isDirectory()) walk(abs);
    }
  };
  walk(prefix);
  return out;
}

export function removeScratch(s) {
  fs.rmSync(s.dir, { recursive: true, force: true });
}
