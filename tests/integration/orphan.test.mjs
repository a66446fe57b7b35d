// orphan.test.mjs: a tuturu-api whose lighttpd is already gone when it
// starts does not linger. lighttpd in a graceful shutdown (Ctrl-C) can
// still respawn its backend and exit at once; the kernel's parent-death
// signal covers only a parent that dies after the child asked for it, so
// such a process used to sit in sigwait for good, holding the database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BIN, alive, startServer, waitFor } from './harness.mjs';

describe('a tuturu-api started by a parent that is already gone', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv?.stop());

  it('exits by itself instead of waiting for a signal that never comes', async () => {
    // fd 0 a listening unix socket, as lighttpd gives it (passed as fd 3:
    // sh gives a background job /dev/null for stdin). sh starts a
    // subshell in the background and exits at once; the subshell waits
    // until sh is gone and then becomes tuturu-api (exec keeps its pid): a
    // parent gone before tuturu-api could ask for its death signal.
    const sockPath = path.join(srv.state, 'run', 'orphan.sock');
    const server = net.createServer();
    await new Promise((ok, fail) => { server.once('error', fail); server.listen(sockPath, ok); });
    const errFile = path.join(srv.state, 'orphan.err');
    const err = fs.openSync(errFile, 'w');
    let pid;
    try {
      const sh = spawn('sh', ['-c', 'exec 3<&0; (while kill -0 $$ 2>/dev/null; do sleep 0.05; done; exec "$0" -c "$1" <&3 3<&-) & echo $!', BIN, path.join(srv.state, 'tuturu.conf')],
        { stdio: [server._handle.fd, 'pipe', err] });
      let out = '';
      sh.stdout.on('data', (d) => { out += d; });
      await new Promise((ok) => sh.once('exit', ok));
      pid = Number(out.trim());
      assert.ok(pid > 0, `the orphan's pid: ${out}`);
      await waitFor(() => !alive(pid), 15000, `the orphaned tuturu-api (pid ${pid}) to exit`);
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      fs.closeSync(err);
      server.close();
    }
    const log = fs.readFileSync(errFile, 'utf8');
    assert.match(log, /ended before this process started: exiting/);
    assert.doesNotMatch(log, /ERROR: AddressSanitizer|runtime error/);
  });
});
