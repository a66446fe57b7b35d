// net.mjs: the lab's networks: four network namespaces (server, router, two
// clients) joined by veth pairs, documentation addresses only, and the
// router's nftables ruleset for a profile. Nothing here reaches the host's
// own network: the namespaces have no link to it.
//
//   client 1  PREFIX-c1  eth0 192.0.2.10/24     --  c1  192.0.2.1/24     router
//   client 2  PREFIX-c2  eth0 198.51.100.10/24  --  c2  198.51.100.1/24  PREFIX-rt
//   server    PREFIX-srv eth0 203.0.113.10/24   --  srv 203.0.113.1/24   (forwards)
//
// The server's side (203.0.113.0/24) plays the internet; each client's
// default route is the router. Names are PREFIX-... with a prefix per run
// (tests/lab/run picks it), so a run removes only what it made.
//
// All commands go through execFileSync with argument lists: no shell, and no
// value is ever spliced into a command line.

import { execFileSync, spawnSync } from 'node:child_process';

export const ADDR = {
  server: '203.0.113.10', server2: '203.0.113.11', routerSrv: '203.0.113.1',
  c1: '192.0.2.10', routerC1: '192.0.2.1',
  c2: '198.51.100.10', routerC2: '198.51.100.1',
};
/** The ranges coturn may relay to in the lab (TURN_ALLOWED_PEERS). */
export const LAB_RANGES = '192.0.2.0/24,198.51.100.0/24,203.0.113.0/24';

function run(cmd, args, input) {
  return execFileSync(cmd, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], encoding: 'utf8' });
}

const ip = (...args) => run('ip', args);
const inNs = (ns, ...args) => run('ip', ['netns', 'exec', ns, ...args]);

export function namespaces(prefix) {
  return { srv: `${prefix}-srv`, rt: `${prefix}-rt`, c1: `${prefix}-c1`, c2: `${prefix}-c2` };
}

/** Every namespace of this machine whose name starts with `${prefix}-`. */
export function existing(prefix) {
  return ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`${prefix}-`));
}

/** A veth pair: `a` in namespace nsA, `b` in nsB, each with its address, up. */
function link(nsA, a, addrA, nsB, b, addrB) {
  ip('link', 'add', 'lab-tmp-a', 'netns', nsA, 'type', 'veth', 'peer', 'name', 'lab-tmp-b', 'netns', nsB);
  ip('-n', nsA, 'link', 'set', 'lab-tmp-a', 'name', a);
  ip('-n', nsB, 'link', 'set', 'lab-tmp-b', 'name', b);
  ip('-n', nsA, 'addr', 'add', addrA, 'dev', a);
  ip('-n', nsB, 'addr', 'add', addrB, 'dev', b);
  ip('-n', nsA, 'link', 'set', a, 'up');
  ip('-n', nsB, 'link', 'set', b, 'up');
}

/**
 * Make the four namespaces and their links, routes and forwarding, and the
 * server's extra addresses (serverAddrs). Throws (with ip's message) if any
 * step fails; the caller tears down what exists.
 */
export function up(prefix, serverAddrs = []) {
  const ns = namespaces(prefix);
  for (const n of Object.values(ns)) {
    ip('netns', 'add', n);
    ip('-n', n, 'link', 'set', 'lo', 'up');
  }
  link(ns.srv, 'eth0', `${ADDR.server}/24`, ns.rt, 'srv', `${ADDR.routerSrv}/24`);
  link(ns.c1, 'eth0', `${ADDR.c1}/24`, ns.rt, 'c1', `${ADDR.routerC1}/24`);
  link(ns.c2, 'eth0', `${ADDR.c2}/24`, ns.rt, 'c2', `${ADDR.routerC2}/24`);
  for (const a of serverAddrs) ip('-n', ns.srv, 'addr', 'add', `${a}/24`, 'dev', 'eth0');
  ip('-n', ns.srv, 'route', 'add', 'default', 'via', ADDR.routerSrv);
  ip('-n', ns.c1, 'route', 'add', 'default', 'via', ADDR.routerC1);
  ip('-n', ns.c2, 'route', 'add', 'default', 'via', ADDR.routerC2);
  inNs(ns.rt, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  return ns;
}

/**
 * The router's ruleset for a profile: its forward rules in order (nft rule
 * text, first match wins, then accept), and masquerade (symmetric NAT:
 * fully-random ports) of the clients' traffic to the internet side.
 */
export function ruleset(profile) {
  const lines = ['table inet lab {', '  chain forward_lab {',
    '    type filter hook forward priority filter; policy accept;',
    ...profile.forward.map((r) => `    ${r}`), '  }', '}'];
  if (profile.masquerade) {
    lines.push('table ip labnat {', '  chain post {', '    type nat hook postrouting priority srcnat;',
      '    oifname "srv" masquerade fully-random', '  }', '}');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Load the profile's ruleset into the router (nft -f, atomically). Rules on
 * `ct ... bytes` need conntrack's byte counters, off by default: turned on
 * in the router's namespace (the sysctl exists once nft loaded conntrack).
 */
export function applyRules(ns, profile) {
  run('ip', ['netns', 'exec', ns.rt, 'nft', '-f', '-'], ruleset(profile));
  if (profile.forward.some((r) => / ct (original|reply) bytes /.test(` ${r} `))) {
    inNs(ns.rt, 'sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1');
  }
}

/**
 * The router's rules that count (a `counter` in profiles.mjs) and have
 * counted something: what the profile's network actually did.
 */
export function counted(ns) {
  const r = spawnSync('ip', ['netns', 'exec', ns.rt, 'nft', 'list', 'table', 'inet', 'lab'], { encoding: 'utf8' });
  return (r.stdout || '').split('\n').map((l) => l.trim()).filter((l) => /counter packets [1-9]/.test(l));
}

/**
 * Latency: every forwarded packet to NFQUEUE queue `queue` (the xtables
 * target through iptables-nft: nft's own `queue` is not in this kernel),
 * where build/lab/delay holds it. Without a program on the queue, the
 * kernel drops what it queues, so a crashed delay shows as a dead network.
 */
export function queueForwarded(ns, queue) {
  inNs(ns.rt, 'iptables-nft', '-A', 'FORWARD', '-j', 'NFQUEUE', '--queue-num', String(queue));
}

/**
 * An outage: on, the router drops everything it forwards (a table of its
 * own, before the profile's rules); off, that table goes and the profile's
 * rules apply again. Connections tracked before survive, as they would.
 */
export function outage(ns, on) {
  const text = on
    ? 'table inet lab_outage {\n  chain forward { type filter hook forward priority filter - 10; policy drop; }\n}\n'
    : 'delete table inet lab_outage\n';
  run('ip', ['netns', 'exec', ns.rt, 'nft', '-f', '-'], text);
}

/**
 * Kill every process left in these namespaces (ours: the lab started them
 * there) and delete them. Never throws; returns what could not be removed.
 */
export function down(prefix) {
  for (const n of existing(prefix)) {
    const pids = spawnSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).stdout || '';
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone already */ }
    }
    spawnSync('ip', ['netns', 'del', n]);
  }
  return existing(prefix);
}
