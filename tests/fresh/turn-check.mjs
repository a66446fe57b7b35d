// The installed coturn, from outside the fresh root: for each turn:/turns:
// URL of a join answer, an allocation with the answer's credentials.
// Prints "ok - ..." / "not ok - ..." lines; exit status 1 if any failed.
//
//   node tests/fresh/turn-check.mjs build/fresh/join.json
//
// The local install's TLS certificate is self-signed: this checks that
// coturn speaks TLS with our configuration, not who signed it.
import { readFileSync } from 'node:fs';
import { connect } from '../turn/stun.mjs';

const join = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const turn = (join.ice_servers || []).find((s) => s.username);
if (!turn) {
  console.log('not ok - the join answer has a TURN entry with credentials');
  process.exit(1);
}

let failed = 0;
for (const url of turn.urls) {
  const m = /^(turns?):([^:?]+):(\d+)\?transport=(udp|tcp)$/.exec(url);
  if (!m) continue;
  const transport = m[1] === 'turns' ? 'tls' : m[4];
  const what = `TURN allocation over ${transport} at ${m[2]}:${m[3]} with the join's credentials`;
  let c;
  try {
    c = await connect({ host: m[2], port: Number(m[3]), transport,
      tlsOptions: { rejectUnauthorized: false } });
    const r = await c.allocate({ username: turn.username, password: turn.credential });
    if (r.ok && r.relayed) {
      console.log(`ok - ${what}: relayed ${r.relayed.ip}:${r.relayed.port}`);
    } else {
      failed++;
      console.log(`not ok - ${what}: ${r.code} ${r.reason}`);
    }
  } catch (e) {
    failed++;
    console.log(`not ok - ${what}: ${e.message}`);
  } finally {
    c?.close();
  }
}
process.exit(failed ? 1 : 0);
