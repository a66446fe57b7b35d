// acme.test.mjs: install.sh --domain D --email E, the Let's Encrypt path,
// against pebble (Let's Encrypt's test CA, Debian's package) on loopback:
// certbot proves the domain through tuturu's own lighttpd (webroot), tuturu
// serves the certificate on https to pages (lighttpd) and to TURN over TLS
// (the one-port router, HAProxy), and a renewal (certbot renew, as its
// timer would) reaches both through the deploy hook: lighttpd and HAProxy
// restart, coturn reloads without cutting relayed calls.
// It all runs in a private mount namespace whose /etc/hosts points the domain
// here and whose /etc/letsencrypt is a scratch directory: this machine's own
// configuration is not touched.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { alive } from '../integration/harness.mjs';
import { freeLowPort } from '../turn/harness.mjs';
import { INSTALL_MS, IS_ROOT, install, ports, removeScratch, runAs, scratch } from './harness.mjs';

const DOMAIN = 'call.tuturu.test';

// Runs "$@" in the namespace; with --pebble CONFIG first, with pebble running.
const NAMESPACE_SH = `#!/bin/sh
set -u
d=$1; shift
# never on this machine's own /etc: only inside unshare -m
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "not in a private mount namespace" >&2; exit 1; }
mount --bind "$d/hosts" /etc/hosts && mount --bind "$d/letsencrypt" /etc/letsencrypt || exit 1
if [ "$1" = --pebble ]; then
    conf=$2
    shift 2
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$conf" > "$d/pebble.log" 2>&1 &
    pebble=$!
    i=0
    until curl -ks -o /dev/null "$(cat "$d/acme-url")"; do
        i=$((i + 1)); [ $i -lt 150 ] || { echo "pebble did not start" >&2; kill $pebble; exit 1; }
        sleep 0.1
    done
fi
"$@"
rc=$?
[ -z "\${pebble:-}" ] || kill $pebble
exit $rc
`;

/**
 * The serial number of the certificate a TLS port presents for DOMAIN, to a
 * client offering ALPN alpn (a page: lighttpd behind the router) or none
 * (TURN: the router's own TLS).
 */
function servedSerial(port, alpn) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername: DOMAIN, rejectUnauthorized: false, ALPNProtocols: alpn }, () => {
      const cert = sock.getPeerCertificate();
      sock.destroy();
      resolve({ serial: cert.serialNumber.toUpperCase(), issuer: cert.issuer.CN, subject: cert.subjectaltname });
    });
    sock.on('error', reject);
  });
}

describe('install.sh --domain --email (Let\'s Encrypt, here pebble)', { skip: !IS_ROOT && 'needs root', timeout: 4 * INSTALL_MS }, () => {
  let s;
  let p;
  let ns;
  let acme;
  before(async () => {
    s = scratch();
    p = await ports();
    fs.mkdirSync(path.join(s.dir, 'letsencrypt'));
    fs.writeFileSync(path.join(s.dir, 'hosts'), `127.0.0.1 localhost ${DOMAIN}\n`);
    const o = (...args) => execFileSync('openssl', args, { cwd: s.dir, stdio: 'pipe' });
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', 'pebble-key.pem', '-out', 'pebble-cert.pem');
    const api = await freeLowPort();
    acme = `https://127.0.0.1:${api}/dir`;
    fs.writeFileSync(path.join(s.dir, 'acme-url'), acme);
    const config = async (httpPort) => JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${api}`,
        managementListenAddress: `127.0.0.1:${await freeLowPort()}`,
        certificate: path.join(s.dir, 'pebble-cert.pem'),
        privateKey: path.join(s.dir, 'pebble-key.pem'),
        httpPort, // where http-01 validation connects
        tlsPort: await freeLowPort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    });
    fs.writeFileSync(path.join(s.dir, 'pebble.json'), await config(p.web)); // tuturu's plain http port
    fs.writeFileSync(path.join(s.dir, 'pebble-elsewhere.json'), await config(await freeLowPort())); // nobody's
    ns = path.join(s.dir, 'namespace.sh');
    fs.writeFileSync(ns, NAMESPACE_SH, { mode: 0o755 });
  });
  after(async () => {
    if (fs.existsSync(path.join(s.prefix, 'bin/tuturu'))) {
      await install(s, ['--uninstall', '--prefix', s.prefix], { asRoot: true, wrap: ['unshare', '-m', 'sh', ns, s.dir] });
    }
    removeScratch(s);
  });

  it('a certificate refused (the CA cannot reach port 80): the step names it, with the fix', async () => {
    const r = await install(s, ['--prefix', s.prefix, '--domain', DOMAIN, '--email', 'admin@tuturu.test', '--acme-server', acme, ...p.args], {
      asRoot: true, wrap: ['unshare', '-m', 'sh', ns, s.dir, '--pebble', path.join(s.dir, 'pebble-elsewhere.json')],
      env: { REQUESTS_CA_BUNDLE: path.join(s.dir, 'pebble-cert.pem') },
    });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout, /\[7\/8\] Getting a Let's Encrypt certificate/);
    assert.match(r.stderr, new RegExp(`Let's Encrypt refused a certificate for ${DOMAIN}\n  fix: check that ${DOMAIN} points here and port 80 is open`));
    fs.rmSync(/log: (\S+)/.exec(r.stderr)[1]);
    // pebble forgets its accounts when it stops; Let's Encrypt would not
    fs.rmSync(path.join(s.dir, 'letsencrypt/accounts'), { recursive: true, force: true });
  });

  it('gets a certificate through its own lighttpd, serves it, and renewals reach lighttpd, HAProxy and coturn', async () => {
    const serial = (f) => `openssl x509 -noout -serial -in ${s.prefix}/var/certs/fullchain.pem | cut -d= -f2 > ${s.dir}/${f}`;
    const script = [
      `./install.sh --prefix ${s.prefix} --domain ${DOMAIN} --email admin@tuturu.test --acme-server ${acme} ${p.args.join(' ')}`,
      serial('serial.first'),
      `cat ${s.prefix}/var/turnserver.pid > ${s.dir}/coturn.pid`,
      'certbot renew --force-renewal --no-random-sleep-on-renew',
      serial('serial.renewed'),
    ].join(' && ');
    const r = await runAs(['sh', '-c', script], {
      cwd: s.src, home: s.home, asRoot: true, wrap: ['unshare', '-m', 'sh', ns, s.dir, '--pebble', path.join(s.dir, 'pebble.json')],
      env: { REQUESTS_CA_BUNDLE: path.join(s.dir, 'pebble-cert.pem') },
    });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${fs.readFileSync(path.join(s.dir, 'pebble.log'), 'utf8').slice(-2000)}`);
    assert.match(r.stdout, /\[7\/8\] Getting a Let's Encrypt certificate +ok/);
    assert.match(r.stdout, new RegExp(`Open: +https://${DOMAIN}:${p.https}/`));

    const first = fs.readFileSync(path.join(s.dir, 'serial.first'), 'utf8').trim();
    const renewed = fs.readFileSync(path.join(s.dir, 'serial.renewed'), 'utf8').trim();
    assert.notEqual(renewed, first, 'certbot renew made a new certificate');
    const web = await servedSerial(p.https, ['http/1.1']);
    assert.match(web.issuer, /Pebble/);
    assert.match(web.subject, new RegExp(`DNS:${DOMAIN}`));
    assert.equal(web.serial, renewed, 'lighttpd serves the renewed certificate');
    const turn = await servedSerial(p.https);
    assert.equal(turn.serial, renewed, 'the router serves the renewed certificate to TURN over TLS');
    // coturn's own certificate (its TLS port is off behind the router) is
    // reloaded on SIGUSR2 all the same, keeping its relayed calls
    const coturn = Number(fs.readFileSync(path.join(s.dir, 'coturn.pid'), 'utf8'));
    assert.ok(alive(coturn), 'the same coturn process: reloaded, not restarted');
    // the hook root runs, and the renewed certificate coturn re-reads as tuturu
    const hook = path.join(s.dir, 'letsencrypt/renewal-hooks/deploy/tuturu');
    const certs = ['fullchain.pem', 'privkey.pem'].map((f) => path.join(s.prefix, 'var/certs', f));
    const w = spawnSync('runuser', ['-u', 'tuturu', '--', 'sh', '-c',
      'for f; do (echo x >> "$f") 2>/dev/null && echo "$f"; done; exit 0', 'sh', hook, ...certs], { encoding: 'utf8' });
    assert.equal(w.stdout, '', 'the tuturu user can write none of them');
    for (const f of certs) assert.equal(fs.statSync(f).mode & 0o777, 0o640, f);
  });

  it('uninstall removes its renewal hook and leaves the certificate, saying how to delete it', async () => {
    const u = await install(s, ['--uninstall', '--prefix', s.prefix], { asRoot: true, wrap: ['unshare', '-m', 'sh', ns, s.dir] });
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.match(u.stdout, new RegExp(`certbot delete --cert-name ${DOMAIN}`));
    assert.equal(fs.existsSync(path.join(s.dir, 'letsencrypt/renewal-hooks/deploy/tuturu')), false);
    assert.ok(fs.existsSync(path.join(s.dir, `letsencrypt/live/${DOMAIN}/fullchain.pem`)));
    assert.equal(fs.existsSync(s.prefix), false);
  });
});
