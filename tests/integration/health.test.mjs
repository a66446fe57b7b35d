// health.test.mjs: /api/health tells whether the database can be written
// (issue 10.3). The database lives on a small tmpfs that the test fills up
// and frees again; mounting needs root, so the suite is skipped without it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { freshPin, joinPair, sql, startServer, waitFor } from './harness.mjs';

const root = process.getuid?.() === 0;

/** Write zeros into file until the file system is full (ENOSPC). */
function fill(file) {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(16384);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

describe('health while the database cannot be written', { skip: root ? false : 'needs root (mounts a tmpfs)' }, () => {
  let srv;
  let mnt;
  let db;
  before(async () => {
    mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'tuturu-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=700', 'tuturu-test', mnt]);
    db = path.join(mnt, 'tuturu.db');
    srv = await startServer({ env: { TUTURU_DB: db } });
  });
  after(async () => {
    try {
      await srv?.stop();
    } finally {
      if (mnt) {
        execFileSync('umount', [mnt]);
        fs.rmdirSync(mnt);
      }
    }
  });

  it('joins get 503, health says 503 with the reason; once space returns both recover and nothing is lost', async () => {
    const { a, b } = await joinPair(srv);
    const sent = await srv.send(a.token, 'kept', { n: 1 });
    assert.equal(sent.status, 202, sent.text);
    const healthy = await srv.request('GET', '/api/health');
    assert.deepEqual([healthy.status, healthy.json?.status], [200, 'ok'], healthy.text);

    const filler = path.join(mnt, 'filler');
    fill(filler);
    // The WAL may still have room for a few commits; then every write fails.
    let failedInARow = 0;
    for (let i = 0; i < 200 && failedInARow < 6; i++) {
      const r = await srv.join(freshPin());
      assert.ok([200, 503].includes(r.status), `${r.status} ${r.text}`);
      failedInARow = r.status === 503 ? failedInARow + 1 : 0;
    }
    assert.equal(failedInARow, 6, 'joins kept working on a full file system');

    const sick = await srv.request('GET', '/api/health');
    assert.equal(sick.status, 503, `health on a full disk: ${sick.status} ${sick.text}`);
    assert.match(sick.headers.get('content-type') || '', /^application\/json/);
    assert.equal(sick.json.status, 'error', sick.text);
    assert.equal(sick.json.db, 'unwritable', sick.text);
    assert.match(sick.json.reason, /full/i, sick.text);
    assert.match(sick.json.last_write_error?.message ?? '', /full/i, sick.text);
    assert.ok(Number.isInteger(sick.json.last_write_error?.at), sick.text);

    fs.unlinkSync(filler);
    const well = await waitFor(async () => {
      const r = await srv.request('GET', '/api/health');
      return r.status === 200 && r;
    }, 10000, 'health to answer 200 once space is back (5 s after the last failed write)');
    assert.equal(well.json.status, 'ok', well.text);
    const j = await srv.join(freshPin());
    assert.equal(j.status, 200, j.text);

    // Nothing stored before the disk filled is lost.
    const p = await srv.poll(b.token, 0);
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.messages.map((m) => [m.type, m.data]), [['kept', { n: 1 }]]);
    assert.equal((await srv.turn(a.token)).status, 200, "a's token still works");
    await srv.stop();
    assert.deepEqual(sql(db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  });
});
