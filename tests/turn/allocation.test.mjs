// allocation.test.mjs: coturn beside the server relays with the credentials
// /api/join and /api/turn hand out, and refuses any other.
//
// The server runs on loopback with the local-run addition (allow-loopback-peers,
// allowed-peer-ip=127.0.0.1), so the peer can be turnutils_peer on 127.0.0.1:
// every packet in these tests stays on loopback.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { freshPin, joinPair, waitFor } from '../integration/harness.mjs';
import { restCredential, startPeer, startTurnServer, turnEntry, uclient } from './harness.mjs';
import { connect } from './stun.mjs';

const now = () => Math.floor(Date.now() / 1000);
/** uclient's summary line: how many messages went out and came back through the relay. */
const totals = (out) => {
  const m = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)$/m.exec(out);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : null;
};

describe('coturn beside the server', () => {
  let srv;
  let peer;
  let secret;
  before(async () => {
    srv = await startTurnServer();
    peer = await startPeer();
    secret = fs.readFileSync(srv.secretFile, 'utf8').trim();
  });
  after(async () => {
    await peer?.stop();
    await srv?.stop();
  });

  it('join answers coturn\'s own STUN, TURN/UDP, TURN/TCP and TURN/TLS URLs, nothing else', async () => {
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    const h = '127.0.0.1';
    assert.deepEqual(r.json.ice_servers.map((s) => s.urls), [
      [`stun:${h}:${srv.turnPort}`],
      [`turn:${h}:${srv.turnPort}?transport=udp`, `turn:${h}:${srv.turnPort}?transport=tcp`,
        `turns:${h}:${srv.tlsPort}?transport=tcp`],
    ]);
    assert.equal(r.json.ice_transport_policy, 'all');
  });

  it('turnutils_uclient allocates over UDP with join\'s credentials and relays to a loopback peer', async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    const r = await uclient(['-u', t.username, '-w', t.credential, '-p', String(srv.turnPort),
      '-e', '127.0.0.1', '-r', String(peer.port), '-n', '5', '-c', '127.0.0.1']);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(totals(r.out), { sent: 5, received: 5 }, r.out);
    assert.doesNotMatch(r.out, /ERROR/, r.out);
  });

  it('turnutils_uclient allocates over TCP with fresh credentials from /api/turn', async () => {
    const { a } = await joinPair(srv);
    const fresh = await srv.turn(a.token);
    assert.equal(fresh.status, 200, fresh.text);
    const t = turnEntry(fresh.json.ice_servers);
    const r = await uclient(['-t', '-u', t.username, '-w', t.credential, '-p', String(srv.turnPort),
      '-e', '127.0.0.1', '-r', String(peer.port), '-n', '5', '-c', '127.0.0.1']);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(totals(r.out), { sent: 5, received: 5 }, r.out);
  });

  it('TURN over TLS: the generated certificate is valid for the host, and data is relayed', async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    // Node checks the chain against the generated certificate and the IP in its SAN.
    const c = await connect({ port: srv.tlsPort, transport: 'tls',
      tlsOptions: { ca: fs.readFileSync(`${srv.state}/turn-cert.pem`) } });
    try {
      const r = await c.allocate({ username: t.username, password: t.credential });
      assert.equal(r.ok, true, `${r.code} ${r.reason}`);
      assert.equal(r.relayed.ip, '127.0.0.1');
      assert.ok(r.relayed.port >= srv.relayRange[0] && r.relayed.port <= srv.relayRange[1],
        `relay port ${r.relayed.port} outside ${srv.relayRange}`);
      assert.equal(r.software, undefined, 'no-software-attribute');
      const p = await c.createPermission('127.0.0.1');
      assert.equal(p.ok, true, `${p.code} ${p.reason}`);
      c.send('127.0.0.1', peer.port, 'hello through the relay');
      const got = await c.receive();
      assert.deepEqual(got.from, { ip: '127.0.0.1', port: peer.port });
      assert.equal(got.data.toString(), 'hello through the relay');
    } finally {
      c.close();
    }
  });

  /** Allocate over UDP with the given credentials (or none); the answer. */
  async function allocateWith(credentials) {
    const c = await connect({ port: srv.turnPort });
    try {
      return await c.allocate(credentials);
    } finally {
      c.close();
    }
  }

  it('a credential signed with another secret is refused (401)', async () => {
    const username = `${now() + 3600}:0123456789abcdef`;
    const r = await allocateWith({ username, password: restCredential('not the server secret', username) });
    assert.deepEqual([r.ok, r.code, r.relayed], [false, 401, undefined], r.reason);
    // and the same credential signed with the right secret works: the refusal is the signature's
    const ok = await allocateWith({ username, password: restCredential(secret, username) });
    assert.equal(ok.ok, true, `${ok.code} ${ok.reason}`);
  });

  it('an expired timestamp is refused (401), however well signed', async () => {
    const username = `${now() - 60}:0123456789abcdef`;
    const r = await allocateWith({ username, password: restCredential(secret, username) });
    assert.deepEqual([r.ok, r.code, r.relayed], [false, 401, undefined], r.reason);
  });

  it('no credentials: refused (401)', async () => {
    const r = await allocateWith();
    assert.deepEqual([r.ok, r.code, r.relayed], [false, 401, undefined], r.reason);
  });

  it('a call outlives its credential: the allocation is refreshed and relays after expiry; a new one is refused', async () => {
    const username = `${now() + 2}:0123456789abcdef`;
    const password = restCredential(secret, username);
    const c = await connect({ port: srv.turnPort });
    try {
      const r = await c.allocate({ username, password });
      assert.equal(r.ok, true, `${r.code} ${r.reason}`);
      assert.equal((await c.createPermission('127.0.0.1')).ok, true);
      await waitFor(() => now() > Number(username.split(':')[0]), 10000, 'the credential to expire', 100);
      const late = await allocateWith({ username, password });
      assert.deepEqual([late.ok, late.code], [false, 401], 'a new allocation with the expired credential');
      const refreshed = await c.refresh(600);
      assert.equal(refreshed.ok, true, `refresh: ${refreshed.code} ${refreshed.reason}`);
      const again = await c.createPermission('127.0.0.1');
      assert.equal(again.ok, true, `permission: ${again.code} ${again.reason}`);
      c.send('127.0.0.1', peer.port, 'still relayed');
      assert.equal((await c.receive()).data.toString(), 'still relayed');
    } finally {
      c.close();
    }
  });

  it('turnutils_uclient fails (exit status) with a wrong secret, an expired timestamp or no credentials', async () => {
    const future = `${now() + 3600}:0123456789abcdef`;
    const past = `${now() - 60}:0123456789abcdef`;
    const cases = {
      'wrong secret': ['-u', future, '-w', restCredential('not the server secret', future)],
      expired: ['-u', past, '-w', restCredential(secret, past)],
      none: [],
    };
    for (const [what, creds] of Object.entries(cases)) {
      const r = await uclient([...creds, '-p', String(srv.turnPort), '-e', '127.0.0.1',
        '-r', String(peer.port), '-n', '1', '-c', '127.0.0.1']);
      assert.notEqual(r.code, 0, `${what}: ${r.out}`);
      assert.match(r.out, /Cannot complete Allocation/, `${what}: ${r.out}`);
    }
  });
});
