// origin.test.mjs: other websites cannot use our visitors' browsers
// (docs/api.md, "Requests from other websites").
//
// A page on another site can make a browser send a "simple" request without
// asking (a CORS preflight): POST with a text/plain, form or multipart body,
// no Authorization header. So bodies must be application/json, per-peer calls
// carry a Bearer token (both force a preflight, which we never answer with
// CORS headers), and a request the browser marks as cross-site (Sec-Fetch-Site,
// or an Origin that is not the server's own) is 403 forbidden_origin. Each
// refusal changes nothing, not even the join rate counter.
//
// Requests go out raw (rawRequest) so that every header, Host included, is
// exactly what the case says.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, joinPair, rawRequest, startServer } from './harness.mjs';

describe('requests from other websites', () => {
  let srv;
  let own; // this server's origin as a browser would write it
  before(async () => {
    srv = await startServer({ env: { TUTURU_JOIN_WINDOW: '3600', TUTURU_PEER_GRACE: '3600' } });
    own = `http://127.0.0.1:${srv.port}`;
  });
  after(() => srv?.stop());

  /**
   * One request with exactly these headers ([name, value] pairs; a name may
   * repeat). Host defaults to the address the test connects to.
   */
  function call(method, path, { headers = [], body, host = `127.0.0.1:${srv.port}` } = {}) {
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
    for (const [k, v] of headers) lines.push(`${k}: ${v}`);
    const payload = Buffer.from(body ?? '');
    if (body !== undefined) lines.push(`Content-Length: ${payload.length}`);
    return rawRequest(srv.port, Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]));
  }
  const JSON_TYPE = ['Content-Type', 'application/json'];
  const join = (headers, body = JSON.stringify({ pin: freshPin() }), host) =>
    call('POST', '/api/join', { headers, body, host });

  /** fn() is refused with status/code, and no row of any table changed. */
  async function refused(status, code, fn) {
    const before = srv.snapshot();
    const r = await fn();
    assertError(r, status, code);
    assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS header');
    assert.deepEqual(srv.snapshot(), before, 'the database changed');
    return r;
  }
  /** A join with these headers is accepted: 200 and a token. */
  async function joins(headers, host) {
    const r = await join(headers, undefined, host);
    assert.equal(r.status, 200, r.raw.slice(0, 400));
    assert.match(r.json.token, /^[0-9a-f]{64}$/);
    assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS header');
  }

  describe('Content-Type: join and send take application/json only', () => {
    // The three a page on another site can send without a preflight, no type
    // at all, and near misses.
    const wrong = {
      'text/plain;charset=UTF-8 (fetch with a string body, sendBeacon)': 'text/plain;charset=UTF-8',
      'text/plain': 'text/plain',
      'application/x-www-form-urlencoded (a form)': 'application/x-www-form-urlencoded',
      'multipart/form-data': 'multipart/form-data; boundary=x',
      'text/plain naming JSON in a parameter': 'text/plain; x=application/json',
      'text/json': 'text/json',
      'application/jsonx': 'application/jsonx',
      'application/json-seq': 'application/json-seq',
      'application/json followed by a second type': 'application/json, text/plain',
      'application/json with text before it': 'xapplication/json',
      'application/json without its subtype separator': 'applicationjson',
      'a lone semicolon': ';',
    };
    for (const [name, type] of Object.entries(wrong)) {
      it(`join with ${name} is 415 unsupported_media_type and stores nothing`, () =>
        refused(415, 'unsupported_media_type', () => join([['Content-Type', type]])));
    }
    it('join with no Content-Type is 415 and stores nothing', () =>
      refused(415, 'unsupported_media_type', () => join([])));
    it('join with an empty Content-Type is 415 and stores nothing', () =>
      refused(415, 'unsupported_media_type', () => join([['Content-Type', '']])));
    it('a 415 join is not counted by the rate limit (join_rate unchanged)', async () => {
      const before = srv.snapshot().join_rate;
      for (let i = 0; i < 3; i++) assert.equal((await join([['Content-Type', 'text/plain']])).status, 415);
      assert.deepEqual(srv.snapshot().join_rate, before);
    });
    for (const type of ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON',
      'Application/Json ;charset=UTF-8', 'application/json;']) {
      it(`join with Content-Type ${JSON.stringify(type)} is accepted`, () => joins([['Content-Type', type]]));
    }
    for (const [name, headers] of [['text/plain', [['Content-Type', 'text/plain;charset=UTF-8']]],
      ['a form type', [['Content-Type', 'application/x-www-form-urlencoded']]], ['no Content-Type', []]]) {
      it(`send with ${name} is 415 and delivers nothing`, async () => {
        const { a } = await joinPair(srv);
        await refused(415, 'unsupported_media_type', () => call('POST', '/api/send', {
          headers: [...headers, ['Authorization', `Bearer ${a.token}`]], body: '{"type":"offer","data":1}',
        }));
      });
    }
  });

  describe('Sec-Fetch-Site decides when a browser sends it', () => {
    it('same-origin is accepted', () => joins([JSON_TYPE, ['Sec-Fetch-Site', 'same-origin']]));
    it('none (the person typed it) is accepted', () => joins([JSON_TYPE, ['Sec-Fetch-Site', 'none']]));
    it('same-origin with Origin null (our page under Referrer-Policy no-referrer) is accepted', () =>
      joins([JSON_TYPE, ['Sec-Fetch-Site', 'same-origin'], ['Origin', 'null']]));
    for (const value of ['cross-site', 'same-site', 'Same-Origin', 'same-origin, cross-site', 'bogus', 'none ,none']) {
      it(`Sec-Fetch-Site ${JSON.stringify(value)} is 403 forbidden_origin and stores nothing`, () =>
        refused(403, 'forbidden_origin', () => join([JSON_TYPE, ['Sec-Fetch-Site', value]])));
    }
    it('cross-site is refused even with our own Origin', () =>
      refused(403, 'forbidden_origin', () => join([JSON_TYPE, ['Sec-Fetch-Site', 'cross-site'], ['Origin', own]])));
    it('cross-site is refused before the Content-Type is looked at (403, not 415)', () =>
      refused(403, 'forbidden_origin', () =>
        join([['Content-Type', 'text/plain;charset=UTF-8'], ['Sec-Fetch-Site', 'cross-site']])));
  });

  describe('without Sec-Fetch-Site, Origin must be our own', () => {
    it('no Origin and no Sec-Fetch-* (curl, a non-browser client) is accepted', () => joins([JSON_TYPE]));
    it('our own Origin is accepted', () => joins([JSON_TYPE, ['Origin', own]]));
    it('our own Origin in capitals is accepted', () => joins([JSON_TYPE, ['Origin', own.toUpperCase()]]));
    it('the origin is scheme and Host header: another Host name with its own Origin is accepted', () =>
      joins([JSON_TYPE, ['Origin', 'http://tuturu.example']], 'tuturu.example'));
    it('a Host with the default port :80 matches an Origin without it', () =>
      joins([JSON_TYPE, ['Origin', 'http://tuturu.example']], 'tuturu.example:80'));
    const bad = {
      'another site': () => 'https://evil.example',
      'localhost on our port (another origin for the same server)': () => `http://localhost:${srv.port}`,
      'https on our host and port': () => `https://127.0.0.1:${srv.port}`,
      'another port': () => `http://127.0.0.1:${srv.port + 1}`,
      'no port': () => 'http://127.0.0.1',
      'null (a sandboxed frame, a data: URL)': () => 'null',
      'ours with a trailing slash': () => `${own}/`,
      'ours followed by more host': () => `${own}.evil.example`,
      'ours as a prefix of a longer port': () => `${own}0`,
      'our host and port without a scheme': () => `127.0.0.1:${srv.port}`,
      'ours with a path': () => `${own}/api/join`,
      'ours with user info': () => `http://x@127.0.0.1:${srv.port}`,
      'a 4000-character origin': () => `http://${'a'.repeat(4000)}.example`,
      'garbage': () => '\u00ff\u00fe%00<script>',
    };
    for (const [name, origin] of Object.entries(bad)) {
      it(`Origin ${name} is 403 forbidden_origin and stores nothing`, () =>
        refused(403, 'forbidden_origin', () => join([JSON_TYPE, ['Origin', origin()]])));
    }
    // lighttpd drops a header with an empty value; no browser sends one.
    it('an empty Origin and an empty Sec-Fetch-Site arrive as none: accepted like curl', () =>
      joins([JSON_TYPE, ['Origin', ''], ['Sec-Fetch-Site', '']]));
    it('two Origin headers, ours and another, are 403', () =>
      refused(403, 'forbidden_origin', () => join([JSON_TYPE, ['Origin', own], ['Origin', 'https://evil.example']])));
    it('an Origin matching a Host that is not ours still has to match the Host sent', () =>
      refused(403, 'forbidden_origin', () => join([JSON_TYPE, ['Origin', own]], undefined, 'tuturu.example')));
  });

  describe('every per-peer endpoint refuses cross-site requests', () => {
    const crossSite = {
      'Sec-Fetch-Site cross-site': [['Sec-Fetch-Site', 'cross-site']],
      'Origin of another site': [['Origin', 'https://evil.example']],
    };
    for (const [name, site] of Object.entries(crossSite)) {
      it(`send with ${name} is 403 and delivers nothing`, async () => {
        const { a } = await joinPair(srv);
        await refused(403, 'forbidden_origin', () => call('POST', '/api/send', {
          headers: [...site, JSON_TYPE, ['Authorization', `Bearer ${a.token}`]], body: '{"type":"offer","data":1}',
        }));
      });
      it(`poll with ${name} is 403`, async () => {
        const { a } = await joinPair(srv);
        await refused(403, 'forbidden_origin', () =>
          call('GET', '/api/poll?after=0', { headers: [...site, ['Authorization', `Bearer ${a.token}`]] }));
      });
      it(`turn with ${name} is 403`, async () => {
        const { a } = await joinPair(srv);
        await refused(403, 'forbidden_origin', () =>
          call('GET', '/api/turn', { headers: [...site, ['Authorization', `Bearer ${a.token}`]] }));
      });
      it(`leave by Bearer with ${name} is 403 and the peer stays`, async () => {
        const { a } = await joinPair(srv);
        await refused(403, 'forbidden_origin', () =>
          call('POST', '/api/leave', { headers: [...site, ['Authorization', `Bearer ${a.token}`]], body: '' }));
      });
      it(`leave by a text/plain body (a beacon) with ${name} is 403 and the peer stays`, async () => {
        const { a } = await joinPair(srv);
        await refused(403, 'forbidden_origin', () => call('POST', '/api/leave', {
          headers: [...site, ['Content-Type', 'text/plain;charset=UTF-8']], body: JSON.stringify({ token: a.token }),
        }));
      });
    }
    it('health answers any origin (read-only, no token)', async () => {
      const r = await call('GET', '/api/health', { headers: [['Sec-Fetch-Site', 'cross-site'], ['Origin', 'https://evil.example']] });
      assert.equal(r.status, 200, r.raw);
    });
    it('a CORS preflight gets no CORS headers', async () => {
      const r = await call('OPTIONS', '/api/join', { headers: [['Origin', 'https://evil.example'],
        ['Sec-Fetch-Site', 'cross-site'], ['Access-Control-Request-Method', 'POST'],
        ['Access-Control-Request-Headers', 'content-type']] });
      assert.ok(r.status >= 400, r.raw);
      for (const h of ['access-control-allow-origin', 'access-control-allow-headers', 'access-control-allow-methods']) {
        assert.equal(r.headers.get(h), null, h);
      }
    });
  });

  describe('our own page keeps working', () => {
    it('send, poll and turn with Sec-Fetch-Site same-origin and our Origin', async () => {
      const { a } = await joinPair(srv);
      const site = [['Sec-Fetch-Site', 'same-origin'], ['Origin', own], ['Authorization', `Bearer ${a.token}`]];
      const sent = await call('POST', '/api/send', { headers: [...site, JSON_TYPE], body: '{"type":"offer","data":1}' });
      assert.equal(sent.status, 202, sent.raw);
      const polled = await call('GET', '/api/poll?after=0', { headers: site });
      assert.equal(polled.status, 200, polled.raw);
      assert.equal((await call('GET', '/api/turn', { headers: site })).status, 200);
    });
    for (const [name, origin] of [['Origin null', 'null'], ['our Origin', null]]) {
      it(`leave by sendBeacon (text/plain body, Sec-Fetch-Site same-origin, ${name}) is 204`, async () => {
        const { a, b } = await joinPair(srv);
        const r = await call('POST', '/api/leave', {
          headers: [['Content-Type', 'text/plain;charset=UTF-8'], ['Sec-Fetch-Site', 'same-origin'],
            ['Origin', origin ?? own]],
          body: JSON.stringify({ token: b.token }),
        });
        assert.equal(r.status, 204, r.raw);
        assert.deepEqual(srv.sql(`SELECT id FROM peers WHERE id IN ('${a.peer}', '${b.peer}')`), [{ id: a.peer }]);
      });
    }
    it('leave with a text/plain body and no browser headers (an old browser) is 204', async () => {
      const { b } = await joinPair(srv);
      const r = await call('POST', '/api/leave', {
        headers: [['Content-Type', 'text/plain;charset=UTF-8']], body: JSON.stringify({ token: b.token }),
      });
      assert.equal(r.status, 204, r.raw);
    });
  });
});
