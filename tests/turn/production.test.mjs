// production.test.mjs: the production turnserver.conf keeps the relay out of
// the server's own networks, and never allows loopback peers.
//
// coturn runs from the template as serve.sh fills it in, on loopback ports,
// with TURN_LOOPBACK_PEERS=0: without the local-run addition. Every refused
// peer is refused by coturn before it sends anything: no packet leaves
// loopback (the only traffic is between this test and coturn on 127.0.0.1).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { spawn } from 'node:child_process';

import { ROOT, joinPair, waitFor } from '../integration/harness.mjs';
import { freeLowPort, startPeer, startTurnServer, turnEntry, uclient } from './harness.mjs';
import { TCP, connect } from './stun.mjs';

const TEMPLATE = fs.readFileSync(path.join(ROOT, 'turnserver.conf'), 'utf8');
/** The template's settings: name -> [values], comments and blank lines left out. */
const settings = new Map();
for (const line of TEMPLATE.split('\n')) {
  const m = /^\s*([a-z0-9-_]+)\s*(?:=\s*(.*?))?\s*$/.exec(line);
  if (!m || line.trimStart().startsWith('#')) continue;
  settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2] ?? true]);
}

// The list, and more of the same kind.
const V4_REFUSED = ['127.0.0.1', '0.0.0.0', '10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254',
  '100.64.0.1', '127.255.255.254', '0.1.2.3', '172.31.255.255', '198.18.0.1', '192.0.0.8', '224.0.0.1',
  '239.255.255.250', '255.255.255.255'];
const V6_REFUSED = ['::1', '::ffff:127.0.0.1', '::', '::ffff:10.0.0.1', '::ffff:169.254.169.254',
  '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1'];
// Just outside each denied range: these must be granted, or the lists are
// wider than written (a range from :: denies every IPv4 address on 4.6.1).
// A permission only makes coturn note the address: nothing is sent to it,
// these tests relay no data to it, and from a relay on 127.0.0.1 (or ::1) the
// kernel would route nothing outwards anyway.
const V4_ALLOWED = ['1.0.0.0', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0', '126.255.255.255',
  '128.0.0.0', '169.253.255.255', '169.255.0.0', '172.15.255.255', '172.32.0.0', '191.255.255.255', '192.0.1.0',
  '192.0.3.0', '192.88.98.255', '192.88.100.0', '192.167.255.255', '192.169.0.0', '198.17.255.255', '198.20.0.0',
  '198.51.99.255', '198.51.101.0', '203.0.112.255', '203.0.114.0', '223.255.255.255'];
const V6_ALLOWED = ['::1:0:0:1', '64:ff9a:ffff::1', '64:ff9b:2::1', '2001:db8::1', '2001:ffff::1', '2003::1',
  'fbff:ffff::1', 'fec0::1'];

/** The addresses of `ips` that client cannot get a permission for, with the answer. */
async function refusedOf(client, ips) {
  const refused = [];
  for (const ip of ips) {
    const r = await client.createPermission(ip);
    if (!r.ok) refused.push(`${ip}: ${r.code} ${r.reason}`);
  }
  return refused;
}

describe('the production template as written', () => {
  it('has no loopback allowance and no allowed-peer-ip exception', () => {
    assert.equal(settings.has('allow-loopback-peers'), false);
    assert.equal(settings.has('allowed-peer-ip'), false);
    assert.equal(settings.has('server-relay'), false);
  });

  it('has the hardening flags', () => {
    for (const flag of ['use-auth-secret', 'fingerprint', 'no-cli', 'no-multicast-peers', 'no-software-attribute',
      'no-tcp-relay', 'no-stdout-log', 'no-rfc5780']) {
      assert.deepEqual(settings.get(flag), [true], flag);
    }
    for (const name of ['static-auth-secret', 'realm', 'relay-ip', 'listening-port', 'tls-listening-port',
      'min-port', 'max-port', 'cert', 'pkey', 'log-file', 'user-quota', 'total-quota', 'max-bps']) {
      assert.equal(settings.get(name)?.length, 1, `${name} once`);
    }
    for (const q of ['user-quota', 'total-quota', 'max-bps']) {
      assert.ok(Number(settings.get(q)[0]) > 0, `${q} is a positive number`);
    }
    for (const verbose of ['verbose', 'Verbose', 'log-binding', 'no-auth', 'lt-cred-mech', 'web-admin']) {
      assert.equal(settings.has(verbose), false, verbose);
    }
  });

  it('denies the IPv4-mapped IPv6 range and the other IPv6 forms (CVE-2026-27624), in a form 4.6.1 reads', () => {
    const denied = settings.get('denied-peer-ip');
    for (const r of ['::ffff:0.0.0.0-::ffff:255.255.255.255', '::1-::ffff:ffff', '127.0.0.0-127.255.255.255',
      '0.0.0.0-0.255.255.255']) {
      assert.ok(denied.includes(r), r);
    }
    for (const prefix of ['64:ff9b::-', '2002::-', 'fc00::-', 'fe80::-']) {
      assert.ok(denied.some((r) => r.startsWith(prefix)), prefix);
    }
    for (const r of denied) {
      assert.doesNotMatch(r, /\//, `coturn 4.6.1 skips a CIDR line: ${r}`);
      assert.doesNotMatch(r, /^::(-|$)/, `a range from :: denies every IPv4 peer on 4.6.1: ${r}`);
    }
  });
});

describe('coturn running the production template (no loopback peers)', () => {
  let srv;
  let client; // one allocation, over UDP, with credentials from /api/join
  before(async () => {
    srv = await startTurnServer({ env: { TURN_LOOPBACK_PEERS: '0' } });
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    client = await connect({ port: srv.turnPort });
    const r = await client.allocate({ username: t.username, password: t.credential });
    assert.equal(r.ok, true, `allocate: ${r.code} ${r.reason}`);
  });
  after(async () => {
    await client?.refresh(0).catch(() => {}); // delete the allocation
    client?.close();
    await srv?.stop();
  });

  it('serve.sh filled the template in and added only the relay\'s own address as a peer', () => {
    const conf = fs.readFileSync(path.join(srv.state, 'turnserver.conf'), 'utf8');
    const lines = (s) => s.split('\n').filter((l) => !/^(#|$)/.test(l));
    // (allowed-peer-ip=127.0.0.1 opens no loopback peer: coturn's loopback
    // check comes before its lists, and 127.0.0.1 is refused below)
    assert.deepEqual(lines(conf).filter((l) => l.startsWith('allowed-peer-ip')), ['allowed-peer-ip=127.0.0.1']);
    const own = lines(conf).filter((l) => l !== 'allowed-peer-ip=127.0.0.1');
    assert.doesNotMatch(own.join('\n'), /allow-loopback-peers|allowed-peer-ip|@[A-Z_]+@/);
    const names = (s) => s.map((l) => l.replace(/=.*/, ''));
    assert.deepEqual(names(own), names(lines(TEMPLATE)));
    const log = fs.readFileSync(srv.turnLog, 'utf8');
    assert.doesNotMatch(log, /Wrong address format|allow_loopback_peers/, 'every line of the config was taken');
  });

  for (const ip of V4_REFUSED) {
    it(`CreatePermission towards ${ip} is refused (403 Forbidden IP)`, async () => {
      const r = await client.createPermission(ip);
      assert.deepEqual([r.ok, r.code], [false, 403], r.reason);
    });
  }

  it('CreatePermission just outside each denied IPv4 range is granted', async () => {
    assert.deepEqual(await refusedOf(client, V4_ALLOWED), []);
  });

  // The relay is IPv4: an IPv6 peer is a family mismatch before any list.
  for (const ip of V6_REFUSED) {
    it(`CreatePermission towards ${ip} is refused (443, the relay is IPv4 only)`, async () => {
      const r = await client.createPermission(ip);
      assert.deepEqual([r.ok, r.code], [false, 443], r.reason);
    });
  }

  it('an IPv6 relay is not offered (440)', async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    const c = await connect({ port: srv.turnPort });
    try {
      const r = await c.allocate({ username: t.username, password: t.credential, family: 6 });
      assert.deepEqual([r.ok, r.code, r.relayed], [false, 440, undefined], r.reason);
    } finally {
      c.close();
    }
  });

  for (const [ip, code] of [['127.0.0.1', 403], ['10.0.0.1', 403], ['::ffff:127.0.0.1', 443]]) {
    it(`ChannelBind towards ${ip} is refused too (${code})`, async () => {
      const r = await client.channelBind(ip, 3480);
      assert.deepEqual([r.ok, r.code], [false, code], r.reason);
    });
  }

  it('a TCP relay (RFC 6062) is refused (442)', async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    const c = await connect({ port: srv.turnPort, transport: 'tcp' });
    try {
      const r = await c.allocate({ username: t.username, password: t.credential, requestedTransport: TCP });
      assert.deepEqual([r.ok, r.code, r.relayed], [false, 442, undefined], r.reason);
    } finally {
      c.close();
    }
  });

  it('turnutils_uclient -T (TCP relay) fails', async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    const peer = await startPeer(); // never reached: the allocation is refused first
    try {
      const r = await uclient(['-T', '-u', t.username, '-w', t.credential, '-p', String(srv.turnPort),
        '-e', '127.0.0.1', '-r', String(peer.port), '-n', '1', '127.0.0.1'], 30000);
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, /error 442 \(TCP Transport is not allowed/, r.out);
    } finally {
      await peer.stop();
    }
  });
});

// coturn 4.6.1 lets IPv4-mapped peers past its own checks when it relays over
// IPv6 (CVE-2026-27624; measured: without the ::ffff: line, a permission to
// ::ffff:127.0.0.1 is granted). We relay on IPv4 only; should anyone add an
// IPv6 relay-ip, the template's IPv6 lines must still hold. Here the filled-in
// production file runs with relay-ip=::1 instead.
describe('the production template with an IPv6 relay (relay-ip=::1)', () => {
  let srv;
  let coturn;
  let client;
  before(async () => {
    srv = await startTurnServer({ env: { TURN_LOOPBACK_PEERS: '0' } });
    const port = await freeLowPort();
    const conf = fs.readFileSync(path.join(srv.state, 'turnserver.conf'), 'utf8')
      .replace(/^relay-ip=.*$/m, 'relay-ip=::1')
      .replace(/^listening-port=.*$/m, `listening-port=${port}`)
      .replace(/^tls-listening-port=.*$/m, `tls-listening-port=${await freeLowPort()}`)
      .replace(/^(pidfile|log-file|userdb)=(.*)$/gm, '$1=$2-v6');
    const file = path.join(srv.state, 'turnserver-v6.conf');
    fs.writeFileSync(file, conf, { mode: 0o600 });
    coturn = spawn('setpriv', ['--pdeathsig', 'TERM', 'turnserver', '-c', file], { stdio: 'ignore' });
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    // up when it answers an allocation (UDP requests are retransmitted until then)
    client = await waitFor(async () => {
      const c = await connect({ port, timeoutMs: 2000 });
      const r = await c.allocate({ username: t.username, password: t.credential, family: 6 }).catch((e) => {
        c.close();
        throw e;
      });
      if (!r.ok) {
        c.close();
        throw new Error(`allocate: ${r.code} ${r.reason}`);
      }
      assert.match(r.relayed.ip, /^(0000:){7}0001$/);
      return c;
    }, 15000, 'the IPv6-relay coturn to allocate', 200);
  });
  after(async () => {
    await client?.refresh(0).catch(() => {});
    client?.close();
    if (coturn && coturn.exitCode === null) {
      coturn.kill('SIGTERM');
      await new Promise((resolve) => coturn.once('exit', resolve));
    }
    await srv?.stop();
  });

  for (const ip of V6_REFUSED) {
    it(`CreatePermission towards ${ip} is refused (403 Forbidden IP)`, async () => {
      const r = await client.createPermission(ip);
      assert.deepEqual([r.ok, r.code], [false, 403], r.reason);
    });
  }

  it('CreatePermission just outside each denied IPv6 range is granted', async () => {
    assert.deepEqual(await refusedOf(client, V6_ALLOWED), []);
  });
});
