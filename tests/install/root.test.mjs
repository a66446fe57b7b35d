// root.test.mjs: install.sh as root: a system user the servers drop to,
// and the --domain mode with a certificate of the operator's (--cert/--key):
// https with it, http redirecting to https, TURN over TLS by that name on the
// https port (the one-port router). The
// domain resolves to this machine through an /etc/hosts of a private mount
// namespace (unshare), so nothing of this machine's configuration changes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { alive, freshPin, waitFor } from '../integration/harness.mjs';
import { turnEntry } from '../turn/harness.mjs';
import { connect } from '../turn/stun.mjs';
import { INSTALL_MS, IS_ROOT, httpsRequest, install, ports, processesWith, removeScratch, scratch } from './harness.mjs';

const DOMAIN = 'call.tuturu.test';
const userExists = () => {
  try {
    execFileSync('getent', ['passwd', 'tuturu']);
    return true;
  } catch {
    return false;
  }
};
const uidOf = (name) => Number(execFileSync('id', ['-u', name]).toString().trim());

/** A CA and a certificate for DOMAIN signed by it (full chain), in dir. */
function makeCertificate(dir) {
  const o = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=tuturu test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${DOMAIN}`,
    '-keyout', 'key.pem', '-out', 'leaf.csr');
  fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=DNS:${DOMAIN}\n`);
  o('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2',
    '-extfile', 'san.ext', '-out', 'leaf.pem');
  fs.writeFileSync(path.join(dir, 'fullchain.pem'),
    fs.readFileSync(path.join(dir, 'leaf.pem'), 'utf8') + fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'));
  return { cert: path.join(dir, 'fullchain.pem'), key: path.join(dir, 'key.pem'), ca: fs.readFileSync(path.join(dir, 'ca.pem')) };
}

function plainGet(port, urlPath, host) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host }, timeout: 5000 }, (res) => {
      res.resume();
      resolve({ status: res.statusCode, location: res.headers.location });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

describe('install.sh as root', { skip: !IS_ROOT && 'needs root', timeout: 4 * INSTALL_MS }, () => {
  let s;
  let hadUser;
  before(() => {
    s = scratch();
    hadUser = userExists();
  });
  after(async () => {
    if (fs.existsSync(path.join(s.prefix, 'bin/tuturu'))) await install(s, ['--uninstall', '--prefix', s.prefix], { asRoot: true });
    removeScratch(s);
  });

  it('runs the servers as the tuturu user it makes, and uninstall removes that user again', async () => {
    const p = await ports();
    const r = await install(s, ['--prefix', s.prefix, ...p.args], { asRoot: true });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[2\/7\] Installing packages +ok/);
    assert.match(r.stdout, /\[5\/7\] Creating the tuturu user +ok/);
    const uid = uidOf('tuturu');
    const procs = processesWith(s.prefix);
    assert.equal(procs.length, 3, JSON.stringify(procs));
    assert.ok(procs.every((x) => x.uid === uid), `all run as tuturu (${uid}): ${JSON.stringify(procs)}`);
    // root's, readable by the group tuturu-api runs in (privilege.test.mjs)
    const secret = fs.statSync(path.join(s.prefix, 'var/secret'));
    assert.equal(secret.uid, 0);
    assert.equal(secret.gid, Number(execFileSync('id', ['-g', 'tuturu']).toString().trim()));
    assert.equal(secret.mode & 0o777, 0o640);

    const u = await install(s, ['--uninstall', '--prefix', s.prefix], { asRoot: true });
    assert.equal(u.code, 0, u.stdout + u.stderr);
    for (const x of procs) await waitFor(() => !alive(x.pid), 10000, `${x.cmd} to exit`);
    assert.equal(fs.existsSync(s.prefix), false);
    assert.equal(userExists(), hadUser, hadUser ? 'a tuturu user that was there stays' : 'the user it made is gone');
  });

  it('--domain with --cert/--key: https with that certificate, http redirecting, TURN over TLS by name on the https port', async () => {
    const c = makeCertificate(s.dir);
    const hosts = path.join(s.dir, 'hosts');
    fs.writeFileSync(hosts, `127.0.0.1 localhost ${DOMAIN}\n`);
    const p = await ports();
    const wrap = ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts];
    const r = await install(s, ['--prefix', s.prefix, '--domain', DOMAIN, '--cert', c.cert, '--key', c.key, ...p.args],
      { asRoot: true, wrap });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`Open: +https://${DOMAIN}:${p.https}/`));

    const tlsOpts = { ca: c.ca, servername: DOMAIN };
    const health = await httpsRequest(p.https, 'GET', '/api/health', tlsOpts);
    assert.equal(health.status, 200, 'the certificate verifies against its CA');
    const redirect = await plainGet(p.web, '/some/page?x=1', DOMAIN);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.location, `https://${DOMAIN}:${p.https}/some/page?x=1`);
    const join = await httpsRequest(p.https, 'POST', '/api/join', { ...tlsOpts, body: JSON.stringify({ pin: freshPin() }) });
    assert.equal(join.status, 200, join.text);
    const urls = join.json.ice_servers.flatMap((e) => e.urls);
    assert.ok(urls.includes(`turns:${DOMAIN}:${p.https}?transport=tcp`), urls.join(' '));
    // The router presents the same certificate to TURN (no ALPN) on the
    // https port, and relays an Allocate to coturn; coturn's own TLS port is off.
    const client = await connect({ port: p.https, transport: 'tls', tlsOptions: tlsOpts, timeoutMs: 10000 });
    try {
      const t = turnEntry(join.json.ice_servers);
      const a = await client.allocate({ username: t.username, password: t.credential });
      assert.ok(a.ok, `Allocate over TLS on ${p.https}: ${a.code} ${a.reason}`);
    } finally {
      client.close();
    }
    await assert.rejects(new Promise((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port: p.tls, ...tlsOpts }, () => { sock.destroy(); resolve(); });
      sock.on('error', reject);
    }), /ECONNREFUSED/);
    // HAProxy runs as tuturu; its configuration and certificate are root's, for tuturu's group
    const router = processesWith(s.prefix).filter((x) => x.cmd.startsWith('haproxy'));
    assert.equal(router.length, 1, JSON.stringify(router));
    assert.equal(router[0].uid, uidOf('tuturu'));
    for (const f of ['haproxy.cfg', 'router.pem']) {
      const st = fs.statSync(path.join(s.prefix, 'var', f));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777],
        [0, Number(execFileSync('id', ['-g', 'tuturu']).toString().trim()), 0o640], f);
    }
    // and the key given is root's, readable only by the servers' group
    const key = fs.statSync(path.join(s.prefix, 'var/certs/privkey.pem'));
    assert.equal(key.mode & 0o777, 0o640);
    assert.equal(key.uid, 0);
    assert.equal(key.gid, Number(execFileSync('id', ['-g', 'tuturu']).toString().trim()));
  });
});
