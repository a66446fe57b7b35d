// delay.test.mjs: build/lab/delay (tests/lab/delay.c), the lab's latency,
// on a real NFQUEUE queue: two namespaces joined by a veth pair, a UDP echo
// in one (echo.mjs), round trips measured from the other, without and with
// the program holding the echo's incoming packets. Bad arguments are refused
// with a clear message. As root (make netlab runs it); namespaces are
// tdPID-a/-b, removed afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TOP } from '../browser/harness.mjs';

const BIN = join(TOP, 'build/lab/delay');
const ECHO = join(TOP, 'tests/lab/echo.mjs');
const NS = { a: `td${process.pid}-a`, b: `td${process.pid}-b` };
const ADDR = { a: '192.0.2.1', b: '192.0.2.2' };
const QUEUE = '3';
const root = process.getuid() === 0;
const started = [];

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const inB = (...args) => execFileSync('ip', ['netns', 'exec', NS.b, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

/** Start `args` in namespace ns; resolves with the process once a stdout line matches `ready` (within 5 s). */
function startIn(ns, args, ready) {
  const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(p);
  let out = '';
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  return new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`${args[0]} not ready within 5 s: ${err}`)), 5000);
    p.stdout.on('data', (d) => {
      out += d;
      if (ready.test(out)) { clearTimeout(t); ok(p); }
    });
    p.on('exit', (code) => { clearTimeout(t); fail(new Error(`${args[0]} exited ${code}: ${err}`)); });
  });
}

function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const gone = new Promise((ok) => p.once('exit', ok));
  p.kill('SIGTERM');
  return gone;
}

/** n round trips to the echo from namespace a: { rtts (ms), lost, burstOrder }. */
function measure(n) {
  const r = spawnSync('ip', ['netns', 'exec', NS.a, process.execPath, ECHO, 'measure', ADDR.b, '7', String(n)],
    { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** With `args`, the echo's incoming UDP goes through the queue, held by delay. */
async function withDelay(args, body) {
  inB('iptables-nft', '-A', 'INPUT', '-p', 'udp', '--dport', '7', '-j', 'NFQUEUE', '--queue-num', QUEUE);
  const d = await startIn(NS.b, [BIN, '-q', QUEUE, ...args], /ready/);
  try {
    return await body();
  } finally {
    await stop(d);
    inB('iptables-nft', '-F', 'INPUT');
  }
}

function teardown() {
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
}

before(async () => {
  if (!root) return;
  process.on('exit', teardown);
  for (const ns of Object.values(NS)) { ip('netns', 'add', ns); ip('-n', ns, 'link', 'set', 'lo', 'up'); }
  ip('link', 'add', 'td-a', 'netns', NS.a, 'type', 'veth', 'peer', 'name', 'td-b', 'netns', NS.b);
  ip('-n', NS.a, 'addr', 'add', `${ADDR.a}/24`, 'dev', 'td-a');
  ip('-n', NS.b, 'addr', 'add', `${ADDR.b}/24`, 'dev', 'td-b');
  ip('-n', NS.a, 'link', 'set', 'td-a', 'up');
  ip('-n', NS.b, 'link', 'set', 'td-b', 'up');
  await startIn(NS.b, [process.execPath, ECHO, 'serve', ADDR.b, '7'], /ready/);
});
after(teardown);

test('without the queue a round trip takes a few milliseconds', { skip: !root && 'needs root' }, () => {
  const { rtts, lost } = measure(10);
  assert.equal(lost, 0);
  assert.ok(median(rtts) < 30, `median ${median(rtts)} ms`);
});

test('-d 100 holds each packet 100 ms: every round trip takes 100 ms or a little more', { skip: !root && 'needs root' }, async () => {
  const { rtts, lost, burstOrder } = await withDelay(['-d', '100'], () => measure(10));
  assert.equal(lost, 0);
  assert.ok(Math.min(...rtts) >= 99, `fastest ${Math.min(...rtts)} ms`);
  assert.ok(median(rtts) < 250, `median ${median(rtts)} ms (generous: a loaded machine)`);
  assert.deepEqual(burstOrder, [...Array(10).keys()]);
});

test('-j 40 spreads the delay over 60..140 ms without reordering a burst', { skip: !root && 'needs root' }, async () => {
  const { rtts, lost, burstOrder } = await withDelay(['-d', '100', '-j', '40'], () => measure(20));
  assert.equal(lost, 0);
  assert.ok(Math.min(...rtts) >= 59, `fastest ${Math.min(...rtts)} ms`);
  assert.ok(Math.max(...rtts) - Math.min(...rtts) > 10, `no spread: ${rtts.map(Math.round).join(' ')}`);
  assert.deepEqual(burstOrder, [...Array(20).keys()]);
});

test('a stopped delay gives back what it held, and the echo answers at once again', { skip: !root && 'needs root' }, async () => {
  await withDelay(['-d', '100'], async () => {});
  assert.ok(median(measure(5).rtts) < 30);
});

test('a queue already held by another delay: exit 1 naming the queue', { skip: !root && 'needs root' }, async () => {
  await withDelay(['-d', '10'], async () => {
    const r = spawnSync('ip', ['netns', 'exec', NS.b, BIN, '-q', QUEUE, '-d', '10'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /delay: cannot bind queue 3/);
  });
});

const refusals = [
  [[], /-q and -d are required/],
  [['-q', '0'], /-q and -d are required/],
  [['-q', 'x', '-d', '1'], /-q wants a whole number from 0 to 65535, got: x/],
  [['-q', '70000', '-d', '1'], /-q wants a whole number from 0 to 65535, got: 70000/],
  [['-q', '0', '-d', '-5'], /-d wants a whole number from 0 to 10000, got: -5/],
  [['-q', '0', '-d', '10ms'], /-d wants a whole number from 0 to 10000, got: 10ms/],
  [['-q', '0', '-d', '10', '-j', '20'], /the jitter \(-j\) must not exceed the delay \(-d\)/],
  [['-q', '0', '-d'], /this option needs a value: -d/],
  [['-q', '0', '-d', '1', '-z'], /unknown option: -z/],
  [['-q', '0', '-d', '1', 'extra'], /unexpected argument: extra/],
];
for (const [args, message] of refusals) {
  test(`refused with exit 2 and a message: delay ${args.join(' ')}`, () => {
    const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: delay -q QUEUE -d MS/);
    assert.equal(r.stdout, '');
  });
}
