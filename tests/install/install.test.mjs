// install.test.mjs: install.sh as a shared-hosting user would run it
// (--prefix, no root): every step timed, the servers up and answering, a
// re-run that keeps the secret and the database and touches nothing, the
// control script, an uninstall that leaves nothing, and garbage options that
// change nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { alive, freshPin, request, sql, waitFor } from '../integration/harness.mjs';
import {
  INSTALL_MS, IS_ROOT, USER_UID, httpsRequest, install, pidOf, ports, processesWith, removeScratch, rootsPaths, runAs,
  scratch,
} from './harness.mjs';

const STEP = /^\[(\d)\/(\d)\] (.+?) +ok \((\d+\.\d) s\)/;
const mtimes = (dir) => Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith('.conf') || f === 'secret')
  .map((f) => [f, fs.statSync(path.join(dir, f)).mtimeMs]));
const listens = (port) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => { res.resume(); resolve(true); });
  req.on('error', () => resolve(false));
  req.on('timeout', () => { req.destroy(); resolve(false); });
});

describe('install.sh --prefix, without root', { timeout: 4 * INSTALL_MS }, () => {
  let s;
  let p;
  let base;
  let state;
  let first;
  before(async () => {
    s = scratch();
    p = await ports();
    base = `http://127.0.0.1:${p.web}`;
    state = path.join(s.prefix, 'var');
  });
  after(async () => {
    if (fs.existsSync(path.join(s.prefix, 'bin/tuturu'))) {
      await runAs([path.join(s.prefix, 'bin/tuturu'), 'stop'], { cwd: s.dir, home: s.home });
    }
    removeScratch(s);
  });

  it('installs, starts and answers, showing each step and its time', async () => {
    // (umask 002, as some users have: nothing may become group-writable)
    first = await runAs(['sh', '-c', 'umask 002 && exec ./install.sh "$@"', 'sh', '--prefix', s.prefix, ...p.args],
      { cwd: s.src, home: s.home, env: { TMPDIR: s.dir } });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const steps = first.stdout.split('\n').map((l) => STEP.exec(l)).filter(Boolean);
    assert.deepEqual(steps.map((m) => m[3]), ['Checking the machine', 'Checking the packages', 'Building tuturu-api',
      'Installing files', 'Writing the configuration', 'Starting tuturu'], first.stdout);
    assert.ok(steps.every((m) => m[2] === '6'), first.stdout);
    assert.match(first.stdout, /tuturu is running \(installed in \d+ min \d+ s\)/);
    assert.match(first.stdout, new RegExp(`http://localhost:${p.web}/`));
    assert.match(first.stdout, new RegExp(`${s.prefix}/bin/tuturu stop`));
    assert.match(first.stdout, new RegExp(`${s.prefix}/bin/tuturu uninstall`));

    const health = await request(base, 'GET', '/api/health');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    const join = await request(base, 'POST', '/api/join', { body: { pin: freshPin() } });
    assert.equal(join.status, 200, join.text);
    assert.match(join.json.token, /^[0-9a-f]{64}$/);
    const turns = join.json.ice_servers.flatMap((e) => e.urls);
    assert.ok(turns.some((u) => u.endsWith(`:${p.tls}?transport=tcp`) && u.startsWith('turns:')), turns.join(' '));
    // the self-signed https port for phones on the LAN
    const page = await httpsRequest(p.https, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
  });

  it('runs lighttpd, tuturu-api and coturn as the installing user, from the prefix', () => {
    const procs = processesWith(s.prefix);
    const names = procs.map((x) => x.cmd.split(' ')[0].split('/').pop()).sort();
    assert.deepEqual(names, ['lighttpd', 'turnserver', 'tuturu-api'], JSON.stringify(procs));
    assert.ok(procs.every((x) => x.uid === USER_UID), JSON.stringify(procs));
  });

  it('leaves nothing writable by group or others (lighttpd and coturn as another user could change nothing)', () => {
    // installed with umask 002 (below): the install sets its own modes
    const writable = rootsPaths(s.prefix).filter((f) => fs.lstatSync(f).mode & 0o022)
      .map((f) => `${path.relative(s.prefix, f)} ${(fs.lstatSync(f).mode & 0o777).toString(8)}`);
    assert.deepEqual(writable, []);
    for (const d of ['var/db', 'var/run', 'var/cache']) {
      assert.equal(fs.statSync(path.join(s.prefix, d)).mode & 0o077, 0, `${d}: the user's alone`);
    }
  });

  it('keeps the secret to itself: mode 600, not in the options file or the install log', () => {
    const secret = fs.readFileSync(path.join(state, 'secret'), 'utf8').trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal(fs.statSync(path.join(state, 'secret')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(state, 'turnserver.conf')).mode & 0o777, 0o600);
    for (const f of ['etc/install.conf', 'var/log/install.log']) {
      assert.ok(!fs.readFileSync(path.join(s.prefix, f), 'utf8').includes(secret), f);
    }
    assert.ok(!first.stdout.includes(secret) && !first.stderr.includes(secret));
  });

  it('writes nothing outside the prefix (HOME stays empty)', () => {
    assert.deepEqual(fs.readdirSync(s.home), []);
    assert.deepEqual(fs.readdirSync(s.dir).sort(), ['home', 'prefix', 'src']);
  });

  it('a re-run with only --prefix keeps the options, secret, database and running servers', async () => {
    const secret = fs.readFileSync(path.join(state, 'secret'));
    const db = path.join(state, 'db/tuturu.db');
    const join = await request(base, 'POST', '/api/join', { body: { pin: freshPin() } });
    assert.equal(join.status, 200);
    const rows = () => sql(db, 'SELECT (SELECT count(*) FROM rooms), (SELECT count(*) FROM peers)');
    const kept = rows();
    const pids = [pidOf(path.join(state, 'lighttpd.pid')), pidOf(path.join(state, 'turnserver.pid'))];
    const times = mtimes(state);

    const again = await install(s, ['--prefix', s.prefix]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /options of the last install/);
    assert.match(again.stdout, /\(database kept\)/);
    assert.match(again.stdout, /Starting tuturu +ok .*already running, unchanged/);
    assert.deepEqual(fs.readFileSync(path.join(state, 'secret')), secret);
    assert.deepEqual(rows(), kept, 'rooms and peers are kept');
    assert.deepEqual([pidOf(path.join(state, 'lighttpd.pid')), pidOf(path.join(state, 'turnserver.pid'))], pids);
    assert.deepEqual(mtimes(state), times, 'no configuration file rewritten');
    const turn = await request(base, 'GET', '/api/turn', { token: join.json.token });
    assert.equal(turn.status, 200, 'the peer that joined before the re-run is still known');
  });

  it('an earlier install\'s database (var/tuturu.db) moves to var/db/ with what it holds', async () => {
    const ctl = (cmd) => runAs([path.join(s.prefix, 'bin/tuturu'), cmd], { cwd: s.dir, home: s.home });
    assert.equal((await ctl('stop')).code, 0);
    const db = path.join(state, 'db/tuturu.db');
    // (a table of the test's own: rooms and peers expire while a slow machine installs)
    sql(db, 'CREATE TABLE test_marker(x); INSERT INTO test_marker VALUES (42)');
    // the layout before: the database beside the configuration
    for (const f of fs.readdirSync(path.join(state, 'db'))) fs.renameSync(path.join(state, 'db', f), path.join(state, f));
    fs.rmdirSync(path.join(state, 'db'));
    const conf = path.join(state, 'tuturu.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(`db = ${db}`, `db = ${path.join(state, 'tuturu.db')}`));
    assert.equal((await ctl('start')).code, 0);
    const join = await request(base, 'POST', '/api/join', { body: { pin: freshPin() } });
    assert.equal(join.status, 200, 'served from var/tuturu.db');

    const again = await install(s, ['--prefix', s.prefix]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /\(database kept\)/);
    assert.deepEqual(sql(db, 'SELECT x FROM test_marker'), [{ x: 42 }]);
    assert.equal(fs.existsSync(path.join(state, 'tuturu.db')), false);
    assert.equal((await request(base, 'GET', '/api/health')).status, 200);
  });

  it('takes program settings from etc/settings, refusing a line that is not one', async () => {
    const settings = path.join(s.prefix, 'etc/settings');
    assert.match(fs.readFileSync(settings, 'utf8'), /^#TUTURU_POLL_TIMEOUT=/m, 'an example is written');
    const keep = fs.readFileSync(settings, 'utf8');
    fs.appendFileSync(settings, 'rm -rf /\n');
    const bad = await install(s, ['--prefix', s.prefix]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /etc\/settings: 'rm -rf \/' is not TUTURU_NAME=value/);
    const failedLog = /log: (\S+)/.exec(bad.stderr)[1];
    assert.ok(fs.existsSync(failedLog), 'a failed run keeps its log, and says where');
    fs.rmSync(failedLog);
    assert.equal((await request(base, 'GET', '/api/health')).json.poll_timeout, 25, 'still serving as before');

    fs.writeFileSync(settings, `${keep}TUTURU_POLL_TIMEOUT=7\n`);
    const good = await install(s, ['--prefix', s.prefix]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /Starting tuturu +ok .*restarted/);
    assert.equal((await request(base, 'GET', '/api/health')).json.poll_timeout, 7);
  });

  it('the control script stops, reports and starts the servers', async () => {
    const ctl = (cmd) => runAs([path.join(s.prefix, 'bin/tuturu'), cmd], { cwd: s.dir, home: s.home });
    const stop = await ctl('stop');
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(processesWith(s.prefix), []);
    assert.equal(await listens(p.web), false);
    const down = await ctl('status');
    assert.equal(down.code, 1);
    assert.match(down.stdout, /lighttpd: stopped/);
    const start = await ctl('start');
    assert.equal(start.code, 0, start.stderr);
    const up = await ctl('status');
    assert.equal(up.code, 0, up.stdout);
    assert.match(up.stdout, /lighttpd: running[\s\S]*coturn: running[\s\S]*health: \{"status":"ok"/);
    const logs = await ctl('logs');
    assert.equal(logs.code, 0);
    const bad = await ctl('frobnicate');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /usage:/);
  });

  it('a re-run brings back a server that was killed', async () => {
    const pid = pidOf(path.join(state, 'lighttpd.pid'));
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 5000, 'lighttpd to die');
    const again = await install(s, ['--prefix', s.prefix]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Starting tuturu +ok .*restarted/);
    assert.equal((await request(base, 'GET', '/api/health')).status, 200);
  });

  it('--force-relay, --external-ip and --turn-allowed-peers reach the join answer and coturn', async () => {
    const r = await install(s, ['--prefix', s.prefix, ...p.args, '--force-relay', '--external-ip', '198.51.100.7',
      '--turn-allowed-peers', '192.168.1.0/24, 10.0.0.5']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Starting tuturu +ok .*restarted/);
    const join = await request(base, 'POST', '/api/join', { body: { pin: freshPin() } });
    assert.equal(join.status, 200, join.text);
    assert.equal(join.json.ice_transport_policy, 'relay');
    const urls = join.json.ice_servers.flatMap((e) => e.urls);
    assert.ok(urls.includes(`turn:198.51.100.7:${p.turn}?transport=udp`), urls.join(' '));
    const conf = fs.readFileSync(path.join(state, 'turnserver.conf'), 'utf8');
    assert.match(conf, /^external-ip=198\.51\.100\.7$/m);
    const allowed = conf.split('\n').filter((l) => l.startsWith('allowed-peer-ip='));
    assert.deepEqual(allowed.slice(-3), ['allowed-peer-ip=198.51.100.7', 'allowed-peer-ip=192.168.1.0-192.168.1.255',
      'allowed-peer-ip=10.0.0.5']);
    assert.match(fs.readFileSync(path.join(s.prefix, 'etc/install.conf'), 'utf8'),
      /^opt_turn_allowed_peers='192\.168\.1\.0\/24, 10\.0\.0\.5'$/m, 'recorded for the next run');
    const [min, max] = p.args[p.args.indexOf('--turn-port-range') + 1].split('-');
    assert.match(conf, new RegExp(`^min-port=${min}$[\\s\\S]*^max-port=${max}$`, 'm'));
  });

  it('uninstall stops everything and leaves nothing behind', async () => {
    const pids = processesWith(s.prefix).map((x) => x.pid);
    assert.ok(pids.length >= 3);
    const out = await runAs([path.join(s.prefix, 'bin/tuturu'), 'uninstall'], { cwd: s.dir, home: s.home });
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /uninstalled/);
    assert.equal(fs.existsSync(s.prefix), false);
    for (const pid of pids) await waitFor(() => !alive(pid), 10000, `pid ${pid} to exit`);
    assert.equal(await listens(p.web), false);
    assert.deepEqual(fs.readdirSync(s.dir).sort(), ['home', 'src']);
    assert.deepEqual(fs.readdirSync(s.home), []);
  });
});

describe('install.sh refuses what it cannot do, and changes nothing', { timeout: 2 * INSTALL_MS }, () => {
  let s;
  before(() => { s = scratch(); });
  after(() => removeScratch(s));

  const garbage = [
    [['--bogus'], /unknown option '--bogus'/],
    [['--port', 'abc'], /must be a number, got 'abc'/],
    [['--port', '70000'], /ports are 1-65535/],
    [['--port'], /--port needs a value/],
    [['--domain', 'a;rm -rf /', '--email', 'x@example.org'], /--domain must be a DNS name/],
    [['--domain', 'call.example.org'], /needs --email E .* or --cert F --key F/],
    [['--domain', 'call.example.org', '--email', 'not-an-address'], /--email must be an e-mail address/],
    [['--email', 'x@example.org'], /it needs --domain/],
    [['--cert', '/etc/hostname'], /--cert and --key go together/],
    [['--turn-port-range', '60000-50000'], /--turn-port-range must be A-B/],
    [['--turn-port-range', 'lots'], /must be a number/],
    [['--external-ip', '1.2.3'], /--external-ip must be an IPv4 address/],
    [['--turn-allowed-peers', 'my-lan'], /--turn-allowed-peers: 'my-lan' is not an IPv4 address, A-B range or CIDR block/],
    [['--turn-allowed-peers', '10.0.0.1 10.0.0.0/33'], /--turn-allowed-peers: '10\.0\.0\.0\/33' is not/],
    [['--port', '9000', '--https-port', '9000'], /port 9000 is given twice/],
    [['--port', '3478'], /port 3478 is given twice: .* must all differ/],
    [['--conn-limit', 'lots'], /--conn-limit must be a number, got 'lots'/],
    [['--conn-limit', '-5'], /--conn-limit must be a number, got '-5'/],
    [['--conn-limit', '300;reboot'], /--conn-limit must be a number/],
    [['--conn-limit', '7'], /--conn-limit must be 0 \(no cap\) or 8-1000000, got '7'/],
    [['--conn-limit', '0300'], /--conn-limit must be 0 \(no cap\) or 8-1000000, got '0300'/],
    [['--conn-limit', '1000001'], /--conn-limit must be 0 \(no cap\) or 8-1000000/],
    [['--conn-limit', '99999999999999999999'], /--conn-limit must be 0 \(no cap\) or 8-1000000/],
    [['--conn-limit'], /--conn-limit needs a value/],
    [['--one-port', '--no-turn'], /--one-port shares the https port with TURN over TLS: it cannot go with --no-turn/],
    [['--one-port', '--no-one-port'], /--one-port and --no-one-port contradict each other/],
    [['--turn-proxy-port', 'x'], /must be a number, got 'x'/],
    [['--one-port', '--port', '3479'], /port 3479 is given twice: .*--turn-proxy-port/],
    [['--prefix', '/usr'], /choose a dedicated directory/],
    [['--prefix', '/tmp/a b'], /choose a dedicated directory/],
  ];
  for (const [args, message] of garbage) {
    it(`${JSON.stringify(args)}: a clear error`, async () => {
      const prefixed = args.includes('--prefix') ? args : ['--prefix', s.prefix, ...args];
      const r = await install(s, prefixed);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, message);
      assert.equal(fs.existsSync(s.prefix), false);
    });
  }

  it('--port below 1024 without root', { skip: IS_ROOT && USER_UID === 0 }, async () => {
    const r = await install(s, ['--prefix', s.prefix, '--port', '80']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /port 80 needs root/);
    assert.equal(fs.existsSync(s.prefix), false);
  });

  it('--conn-limit N without root: the cap is an nftables table, which needs root', { skip: IS_ROOT && USER_UID === 0 }, async () => {
    const r = await install(s, ['--prefix', s.prefix, '--conn-limit', '300']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--conn-limit needs root/);
    assert.equal(fs.existsSync(s.prefix), false);
  });

  it('a port in use: the check step names it, and nothing is created', async () => {
    const p = await ports();
    const srv = http.createServer().listen(p.web, '127.0.0.1');
    await new Promise((resolve) => srv.once('listening', resolve));
    try {
      const r = await install(s, ['--prefix', s.prefix, ...p.args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout, /\[1\/6\] Checking the machine/);
      assert.match(r.stderr, new RegExp(`tcp port ${p.web} is in use[\\s\\S]*fix: `));
      assert.equal(fs.existsSync(s.prefix), false);
    } finally {
      srv.close();
    }
  });

  it('no write access to the prefix: named, with the fix', { skip: !IS_ROOT && 'needs a directory this user cannot write' }, async () => {
    const locked = path.join(s.dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o755 }); // root's
    const r = await install(s, ['--prefix', path.join(locked, 'tuturu'), ...(await ports()).args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no write access to .*locked\/tuturu\n  fix: /);
    assert.deepEqual(fs.readdirSync(locked), []);
  });

  it('a program missing (here: coturn\'s turnserver) is named, with the packages to ask for', async () => {
    // a PATH with every program of /usr/bin but turnserver
    const bin = path.join(s.dir, 'bin');
    fs.mkdirSync(bin);
    for (const name of fs.readdirSync('/usr/bin')) {
      if (name !== 'turnserver') fs.symlinkSync(path.join('/usr/bin', name), path.join(bin, name));
    }
    const r = await install(s, ['--prefix', s.prefix, ...(await ports()).args], { env: { PATH: bin } });
    fs.rmSync(bin, { recursive: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /\[2\/6\] Checking the packages/);
    assert.match(r.stderr, /missing: turnserver\n  fix: .*apt-get install \S/);
    assert.equal(fs.existsSync(path.join(s.prefix, 'bin')), false, 'nothing installed');
    const u = await install(s, ['--uninstall', '--prefix', s.prefix]);
    assert.equal(u.code, 0, 'a half-done install can be uninstalled');
    assert.equal(fs.existsSync(s.prefix), false);
  });

  it('--domain without a DNS record: named, with the fix', async () => {
    const r = await install(s, ['--prefix', s.prefix, '--domain', 'no-such-host.invalid', '--cert', '/etc/hostname',
      '--key', '/etc/hostname', ...(await ports()).args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-such-host\.invalid has no DNS A record[\s\S]*fix: create an A record/);
    assert.equal(fs.existsSync(s.prefix), false);
  });

  it('a directory with other files is not taken as a prefix', async () => {
    const other = path.join(s.dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'precious.txt'), 'mine');
    if (IS_ROOT) execFileSync('chown', ['-R', `${USER_UID}:${USER_UID}`, other]);
    const r = await install(s, ['--prefix', other, ...(await ports()).args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /holds files that are not a tuturu install/);
    assert.deepEqual(fs.readdirSync(other), ['precious.txt']);
    const u = await install(s, ['--uninstall', '--prefix', other]);
    assert.notEqual(u.code, 0);
    assert.match(u.stderr, /no tuturu install in/);
    assert.deepEqual(fs.readdirSync(other), ['precious.txt']);
  });
});
