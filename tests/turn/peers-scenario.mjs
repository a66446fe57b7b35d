// peers-scenario.mjs: run by peers.test.mjs inside a network namespace the
// test made (`ip netns exec NS node peers-scenario.mjs JSON`), beside the
// coturn it started there. Two allocations on one coturn try to reach each
// other's relayed address, one tries a UDP echo peer (echoIp) of this
// script, and CreatePermission is tried towards each of `probe`. Prints one
// JSON object with what happened; the test asserts on it.
//
// Argument (JSON): {port, username, password, echoIp?, probe: [ip...],
// peers: [ip...] (addresses send() may reach: all inside the namespace)}.
import dgram from 'node:dgram';

import { connect } from './stun.mjs';

const cfg = JSON.parse(process.argv[2]);
const START_MS = 15000;

/** An allocation on coturn at 127.0.0.1:cfg.port, retried until coturn is up (bounded). */
async function allocation() {
  const until = Date.now() + START_MS;
  for (;;) {
    const c = await connect({ port: cfg.port, timeoutMs: 1000, peers: cfg.peers });
    try {
      const r = await c.allocate({ username: cfg.username, password: cfg.password });
      if (r.ok) return { c, relayed: r.relayed };
      throw new Error(`allocate: ${r.code} ${r.reason}`);
    } catch (e) {
      c.close();
      if (Date.now() > until) throw new Error(`no allocation within ${START_MS} ms: ${e.message}`);
    }
  }
}

const answer = (r) => ({ ok: r.ok, code: r.code, reason: r.reason });

/** from sends `text` to `to` (a relayed address or the echo peer) and to answers what it received. */
async function relay(from, toAddr, receiver, text) {
  from.c.send(toAddr.ip, toAddr.port, text);
  try {
    const got = await receiver.receive(3000);
    return { from: got.from, data: got.data.toString('utf8') };
  } catch (e) {
    return { error: e.message };
  }
}

const out = {};
let echo;
const clients = [];
try {
  if (cfg.echoIp) {
    echo = dgram.createSocket('udp4');
    echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
    await new Promise((resolve) => echo.bind(0, cfg.echoIp, resolve));
  }
  const a = await allocation();
  clients.push(a);
  const b = await allocation();
  clients.push(b);
  out.relayed = [a.relayed, b.relayed];
  out.permAB = answer(await a.c.createPermission(b.relayed.ip));
  out.permBA = answer(await b.c.createPermission(a.relayed.ip));
  if (out.permAB.ok && out.permBA.ok) {
    out.aToB = await relay(a, b.relayed, b.c, 'a to b');
    out.bToA = await relay(b, a.relayed, a.c, 'b to a');
  }
  if (echo) {
    const peer = { ip: cfg.echoIp, port: echo.address().port };
    out.permEcho = answer(await a.c.createPermission(peer.ip));
    if (out.permEcho.ok) out.echo = await relay(a, peer, a.c, 'echo');
  }
  out.probe = {};
  for (const ip of cfg.probe ?? []) out.probe[ip] = (await a.c.createPermission(ip)).code;
} catch (e) {
  out.error = e.message;
} finally {
  for (const { c } of clients) {
    await c.refresh(0).catch(() => {});
    c.close();
  }
  echo?.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
