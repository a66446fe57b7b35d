// errors.test.mjs: bad input gets a clear JSON error and changes nothing.
//
// Every case here checks the status, that the body is exactly
// {"error","message"} as JSON, and that every row of every table is the same
// before and after the request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertError, freshPin, joinPair, rawRequest, sql, startServer, waitFor } from './harness.mjs';

const LIMIT = 65536;

/** A JSON object text of exactly n bytes: {"pin":"...", "pad":"xxx..."}. */
function paddedJoin(pin, n) {
  const head = `{"pin":"${pin}","pad":"`;
  return head + 'x'.repeat(n - head.length - 2) + '"}';
}

function paddedSend(n) {
  const head = '{"type":"big","data":"';
  return head + 'x'.repeat(n - head.length - 2) + '"}';
}

/**
 * The tables are as they were; join_rate rows may only have expired (the
 * cleanup deletes past windows), never been added to.
 */
function assertUnchanged(before, now) {
  const { join_rate: rateBefore, ...rest } = before;
  const { join_rate: rateNow, ...restNow } = now;
  assert.deepEqual(restNow, rest, 'the database changed');
  const had = new Set(rateBefore.map((row) => JSON.stringify(row)));
  for (const row of rateNow) assert.ok(had.has(JSON.stringify(row)), `join_rate changed: ${JSON.stringify(row)}`);
}

describe('errors', () => {
  let srv;
  let a;
  let b;
  before(async () => {
    // Nothing may expire while the cases run: a and b never poll.
    srv = await startServer({
      env: { TUTURU_POLL_TIMEOUT: '2', TUTURU_PEER_GRACE: '3600', TUTURU_MESSAGE_TTL: '86400' },
    });
    ({ a, b } = await joinPair(srv));
  });
  after(() => srv?.stop());

  // The database as the last refused request left it: a refusal changes
  // nothing, so that is also the state before the next one (one sqlite3 run
  // per case instead of two). A test that changes it on purpose calls changed().
  let known = null;
  const changed = () => {
    known = null;
  };

  /** Run fn (which returns a response), assert the error and that nothing changed. */
  async function refused(status, code, fn) {
    const before = known ?? srv.snapshot();
    known = null;
    const r = await fn();
    assertError(r, status, code);
    const now = srv.snapshot();
    assertUnchanged(before, now);
    known = now;
    return r;
  }
  /**
   * Poll as b, then wait for the poll's heartbeat and acknowledgement, which
   * the server writes in the background within a second, so that they do not
   * land during the next case. b's last_seen is first set a second back (far
   * inside peer_grace), and the poll's heartbeat moves it forward.
   */
  async function pollAndSettle(query) {
    changed();
    const [{ marker }] = sql(srv.db, `UPDATE peers SET last_seen = unixepoch() - 1 WHERE id = '${b.peer}' RETURNING last_seen AS marker`);
    const r = await srv.request('GET', `/api/poll?${query}`, { token: b.token });
    await waitFor(() => sql(srv.db, `SELECT last_seen FROM peers WHERE id = '${b.peer}'`)[0]?.last_seen > marker,
      5000, "the poll's heartbeat to be written");
    return r;
  }
  const post = (path, body, headers = {}) => srv.request('POST', path, { body, headers });
  /** A body from strings and byte arrays. */
  const bytes = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));

  describe('malformed and truncated JSON', () => {
    const cases = {
      'an empty body': '',
      'an opening brace': '{',
      'a truncated object': '{"pin":"1234',
      'a missing value': '{"pin":}',
      'unquoted keys': '{pin:"123456"}',
      'single quotes': "{'pin':'123456'}",
      'a trailing comma': '{"pin":"123456",}',
      'a bare word': 'nul',
      'form encoding': 'pin=123456',
      'a comment': '{"pin":"123456"/* x */}',
    };
    for (const [name, body] of Object.entries(cases)) {
      it(`join with ${name} is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () => post('/api/join', body)));
      it(`send with ${name} is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () =>
          srv.request('POST', '/api/send', { token: a.token, body: body.replace('pin', 'type') })));
    }
  });

  describe('trailing data after the JSON value', () => {
    for (const [name, tail] of [['a letter', 'x'], ['a second object', '{}'], ['a number', ' 1'],
      ['a NUL byte', '\0'], ['a second copy', '{"pin":"123456"}']]) {
      it(`join followed by ${name} is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () => post('/api/join', `{"pin":"${freshPin()}"}${tail}`)));
    }
    it('send followed by more data is 400 invalid_json', () =>
      refused(400, 'invalid_json', () =>
        srv.request('POST', '/api/send', { token: a.token, body: '{"type":"offer","data":1}{"type":"offer"}' })));
    it('trailing whitespace is not trailing data: join is 200', async () => {
      changed();
      const r = await post('/api/join', `{"pin":"${freshPin()}"} \r\n\t`);
      assert.equal(r.status, 200, r.text);
    });
  });

  describe('JSON of the wrong type', () => {
    for (const body of ['null', '[]', '["123456"]', '"123456"', '123456', 'true']) {
      it(`join with the top-level value ${body} is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () => post('/api/join', body)));
      it(`send with the top-level value ${body} is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () =>
          srv.request('POST', '/api/send', { token: a.token, body })));
    }
    for (const type of [1, null, true, ['offer'], { type: 'offer' }]) {
      it(`send with type ${JSON.stringify(type)} is 400 invalid_type`, () =>
        refused(400, 'invalid_type', () =>
          srv.request('POST', '/api/send', { token: a.token, body: { type, data: 1 } })));
    }
    it('send without a type is 400 invalid_type', () =>
      refused(400, 'invalid_type', () =>
        srv.request('POST', '/api/send', { token: a.token, body: { data: 1 } })));
  });

  describe('NUL bytes and invalid UTF-8', () => {
    it('a raw NUL byte inside the PIN string is 400 invalid_json', () =>
      refused(400, 'invalid_json', () => post('/api/join', bytes('{"pin":"123456', [0], '"}'))));
    it('an escaped NUL at the end of the PIN is 400 invalid_json', () =>
      refused(400, 'invalid_json', () => post('/api/join', '{"pin":"123456\\u0000"}')));
    it('an escaped NUL in the middle of the PIN is 400 invalid_json', () =>
      refused(400, 'invalid_json', () => post('/api/join', '{"pin":"123\\u0000456"}')));
    it('an escaped NUL inside the type is 400 invalid_json', () =>
      refused(400, 'invalid_json', () =>
        srv.request('POST', '/api/send', { token: a.token, body: '{"type":"offer\\u0000x","data":1}' })));
    it('an escaped NUL inside data is 400 invalid_json', () =>
      refused(400, 'invalid_json', () =>
        srv.request('POST', '/api/send', { token: a.token, body: '{"type":"nul","data":"a\\u0000b"}' })));
    it('a raw NUL byte between tokens is 400 invalid_json', () =>
      refused(400, 'invalid_json', () => post('/api/join', bytes('{"pin":', [0], '"123456"}'))));
    const invalid = {
      'a 0xff byte': [0xff],
      'a lone continuation byte': [0x80],
      'an overlong slash': [0xc0, 0xaf],
      'a UTF-8 encoded surrogate': [0xed, 0xa0, 0x80],
      'a truncated sequence': [0xe2, 0x82],
    };
    for (const [name, bad] of Object.entries(invalid)) {
      it(`${name} in a join body is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () =>
          post('/api/join', bytes(`{"pin":"${freshPin()}","x":"`, bad, '"}'))));
      it(`${name} in send data is 400 invalid_json`, () =>
        refused(400, 'invalid_json', () =>
          srv.request('POST', '/api/send', { token: a.token, body: bytes('{"type":"t","data":"', bad, '"}') })));
    }
    it('a lone surrogate escape is 400 invalid_json', () =>
      refused(400, 'invalid_json', () =>
        srv.request('POST', '/api/send', { token: a.token, body: '{"type":"t","data":"\\ud800"}' })));
  });

  describe('SQL metacharacters', () => {
    for (const pin of ["' OR '1'='1", "123456'; DROP TABLE rooms; --", '12345%', '12345_', '"; --']) {
      it(`PIN ${JSON.stringify(pin)} is 400 invalid_pin`, () =>
        refused(400, 'invalid_pin', () => post('/api/join', { pin })));
    }
    for (const type of ["offer'; DELETE FROM messages; --", "a' OR 1=1 --", 'a;', 'a%', 'a_b']) {
      it(`type ${JSON.stringify(type)} is 400 invalid_type`, () =>
        refused(400, 'invalid_type', () =>
          srv.request('POST', '/api/send', { token: a.token, body: { type, data: 1 } })));
    }
    it('a token full of SQL is 401 unauthorized', () =>
      refused(401, 'unauthorized', () =>
        srv.request('GET', '/api/poll', { headers: { authorization: "Bearer ' OR '1'='1' --" } })));
    it('a leave body token full of SQL is 401 unauthorized', () =>
      refused(401, 'unauthorized', () =>
        post('/api/leave', JSON.stringify({ token: "x' OR 1=1; DELETE FROM peers; --" }), { 'content-type': 'text/plain' })));
  });

  describe('garbage query strings for after', () => {
    for (const q of ['after=-1', 'after=abc', 'after=1.5', 'after=1e3', 'after=', 'after=0x10',
      'after=+1', 'after=%201', 'after=1&after=2', 'after=99999999999999999999999',
      "after=1'%20OR%201=1", 'after=1;DROP%20TABLE%20messages', 'after=1%20']) {
      it(`poll?${q} is 400 invalid_after`, () =>
        refused(400, 'invalid_after', () => srv.request('GET', `/api/poll?${q}`, { token: b.token })));
    }
    it('poll?after=N among other parameters is accepted', async () => {
      changed();
      const sent = await srv.send(a.token, 'ping', 1);
      assert.equal(sent.status, 202, sent.text);
      const r = await pollAndSettle(`x=1&after=${sent.json.seq - 1}&y`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.messages[0].seq, sent.json.seq);
    });
    // lighttpd itself refuses a NUL or invalid UTF-8 in the URL: bad_request
    // is a fair answer there, as long as it is our JSON.
    for (const q of ['after=1%00', 'after=%FF']) {
      it(`poll?${q} is a 400 JSON error`, () =>
        refused(400, ['invalid_after', 'bad_request'], () => srv.request('GET', `/api/poll?${q}`, { token: b.token })));
    }
  });

  describe('unknown and malformed tokens', () => {
    const zeros = '0'.repeat(64);
    const auth = [
      ['no Authorization header', () => undefined],
      ['the scheme alone', () => 'Bearer'],
      ['an empty token', () => 'Bearer '],
      ['an unknown well-formed token', () => `Bearer ${zeros}`],
      ['a token one character short', (p) => `Bearer ${p.token.slice(0, 63)}`],
      ['a token one character long', (p) => `Bearer ${p.token}0`],
      ['a token with trailing garbage', (p) => `Bearer ${p.token} x`],
      ['non-hex characters', () => `Bearer ${'g'.repeat(64)}`],
      ['the peer id instead of the token', (p) => `Bearer ${p.peer}`],
      ['Basic authentication', (p) => `Basic ${Buffer.from(`x:${p.token}`).toString('base64')}`],
      ['the token without a scheme', (p) => p.token],
      ['a 4000-character token', () => `Bearer ${'a'.repeat(4000)}`],
    ];
    const calls = {
      'GET /api/poll': ['GET', '/api/poll?after=0', undefined],
      'POST /api/send': ['POST', '/api/send', '{"type":"offer","data":1}'],
      'POST /api/leave': ['POST', '/api/leave', ''],
      'GET /api/turn': ['GET', '/api/turn', undefined],
    };
    for (const [call, [method, path, body]] of Object.entries(calls)) {
      for (const [name, header] of auth) {
        it(`${call} with ${name} is 401 unauthorized`, () =>
          refused(401, 'unauthorized', () => {
            const h = header(a);
            return srv.request(method, path, { body, headers: h === undefined ? {} : { authorization: h } });
          }));
      }
    }
    for (const [name, body] of [['an unknown token', { token: '0'.repeat(64) }], ['no token', {}],
      ['a numeric token', { token: 5 }], ['a null token', { token: null }],
      ['the peer id', { token: 'PEER' }]]) {
      it(`leave with ${name} in the body is 401 unauthorized`, () =>
        refused(401, 'unauthorized', () =>
          post('/api/leave', JSON.stringify(body.token === 'PEER' ? { token: a.peer } : body),
            { 'content-type': 'text/plain;charset=UTF-8' })));
    }
  });

  describe('oversized bodies', () => {
    it(`a join body of exactly ${LIMIT} bytes is accepted`, async () => {
      changed();
      const body = paddedJoin(freshPin(), LIMIT);
      assert.equal(Buffer.byteLength(body), LIMIT);
      const r = await post('/api/join', body);
      assert.equal(r.status, 200, r.text);
    });
    it(`a join body of ${LIMIT + 1} bytes is 413 too_large`, () =>
      refused(413, 'too_large', () => post('/api/join', paddedJoin(freshPin(), LIMIT + 1))));
    it(`a send body of exactly ${LIMIT} bytes is accepted and delivered intact`, async () => {
      changed();
      const body = paddedSend(LIMIT);
      const r = await srv.request('POST', '/api/send', { token: a.token, body });
      assert.equal(r.status, 202, r.text);
      const p = await pollAndSettle(`after=${r.json.seq - 1}`);
      assert.equal(p.status, 200);
      assert.equal(p.json.messages[0].seq, r.json.seq);
      assert.deepEqual(p.json.messages[0].data, JSON.parse(body).data);
    });
    it(`a send body of ${LIMIT + 1} bytes is 413 too_large`, () =>
      refused(413, 'too_large', () =>
        srv.request('POST', '/api/send', { token: a.token, body: paddedSend(LIMIT + 1) })));
    it('a 2 MiB body is 413 too_large', () =>
      refused(413, 'too_large', () => post('/api/join', paddedJoin(freshPin(), 2 * 1024 * 1024))));
    it(`a chunked body of ${LIMIT + 1} bytes (no Content-Length) is 413 too_large`, async () => {
      const body = Buffer.from(paddedJoin(freshPin(), LIMIT + 1));
      const head = 'POST /api/join HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n' +
        'Content-Type: application/json\r\nConnection: close\r\n\r\n';
      const data = Buffer.concat([Buffer.from(head), Buffer.from(`${body.length.toString(16)}\r\n`), body,
        Buffer.from('\r\n0\r\n\r\n')]);
      await refused(413, 'too_large', () => rawRequest(srv.port, data));
    });
    it('a chunked body within the limit is accepted', async () => {
      changed();
      const body = JSON.stringify({ pin: freshPin() });
      const data = 'POST /api/join HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n' +
        'Content-Type: application/json\r\n' +
        `Connection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const r = await rawRequest(srv.port, data);
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.json.peers, 1);
    });
  });

  describe('truncated requests', () => {
    it('a body shorter than its Content-Length, then the client hangs up, changes nothing', async () => {
      const before = srv.snapshot();
      const r = await rawRequest(srv.port,
        `POST /api/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pin":"${freshPin()}"}`,
        { halfClose: true });
      if (r.status) assertError(r, 400, ['invalid_body', 'bad_request', 'invalid_json']);
      assertUnchanged(before, srv.snapshot());
      assert.equal((await srv.request('GET', '/api/health')).status, 200);
    });
    it('a Content-Length that is not a number is a 400 JSON error', async () => {
      const before = srv.snapshot();
      const r = await rawRequest(srv.port,
        'POST /api/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1x\r\n' +
        'Connection: close\r\n\r\n{"pin":"123456"}');
      assertError(r, 400, ['bad_request', 'invalid_body']);
      assertUnchanged(before, srv.snapshot());
    });
    it('a malformed header line is a 400 JSON error', async () => {
      const r = await rawRequest(srv.port,
        'GET /api/health HTTP/1.1\r\nHost: x\r\nthis is not a header\r\nConnection: close\r\n\r\n');
      assertError(r, 400, 'bad_request');
    });
  });

  describe('huge headers', () => {
    it('a 100 KB header is a JSON error (431)', () =>
      refused(431, 'bad_request', () =>
        srv.request('GET', '/api/health', { headers: { 'x-big': 'a'.repeat(100000) } })));
    it('a 100 KB Authorization header is a JSON error (431)', () =>
      refused(431, 'bad_request', () =>
        srv.request('GET', '/api/poll', { headers: { authorization: `Bearer ${'a'.repeat(100000)}` } })));
    it('500 headers are a JSON error (431)', () => {
      const headers = {};
      for (let i = 0; i < 500; i++) headers[`x-h${i}`] = 'v'.repeat(40);
      return refused(431, 'bad_request', () => srv.request('POST', '/api/join',
        { headers, body: { pin: freshPin() } }));
    });
    it('a 100 KB query string is a JSON error', async () => {
      const before = srv.snapshot();
      const r = await srv.request('GET', `/api/poll?after=${'1'.repeat(100000)}`, { token: b.token });
      assertError(r, r.status, r.status === 400 ? ['invalid_after', 'bad_request'] : 'bad_request');
      assert.ok([400, 414, 431].includes(r.status), `status ${r.status}`);
      assertUnchanged(before, srv.snapshot());
    });
  });

  describe('methods and paths', () => {
    const wrong = [['GET', '/api/join'], ['PUT', '/api/join'], ['DELETE', '/api/join'],
      ['PATCH', '/api/join'], ['OPTIONS', '/api/join'], ['GET', '/api/send'], ['PUT', '/api/send'],
      ['POST', '/api/poll'], ['DELETE', '/api/poll'], ['GET', '/api/leave'], ['DELETE', '/api/leave'],
      ['POST', '/api/turn'], ['POST', '/api/health'], ['PUT', '/api/health']];
    for (const [method, path] of wrong) {
      it(`${method} ${path} is 405 method_not_allowed`, () =>
        refused(405, 'method_not_allowed', () => {
          const body = ['GET', 'OPTIONS', 'DELETE'].includes(method) ? undefined : `{"pin":"${freshPin()}"}`;
          return srv.request(method, path, { body, token: a.token });
        }));
    }
    const unknown = [['GET', '/api/'], ['GET', '/api/nope'], ['POST', '/api/nope'], ['GET', '/api/join/x'],
      ['POST', '/api/join/'], ['POST', '/api/JOIN'], ['GET', '/api/health.json'], ['GET', '/api/error'],
      ['POST', '/api/error'], ['GET', '/api/poll%3Fafter=0']];
    for (const [method, path] of unknown) {
      it(`${method} ${path} is 404 not_found`, () =>
        refused(404, 'not_found', () =>
          srv.request(method, path, { body: method === 'POST' ? `{"pin":"${freshPin()}"}` : undefined })));
    }
    it('a NUL byte in the path is a 400 or 404 JSON error', async () => {
      const r = await srv.request('GET', '/api/%00');
      assertError(r, r.status, r.status === 400 ? 'bad_request' : 'not_found');
      assert.ok([400, 404].includes(r.status), `status ${r.status}`);
    });
  });
});
