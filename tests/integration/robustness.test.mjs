// robustness.test.mjs: the FastCGI process killed or stopped mid-call, and
// many pairs at once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { alive, joinPair, pollUntil, startHeldPoll, startServer, waitFor, within } from './harness.mjs';

/** An answer is either a poll answer or a JSON error; never HTML, never a hang. */
function assertPollOrJsonError(r) {
  if (r.status === 200) {
    assert.ok(Array.isArray(r.json?.messages), r.text);
  } else {
    assert.match(r.headers.get('content-type') || '', /^application\/json/, `${r.status} ${r.text}`);
    assert.deepEqual(Object.keys(r.json ?? {}).sort(), ['error', 'message'], `${r.status} ${r.text}`);
  }
}

describe('tuturu-api killed or stopped (poll_timeout 30)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '30', TUTURU_PEER_GRACE: '62' } });
  });
  after(() => srv?.stop());

  it('tuturu-api listens only on a unix socket in a directory closed to other users, on no TCP port', () => {
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    const inode = (fd) => /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${api}/fd/${fd}`))?.[1];
    const mine = new Set(fs.readdirSync(`/proc/${api}/fd`).map((fd) => {
      try {
        return inode(fd);
      } catch {
        return undefined; // closed meanwhile
      }
    }).filter(Boolean));
    const listening = inode(0);
    assert.ok(listening, 'fd 0 is not a socket');
    // /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path
    const unix = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)
      .map((l) => l.trim().split(/\s+/)).find((f) => f[6] === listening);
    assert.ok(unix, `fd 0 (socket ${listening}) is not a unix socket`);
    const sock = unix[7];
    assert.ok(sock && sock.startsWith(`${srv.state}/`), `socket path ${sock}`);
    const dirs = [];
    for (let dir = path.dirname(sock); dir.startsWith(srv.state); dir = path.dirname(dir)) {
      dirs.push(`${dir} ${(fs.statSync(dir).mode & 0o777).toString(8)}`);
    }
    assert.ok(dirs.some((d) => /[0-7]00$/.test(d)),
      `no directory above the socket is closed to group and others: ${dirs.join(', ')}`);
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6'].filter(fs.existsSync)) {
      const text = fs.readFileSync(table, 'utf8'); // can be long: look for our inodes only
      for (const inode of mine) {
        for (let i = text.indexOf(` ${inode} `); i >= 0; i = text.indexOf(` ${inode} `, i + 1)) {
          const line = text.slice(text.lastIndexOf('\n', i) + 1, text.indexOf('\n', i));
          // sl local_address rem_address st ... inode (field 9); st 0A is LISTEN
          const f = line.trim().split(/\s+/);
          assert.ok(!(f[3] === '0A' && f[9] === inode), `tuturu-api listens on TCP: ${line}`);
        }
      }
    }
  });

  it('SIGKILL mid-call loses no stored message: re-polling with the cursor gets each one exactly once', async () => {
    const { a, b } = await joinPair(srv);
    const joined = await pollUntil(srv, a.token, 'peer-joined');
    const sent = [];
    const send = async (i) => {
      const r = await srv.send(a.token, 'msg', { i });
      assert.equal(r.status, 202, r.text);
      sent.push(r.json.seq);
    };
    for (let i = 0; i < 5; i++) await send(i);
    // b reads the first five and moves its cursor
    const seen = [];
    let cursor = 0;
    const take = (r) => {
      assert.equal(r.status, 200, r.text);
      for (const m of r.json.messages) {
        assert.ok(m.seq > cursor, `seq ${m.seq} after cursor ${cursor}`);
        seen.push(m);
        cursor = m.seq;
      }
    };
    take(await srv.poll(b.token, cursor));
    for (let i = 5; i < 10; i++) await send(i);

    // a has a poll held in the process when it dies
    const held = await startHeldPoll(srv, a, joined.cursor);
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    process.kill(api, 'SIGKILL');
    await waitFor(() => !alive(api), 5000, `tuturu-api ${api} to die`);
    assertPollOrJsonError(await within(held.answer, 10000, 'the poll held during SIGKILL'));

    await srv.waitHealthy(10000);
    const restarted = srv.apiPid();
    assert.ok(restarted && restarted !== api, `tuturu-api was not restarted (pid ${restarted})`);
    take(await srv.poll(b.token, cursor));
    for (let i = 10; i < 13; i++) await send(i);
    take(await srv.poll(b.token, cursor));

    assert.deepEqual(seen.map((m) => m.seq), sent, 'every stored message, in order, once');
    assert.deepEqual(seen.map((m) => m.data.i), [...Array(13).keys()]);
    assert.equal((await srv.turn(a.token)).status, 200, "a's token works after the restart");
  });

  it('SIGTERM answers a held poll with {"messages":[]} promptly, and the process exits', async () => {
    const { b } = await joinPair(srv);
    const held = await startHeldPoll(srv, b, 0);
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    process.kill(api, 'SIGTERM');
    const r = await within(held.answer, 5000, 'the poll held during SIGTERM');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { messages: [] });
    await waitFor(() => !alive(api), 10000, `tuturu-api ${api} to exit on SIGTERM`);
    await srv.waitHealthy(10000); // lighttpd has started the next one
  });

  it('after SIGTERM lighttpd starts a new tuturu-api that serves the same rooms', async () => {
    const { a, b } = await joinPair(srv);
    const api = srv.apiPid();
    assert.ok(api, 'no tuturu-api process');
    process.kill(api, 'SIGTERM');
    await waitFor(() => !alive(api), 10000, `tuturu-api ${api} to exit on SIGTERM`);
    await srv.waitHealthy(10000);
    const s = await srv.send(a.token, 'offer', 1);
    assert.equal(s.status, 202, s.text);
    const r = await srv.poll(b.token, 0);
    assert.deepEqual(r.json.messages.map((m) => m.seq), [s.json.seq]);
  });
});

describe('stopping lighttpd', () => {
  it('with polls held, SIGTERM to lighttpd stops tuturu-api too (no orphan)', async () => {
    const srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '30', TUTURU_PEER_GRACE: '62' } });
    try {
      const { b } = await joinPair(srv);
      const held = await startHeldPoll(srv, b, 0);
      const api = srv.apiPid();
      assert.ok(api, 'no tuturu-api process');
      await srv.stop(); // asserts that lighttpd and tuturu-api are both gone
      assert.equal(alive(api), false);
      // the held poll ends one way or another: no hang
      await within(held.answer.catch(() => null), 5000, 'the poll held while stopping');
    } finally {
      await srv.stop();
    }
  });
});

describe('concurrency: 50 pairs at once', () => {
  const PAIRS = 50;
  const N = 10;
  let srv;
  before(async () => {
    srv = await startServer({ env: { TUTURU_POLL_TIMEOUT: '5', TUTURU_PEER_GRACE: '20' } });
  });
  after(() => srv?.stop());

  it(`each pair exchanges ${N} messages both ways: no loss, no duplicate, no error`, async () => {
    const problems = [];
    const check = (what, r, want) => {
      if (r.status !== want) problems.push(`${what}: ${r.status} ${r.text.slice(0, 200)}`);
      if (/locked/i.test(r.text)) problems.push(`${what}: ${r.text.slice(0, 200)}`);
      return r.status === want;
    };
    const pairs = await Promise.all([...Array(PAIRS)].map(() => joinPair(srv)));

    async function sender(from) {
      for (let i = 0; i < N; i++) {
        check(`send ${from.peer} #${i}`, await srv.send(from.token, 'msg', { from: from.peer, i }), 202);
      }
    }
    async function receiver(me, other) {
      const got = [];
      const seqs = new Set();
      let cursor = 0;
      while (got.length < N) {
        const r = await srv.poll(me.token, cursor);
        if (!check(`poll ${me.peer}`, r, 200)) return got;
        for (const m of r.json.messages) {
          if (seqs.has(m.seq)) problems.push(`${me.peer}: seq ${m.seq} twice`);
          if (m.seq <= cursor) problems.push(`${me.peer}: seq ${m.seq} not after cursor ${cursor}`);
          seqs.add(m.seq);
          cursor = Math.max(cursor, m.seq);
          if (m.type === 'msg') got.push(m.data);
        }
      }
      const want = [...Array(N).keys()].map((i) => ({ from: other.peer, i }));
      try {
        assert.deepEqual(got, want);
      } catch {
        problems.push(`${me.peer} got ${JSON.stringify(got)}`);
      }
      return got;
    }

    await within(Promise.all(pairs.flatMap(({ a, b }) =>
      [sender(a), sender(b), receiver(a, b), receiver(b, a)])), 60000, 'the exchange');
    assert.deepEqual(problems, []);
    const logs = [srv.serveLog, srv.errorLog].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    assert.ok(!/database is locked|SQLITE_BUSY/i.test(logs), 'the logs mention a locked database');
  });
});
