// privilege.test.mjs: the install's privilege boundary (docs/install.md, "Who
// owns what"), as root. The servers run as the tuturu user; nothing that root
// later reads, runs or writes into may be writable by that user: every path
// under the prefix but the user's own (database, sockets, deflate cache, its
// log files) is tried with `runuser -u tuturu -- sh -c 'echo x >> FILE'`.
// A secret holding shell and sed syntax is refused, never run; a symbolic
// link planted at the name the installer used for its temporary files is
// not followed.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { request } from '../integration/harness.mjs';
import {
  INSTALL_MS, IS_ROOT, USER_DIRS, USER_FILES, install, ports, removeScratch, rootsPaths, scratch,
} from './harness.mjs';

/**
 * The paths that user can write: a file it can append to, a directory it can
 * create a file in (tried with runuser, as the brief of issue 10 says).
 */
function writableBy(user, paths) {
  const script = 'for f; do if [ -d "$f" ]; then (echo x > "$f/.probe") 2>/dev/null && { echo "$f/"; rm -f "$f/.probe"; }; '
    + 'else (echo x >> "$f") 2>/dev/null && echo "$f"; fi; done; exit 0';
  const r = spawnSync('runuser', ['-u', user, '--', 'sh', '-c', script, 'sh', ...paths], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('the privilege boundary of a root install', { skip: !IS_ROOT && 'needs root', timeout: 6 * INSTALL_MS }, () => {
  let s;
  let p;
  let state;
  before(async () => {
    s = scratch();
    p = await ports();
    state = path.join(s.prefix, 'var');
    // (--one-port: HAProxy's configuration, certificate, sockets and pid file too)
    const r = await install(s, ['--prefix', s.prefix, '--one-port', ...p.args], { asRoot: true });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => {
    if (fs.existsSync(path.join(s.prefix, 'bin/tuturu'))) await install(s, ['--uninstall', '--prefix', s.prefix], { asRoot: true });
    removeScratch(s);
  });

  it('tuturu can write none of the files and directories root reads, runs or writes into', () => {
    const paths = rootsPaths(s.prefix);
    for (const unit of ['tuturu.service', 'tuturu-turn.service', 'tuturu-router.service']) {
      const u = path.join('/etc/systemd/system', unit);
      if (fs.existsSync(u) && fs.readFileSync(u, 'utf8').includes(s.prefix)) paths.push(u);
    }
    assert.deepEqual(writableBy('tuturu', paths), []);
    for (const f of ['bin/tuturu', 'bin/tuturu-api', 'etc/install.conf', 'share/tuturu/scripts/configure',
      'share/tuturu/lighttpd.conf', 'var', 'var/lighttpd.conf', 'var/turnserver.conf', 'var/tuturu.conf', 'var/secret',
      'var/errors/status.400.html', 'var/https-key.pem', 'var/turn-key.pem', 'var/certs', 'var/log', 'var/lighttpd.pid',
      'var/turndb', 'var/log/install.log', 'var/haproxy.cfg', 'var/router.pem', 'var/router', 'var/haproxy.pid']) {
      assert.ok(paths.includes(path.join(s.prefix, f)), `${f} is among the ${paths.length} paths tried`);
    }
  });

  it('tuturu owns only its directories and log files; the servers run and the database is its', async () => {
    const uid = Number(execFileSync('id', ['-u', 'tuturu']).toString());
    for (const d of [...USER_DIRS, ...USER_FILES]) assert.equal(fs.statSync(path.join(s.prefix, d)).uid, uid, d);
    assert.equal(fs.statSync(path.join(state, 'db/tuturu.db')).uid, uid, 'tuturu-api --check made it as tuturu');
    for (const f of ['secret', 'turnserver.conf', 'https-key.pem', 'haproxy.cfg', 'router.pem']) {
      const st = fs.statSync(path.join(state, f));
      assert.equal(st.uid, 0, f);
      assert.equal(st.gid, Number(execFileSync('id', ['-g', 'tuturu']).toString()), f);
      assert.equal(st.mode & 0o777, 0o640, `${f}: root's, readable by the group tuturu only`);
    }
    assert.equal((await request(`http://127.0.0.1:${p.web}`, 'GET', '/api/health')).status, 200);
  });

  it('a secret with shell, sed and quoting syntax is refused with a clear message; nothing in it runs', async () => {
    const secretFile = path.join(state, 'secret');
    const good = fs.readFileSync(secretFile);
    const turnConf = fs.readFileSync(path.join(state, 'turnserver.conf'));
    const mark = path.join(s.dir, 'planted');
    const bad = [
      `aaaaaaaaaaaaaaaa|;1e touch ${mark} #\n`,
      `aaaaaaaaaaaaaaaa&\\1|;1e touch ${mark} #\n`,
      `aaaaaaaaaaaaaaaa\nallow-loopback-peers\n`,
      `aaaaaaaaaaaaaaaa"'$(touch ${mark})\`touch ${mark}\`\n`,
    ];
    try {
      for (const secret of bad) {
        fs.writeFileSync(secretFile, secret);
        const r = await install(s, ['--prefix', s.prefix], { asRoot: true });
        assert.equal(fs.existsSync(mark), false, `${JSON.stringify(secret)} ran a command`);
        assert.notEqual(r.code, 0, `${JSON.stringify(secret)}: ${r.stdout}`);
        assert.match(r.stderr, /secret must be one line of 16 to 256 letters, digits or \._\+\/=-/, JSON.stringify(secret));
        assert.deepEqual(fs.readFileSync(path.join(state, 'turnserver.conf')), turnConf, 'turnserver.conf unchanged');
        const failedLog = /log: (\S+)/.exec(r.stderr);
        if (failedLog) fs.rmSync(failedLog[1], { force: true });
      }
    } finally {
      fs.writeFileSync(secretFile, good);
    }
    const again = await install(s, ['--prefix', s.prefix], { asRoot: true });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal((await request(`http://127.0.0.1:${p.web}`, 'GET', '/api/health')).status, 200);
  });

  it('a symbolic link at the old temporary names (FILE.tmp) is not followed', async () => {
    const victim = path.join(s.dir, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    const planted = ['var/lighttpd.conf.tmp', 'var/tuturu.conf.tmp', 'var/turnserver.conf.tmp', 'var/secret.tmp',
      'etc/install.conf.tmp', 'bin/tuturu.tmp', 'var/errors/status.400.html.tmp'].map((f) => path.join(s.prefix, f));
    for (const f of planted) fs.symlinkSync(victim, f);
    // a changed setting: every generated file is written again
    const settings = path.join(s.prefix, 'etc/settings');
    const keep = fs.readFileSync(settings, 'utf8');
    fs.writeFileSync(settings, `${keep}TUTURU_POLL_TIMEOUT=9\n`);
    try {
      const r = await install(s, ['--prefix', s.prefix], { asRoot: true });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
      assert.equal((await request(`http://127.0.0.1:${p.web}`, 'GET', '/api/health')).json.poll_timeout, 9);
    } finally {
      fs.writeFileSync(settings, keep);
      for (const f of planted) fs.rmSync(f, { force: true });
    }
  });
});
