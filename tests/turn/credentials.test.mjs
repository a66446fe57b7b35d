// credentials.test.mjs: TURN credentials live as long as a call needs them
// (turn_ttl, minutes), a peer still in its room gets fresh ones from
// /api/turn, and one client address cannot hold more than user-quota
// relays, however many times it joins (docs/turn.md, "Credentials").
//
// coturn 4.6.1 checks a REST credential's expiry only when it authenticates
// a new allocation; the allocation's refreshes, permissions and channels use
// the key it cached then (allocation.test.mjs shows a call outliving its
// credential). So the quota, not the expiry, bounds what a client holds:
// coturn counts user-quota per username without its "<expiry>:" prefix, and
// tuturu-api puts a keyed hash of the client's address there.
//
// Every packet stays on loopback; 127.0.0.2 plays a second client address.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { freshPin, joinPair, ROOT, waitFor } from '../integration/harness.mjs';
import { confNumber, joinFrom, startPeer, startTurnServer, turnEntry, uclient } from './harness.mjs';
import { connect } from './stun.mjs';

const now = () => Math.floor(Date.now() / 1000);
const expiryOf = (username) => Number(username.split(':')[0]);
const DEFAULT_TTL = 300;

/** turnutils_uclient: one allocation over UDP with t's credentials, 3 messages to the peer. */
function uclientWith(srv, peer, t) {
  return uclient(['-u', t.username, '-w', t.credential, '-p', String(srv.turnPort),
    '-e', '127.0.0.1', '-r', String(peer.port), '-n', '3', '-c', '127.0.0.1']);
}

describe('TURN credentials with the default turn_ttl', () => {
  let srv;
  before(async () => { srv = await startTurnServer(); });
  after(async () => { await srv?.stop(); });

  it(`join and /api/turn hand out credentials valid ${DEFAULT_TTL} s, and say so in turn_ttl`, async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    assert.equal(a.turn_ttl, DEFAULT_TTL, JSON.stringify(a));
    const left = expiryOf(t.username) - now();
    assert.ok(left > DEFAULT_TTL - 5 && left <= DEFAULT_TTL, `join's credential expires in ${left} s`);
    const fresh = await srv.turn(a.token);
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal(fresh.json.turn_ttl, DEFAULT_TTL, fresh.text);
    const f = turnEntry(fresh.json.ice_servers);
    const freshLeft = expiryOf(f.username) - now();
    assert.ok(freshLeft > DEFAULT_TTL - 5 && freshLeft <= DEFAULT_TTL, `/api/turn's credential expires in ${freshLeft} s`);
  });

  it('only a peer still in its room gets fresh credentials: after leave, /api/turn answers 401', async () => {
    const { a } = await joinPair(srv);
    assert.equal((await srv.turn(a.token)).status, 200);
    assert.equal((await srv.leave(a.token)).status, 204);
    const r = await srv.turn(a.token);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.error, 'unauthorized', r.text);
  });
});

describe('TURN credentials with a short turn_ttl (3 s)', () => {
  let srv;
  let peer;
  before(async () => {
    srv = await startTurnServer({ env: { TUTURU_TURN_TTL: '3' } });
    peer = await startPeer();
  });
  after(async () => {
    await peer?.stop();
    await srv?.stop();
  });

  it('turnutils_uclient allocates with a join\'s credential, cannot once it expired, and can with a fresh one from /api/turn', async () => {
    const { a } = await joinPair(srv);
    const t = turnEntry(a.ice_servers);
    assert.equal(a.turn_ttl, 3);
    const first = await uclientWith(srv, peer, t);
    assert.equal(first.code, 0, first.out);
    await waitFor(() => now() > expiryOf(t.username), 10000, 'the credential to expire', 100);
    const late = await uclientWith(srv, peer, t);
    assert.notEqual(late.code, 0, late.out);
    assert.match(late.out, /Cannot complete Allocation/, late.out);
    const fresh = await srv.turn(a.token);
    assert.equal(fresh.status, 200, fresh.text);
    const again = await uclientWith(srv, peer, turnEntry(fresh.json.ice_servers));
    assert.equal(again.code, 0, again.out);
  });
});

describe('one client address holds at most user-quota relays', () => {
  let srv;
  let peer;
  let quota;
  let total;
  const held = [];
  before(async () => {
    srv = await startTurnServer();
    peer = await startPeer();
    const conf = path.join(srv.state, 'turnserver.conf');
    quota = confNumber(conf, 'user-quota');
    total = confNumber(conf, 'total-quota');
  });
  after(async () => {
    for (const c of held) c.close();
    await peer?.stop();
    await srv?.stop();
  });

  /** Allocate over UDP with t's credentials; the connection is kept open in `held`. */
  async function allocate(t) {
    const c = await connect({ port: srv.turnPort });
    held.push(c);
    const r = await c.allocate({ username: t.username, password: t.credential });
    return { c, ...r };
  }

  async function credentialFrom(address) {
    const r = await joinFrom(srv, freshPin(), address);
    assert.equal(r.status, 200, r.text);
    return turnEntry(r.json.ice_servers);
  }

  it('the template lets one address hold at most a tenth of all relays', () => {
    const template = path.join(ROOT, 'turnserver.conf');
    const q = confNumber(template, 'user-quota');
    const tq = confNumber(template, 'total-quota');
    assert.ok(q > 0 && tq > 0, 'both quotas set (0 is unlimited)');
    assert.ok(q * 10 <= tq, `user-quota ${q}, total-quota ${tq}`);
    assert.deepEqual([quota, total], [q, tq], 'the running coturn has the template\'s quotas');
  });

  it('joining again from the same address adds no relays; another address has its own; a released relay frees a place', async () => {
    const a = await credentialFrom('127.0.0.1');
    const mine = [];
    for (let i = 0; i < quota; i++) {
      const r = await allocate(a);
      assert.equal(r.ok, true, `allocation ${i + 1} of ${quota}: ${r.code} ${r.reason}`);
      mine.push(r.c);
    }
    const over = await allocate(a);
    assert.deepEqual([over.ok, over.code], [false, 486], `allocation ${quota + 1} with the same credential`);

    // a new join from the same address: a new credential, the same quota
    const b = await credentialFrom('127.0.0.1');
    const again = await allocate(b);
    assert.deepEqual([again.ok, again.code], [false, 486], 'a second join\'s credential from the same address');
    const u = await uclientWith(srv, peer, b);
    assert.notEqual(u.code, 0, u.out);
    assert.match(u.out, /error 486 \(Allocation Quota Reached\)/, u.out);

    // another address is not held back by the first
    const c = await credentialFrom('127.0.0.2');
    const other = await uclientWith(srv, peer, c);
    assert.equal(other.code, 0, other.out);

    // the quota counts live relays: deleting one (coturn does it a second
    // after a Refresh with lifetime 0) lets the address allocate again.
    // (Not with turnutils_uclient here: it makes a probe allocation first
    // and leaves it behind, so it needs two free places.)
    const gone = await mine[0].refresh(0);
    assert.equal(gone.ok, true, `refresh(0): ${gone.code} ${gone.reason}`);
    let late;
    await waitFor(async () => (late = await allocate(b)).ok, 10000,
      'an allocation with the second credential once one relay was deleted', 100);
    assert.ok(late.relayed, JSON.stringify(late.relayed));
  });
});
