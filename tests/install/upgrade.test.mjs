// upgrade.test.mjs: an upgrade never takes a running server down. While an
// install (--prefix, no root) serves, re-runs that must fail (a port another
// program holds, a certificate that is not one, a source tree that does not
// build) fail before anything running is stopped: /api/health answers 200
// all along, install.conf and the configuration stay as they were. A start
// that fails all the same puts the previous version back and starts it. A
// plain re-run afterwards still works.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { request } from '../integration/harness.mjs';
import { freeLowPort } from '../turn/harness.mjs';
import { INSTALL_MS, IS_ROOT, USER_UID, install, ports, removeScratch, runAs, scratch } from './harness.mjs';

const DOMAIN = 'call.tuturu.test';

describe('a failing upgrade leaves the running server serving', { timeout: 8 * INSTALL_MS }, () => {
  let s;
  let p;
  let base;
  const conf = () => path.join(s.prefix, 'etc/install.conf');
  const generated = () => ['lighttpd.conf', 'tuturu.conf', 'turnserver.conf']
    .map((f) => fs.readFileSync(path.join(s.prefix, 'var', f), 'utf8')).join('\n');

  /**
   * run() while asking /api/health every 50 ms: resolves to [its result,
   * the answers that were not 200].
   */
  async function watched(run) {
    const bad = [];
    let done = false;
    const watch = (async () => {
      while (!done) {
        try {
          const h = await request(base, 'GET', '/api/health');
          if (h.status !== 200) bad.push(h.status);
        } catch (e) {
          bad.push(e.code || e.message);
        }
        await new Promise((resolve) => { setTimeout(resolve, 50); });
      }
    })();
    try {
      return [await run(), bad];
    } finally {
      done = true;
      await watch;
    }
  }

  /** A refused upgrade: non-zero, served throughout, nothing recorded or rewritten. */
  async function refused(run, message) {
    const options = fs.readFileSync(conf(), 'utf8');
    const config = generated();
    const [r, bad] = await watched(run);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, message);
    assert.deepEqual(bad, [], 'health answered 200 throughout');
    assert.equal((await request(base, 'GET', '/api/health')).status, 200);
    assert.equal(fs.readFileSync(conf(), 'utf8'), options, 'install.conf unchanged');
    assert.equal(generated(), config, 'the configuration unchanged');
    const failedLog = /log: (\S+)/.exec(r.stderr);
    if (failedLog) fs.rmSync(failedLog[1], { force: true });
  }

  before(async () => {
    s = scratch();
    p = await ports();
    base = `http://127.0.0.1:${p.web}`;
    const r = await install(s, ['--prefix', s.prefix, ...p.args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => {
    if (fs.existsSync(path.join(s.prefix, 'bin/tuturu'))) {
      await runAs([path.join(s.prefix, 'bin/tuturu'), 'stop'], { cwd: s.dir, home: s.home });
    }
    removeScratch(s);
  });

  it('--port P with P held by another program', async () => {
    const busy = await freeLowPort();
    const srv = http.createServer().listen(busy, '0.0.0.0');
    await new Promise((resolve) => { srv.once('listening', resolve); });
    try {
      const args = [...p.args];
      args[args.indexOf('--port') + 1] = String(busy);
      await refused(() => install(s, ['--prefix', s.prefix, ...args]), new RegExp(`tcp port ${busy} is in use by another program`));
    } finally {
      srv.close();
    }
  });

  it('--cert F with F not a certificate', { skip: !IS_ROOT && 'needs a private /etc/hosts for the domain (root)' }, async () => {
    const garbage = path.join(s.dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a certificate\n');
    fs.chownSync(garbage, USER_UID, USER_UID);
    const hosts = path.join(s.dir, 'hosts');
    fs.writeFileSync(hosts, `127.0.0.1 localhost ${DOMAIN}\n`);
    const wrap = ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts];
    try {
      await refused(() => install(s, ['--prefix', s.prefix, '--domain', DOMAIN, '--cert', garbage, '--key', garbage, ...p.args],
        { wrap }), /is not a PEM certificate/);
      await refused(() => install(s, ['--prefix', s.prefix, '--domain', DOMAIN, '--cert', path.join(s.dir, 'missing.pem'),
        '--key', garbage, ...p.args], { wrap }), /cannot read/);
    } finally {
      fs.rmSync(garbage);
    }
  });

  it('a source tree that does not build', async () => {
    const broken = path.join(s.dir, 'broken');
    execFileSync('cp', ['-a', s.src, broken]);
    fs.rmSync(path.join(broken, 'build'), { recursive: true, force: true });
    fs.appendFileSync(path.join(broken, 'cgi-bin/main.c'), '\nthis does not compile\n');
    try {
      await refused(() => runAs(['./install.sh', '--prefix', s.prefix], { cwd: broken, home: s.home, env: { TMPDIR: s.dir } }),
        /the build failed/);
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  });

  it('a start that fails all the same (a port bound but not listening, which the check cannot see) brings the previous version back', async () => {
    const busy = await freeLowPort();
    // bound, never listening: /proc/net/tcp shows no listener, lighttpd's bind fails
    const holder = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("0.0.0.0", int(sys.argv[1])))\n'
      + 'print("bound", flush=True)\ntime.sleep(600)', String(busy)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => { holder.stdout.once('data', resolve); });
    try {
      const options = fs.readFileSync(conf(), 'utf8');
      const config = generated();
      const args = [...p.args];
      args[args.indexOf('--port') + 1] = String(busy);
      const r = await install(s, ['--prefix', s.prefix, ...args]);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /tuturu did not start[\s\S]*The previous version and configuration are back, and running/);
      assert.equal((await request(base, 'GET', '/api/health')).status, 200, 'the previous version serves again');
      assert.equal(fs.readFileSync(conf(), 'utf8'), options, 'install.conf as before');
      assert.equal(generated(), config, 'the configuration as before');
      fs.rmSync(/log: (\S+)/.exec(r.stderr)[1], { force: true });
    } finally {
      holder.kill();
    }
  });

  it('a plain re-run afterwards still works', async () => {
    const r = await install(s, ['--prefix', s.prefix]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Starting tuturu +ok .*already running, unchanged/);
    assert.equal((await request(base, 'GET', '/api/health')).status, 200);
  });
});
