// ratelimit.test.mjs: join_limit joins per client address per join_window.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, rawRequest, startServer, waitFor } from './harness.mjs';

/** A raw join request (for rawRequest, which can bind the client address). */
const joinFrom = (pin) => {
  const body = JSON.stringify({ pin });
  return 'POST /api/join HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
};

describe('join rate limit (join_limit 3, join_window 3600)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_JOIN_LIMIT: '3', TUTURU_JOIN_WINDOW: '3600' } });
  });
  after(() => srv?.stop());

  it('the 4th join from one address is 429 rate_limited with Retry-After, and joins nobody', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await srv.join(freshPin());
      assert.equal(r.status, 200, `join ${i + 1}: ${r.text}`);
    }
    const before = srv.snapshot();
    const r = await srv.join(freshPin());
    assertError(r, 429, 'rate_limited');
    const retry = r.headers.get('retry-after');
    assert.match(retry ?? '', /^\d+$/, `Retry-After: ${retry}`);
    assert.ok(Number(retry) >= 1 && Number(retry) <= 3600, `Retry-After: ${retry}`);
    const now = srv.snapshot();
    assert.deepEqual([now.rooms, now.peers, now.messages], [before.rooms, before.peers, before.messages]);
  });

  it('further joins stay limited', async () => {
    assertError(await srv.join(freshPin()), 429, 'rate_limited');
  });

  it('joins from another address (127.0.0.2) are counted apart: accepted, then limited on their own', async () => {
    const fromOther = () => rawRequest(srv.port, joinFrom(freshPin()), { localAddress: '127.0.0.2' });
    assertError(await srv.join(freshPin()), 429, 'rate_limited', '127.0.0.1 is still limited');
    for (let i = 0; i < 3; i++) {
      const r = await fromOther();
      assert.equal(r.status, 200, `join ${i + 1} from 127.0.0.2: ${r.raw}`);
    }
    assertError(await fromOther(), 429, 'rate_limited', 'the 4th join from 127.0.0.2');
    // one counter row per address (the address is stored keyed-hashed)
    const rows = srv.sql('SELECT addr_hash, count FROM join_rate ORDER BY count');
    assert.equal(new Set(rows.map((row) => row.addr_hash)).size, 2, JSON.stringify(rows));
    assert.deepEqual(rows.map((row) => row.count), [4, 6]);
  });

  it('other endpoints are not limited', async () => {
    const r = await srv.request('GET', '/api/health');
    assert.equal(r.status, 200);
  });
});

describe('join rate limit window (join_limit 2, join_window 2)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_JOIN_LIMIT: '2', TUTURU_JOIN_WINDOW: '2' } });
  });
  after(() => srv?.stop());

  it('joins are allowed again once the window has passed', async () => {
    // A window boundary may fall between the joins: allow for one reset.
    let limited;
    for (let i = 0; i < 6 && !limited; i++) {
      const r = await srv.join(freshPin());
      if (r.status === 429) limited = r;
      else assert.equal(r.status, 200, r.text);
    }
    assert.ok(limited, 'no 429 within 6 joins with join_limit 2');
    assertError(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) <= 2, `Retry-After: ${limited.headers.get('retry-after')}`);
    await waitFor(async () => (await srv.join(freshPin())).status === 200, 6000, 'a join after the window', 250);
  });
});
