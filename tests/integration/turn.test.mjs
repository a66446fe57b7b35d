// turn.test.mjs: ICE servers and coturn REST-API credentials.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, joinPair, startServer } from './harness.mjs';

const STUN = ['stun:stun.example.org:3478'];
const TURN = ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'];
const TTL = 3600;

const urlsOf = (server) => (Array.isArray(server.urls) ? server.urls : [server.urls]);

/**
 * The username's key for a client at addr: the first 32 hex digits of
 * HMAC-SHA256(secret, "turn:4:" + addr) (docs/turn.md: one coturn quota per
 * address).
 */
function addressKey(secret, addr) {
  return crypto.createHmac('sha256', secret).update(`turn:4:${addr}`).digest('hex').slice(0, 32);
}

/** Check one ice_servers list: the STUN entry and the TURN entry with valid credentials. */
function checkIceServers(srv, servers) {
  assert.ok(Array.isArray(servers), JSON.stringify(servers));
  const stun = servers.filter((s) => urlsOf(s).some((u) => u.startsWith('stun:')));
  const turn = servers.filter((s) => urlsOf(s).some((u) => /^turns?:/.test(u)));
  assert.deepEqual(stun.flatMap(urlsOf), STUN);
  assert.deepEqual(turn.flatMap(urlsOf), TURN);
  const secret = fs.readFileSync(srv.secretFile, 'utf8').trim();
  const now = Math.floor(Date.now() / 1000);
  for (const t of turn) {
    const m = /^(\d+):(.+)$/.exec(t.username);
    assert.ok(m, `username ${t.username}`);
    assert.equal(m[2], addressKey(secret, '127.0.0.1'), 'the key of the client address, not a peer id');
    const expiry = Number(m[1]);
    assert.ok(Math.abs(expiry - (now + TTL)) <= 5, `expiry ${expiry}, now ${now}, ttl ${TTL}`);
    const want = crypto.createHmac('sha1', secret).update(t.username).digest('base64');
    assert.equal(t.credential, want);
  }
}

describe('TURN credentials', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: { TUTURU_STUN_URLS: STUN.join(','), TUTURU_TURN_URLS: TURN.join(', '), TUTURU_TURN_TTL: String(TTL) },
    });
  });
  after(() => srv?.stop());

  it('join answers the STUN and TURN servers, the TURN one with <expiry>:<address key> and base64 HMAC-SHA1, and turn_ttl', async () => {
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    checkIceServers(srv, r.json.ice_servers);
    assert.equal(r.json.ice_transport_policy, 'all');
    assert.equal(r.json.turn_ttl, TTL);
  });

  it('two peers at one address get the same key (one coturn quota), no peer id', async () => {
    const { a, b } = await joinPair(srv);
    checkIceServers(srv, a.ice_servers);
    checkIceServers(srv, b.ice_servers);
    const user = (j) => j.ice_servers.find((s) => s.username).username;
    assert.equal(user(a).split(':')[1], user(b).split(':')[1]);
    assert.ok(!user(a).includes(a.peer) && !user(b).includes(b.peer));
  });

  it('GET /api/turn with a Bearer token answers fresh credentials and the policy', async () => {
    const { a } = await joinPair(srv);
    const r = await srv.turn(a.token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['ice_servers', 'ice_transport_policy', 'turn_ttl']);
    checkIceServers(srv, r.json.ice_servers);
    assert.equal(r.json.ice_transport_policy, 'all');
    assert.equal(r.json.turn_ttl, TTL);
  });

  it('GET /api/turn without a token is 401 unauthorized', async () => {
    assertError(await srv.request('GET', '/api/turn'), 401, 'unauthorized');
  });

  it('GET /api/turn with an unknown token is 401 unauthorized', async () => {
    assertError(await srv.turn('f'.repeat(64)), 401, 'unauthorized');
  });

  it('the secret itself appears in no answer', async () => {
    const secret = fs.readFileSync(srv.secretFile, 'utf8').trim();
    const { a } = await joinPair(srv);
    const r = await srv.turn(a.token);
    assert.ok(!r.text.includes(secret));
  });
});

describe('TURN with force_relay', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: { TUTURU_TURN_URLS: TURN.join(','), TUTURU_FORCE_RELAY: '1', TUTURU_TURN_TTL: String(TTL) },
    });
  });
  after(() => srv?.stop());

  it('join answers ice_transport_policy "relay"', async () => {
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ice_transport_policy, 'relay');
  });

  it('GET /api/turn answers ice_transport_policy "relay"', async () => {
    const { a } = await joinPair(srv);
    const r = await srv.turn(a.token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ice_transport_policy, 'relay');
    const turn = r.json.ice_servers.filter((s) => urlsOf(s).some((u) => /^turns?:/.test(u)));
    assert.equal(turn.length >= 1, true, r.text);
  });
});

describe('without TURN urls', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  it('join answers no TURN entry, no turn_ttl and policy "all"', async () => {
    const r = await srv.join(freshPin());
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.ice_servers), r.text);
    for (const s of r.json.ice_servers) {
      assert.ok(urlsOf(s).every((u) => !/^turns?:/.test(u)), r.text);
    }
    assert.equal(r.json.ice_transport_policy, 'all');
    assert.equal('turn_ttl' in r.json, false, r.text);
  });
});
