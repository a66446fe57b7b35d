// config.test.mjs: a bad setting is a clear error at start, not a 500 later.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { launchServer, request, within } from './harness.mjs';

/**
 * Launch with env(state) and expect serve.sh/lighttpd to give up within a
 * bound, with a log line matching `says`.
 */
async function refusesToStart(env, says) {
  const srv = await launchServer({ env });
  try {
    const status = await within(srv.exited, 15000, 'the server to refuse to start').catch(async (e) => {
      const health = await request(srv.url, 'GET', '/api/health').then((r) => `${r.status} ${r.text.trim()}`,
        (err) => err.message);
      throw new Error(`${e.message}: lighttpd kept running, GET /api/health answers ${health}\n${srv.logs()}`);
    });
    assert.notEqual(status.code, 0, `exit status ${JSON.stringify(status)}`);
    const logs = [srv.serveLog, srv.errorLog].filter(fs.existsSync).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    assert.match(logs, says);
  } finally {
    await srv.stop();
  }
}

describe('settings checked at start', { concurrency: true }, () => {
  it('peer_grace below poll_timeout + 2 stops the server at start, naming the setting', () =>
    refusesToStart({ TUTURU_POLL_TIMEOUT: '5', TUTURU_PEER_GRACE: '6' }, /peer_grace/));

  it('a poll_timeout that is not a number stops the server at start, naming the setting', () =>
    refusesToStart({ TUTURU_POLL_TIMEOUT: 'abc' }, /poll_timeout/));

  it('a missing secret file stops the server at start, naming it', () =>
    refusesToStart({ TUTURU_SECRET_FILE: '/nonexistent/tuturu-secret' }, /secret/));

  it('a database that cannot be created stops the server at start, naming it', () =>
    refusesToStart({ TUTURU_DB: path.join('/nonexistent', 'tuturu-it', 'tuturu.db') }, /\/nonexistent\/tuturu-it\/tuturu\.db/));
});
