// The call survives trouble: a reload mid-call, and polls blocked for 10 s.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  T, startServer, launchBrowser, waitState, waitRemoteVideoPlaying, connectedPair, withPages,
} from './harness.mjs';

const TEST_MS = 150000;
const BLOCK_MS = 10000;
let srv;
let browser;

before(async () => {
  // peer_grace is longer than the 10 s block plus a backoff and a held poll,
  // so the blocked side is not dropped as gone.
  srv = await startServer({ POLL_TIMEOUT: 5, PEER_GRACE: 30, JOIN_LIMIT: 1000 });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});


const remoteStreamId = (page) => page.evaluate(() => {
  const s = document.querySelector('#remote-video').srcObject;
  return s ? s.id : null;
});

test('one side reloads mid-call and the call comes back by itself', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const { a, b } = await connectedPair(browser, srv.base, { pages });
  await Promise.all([waitRemoteVideoPlaying(a), waitRemoteVideoPlaying(b)]);
  const oldStream = await remoteStreamId(b);
  const oldToken = await a.evaluate(() => window.tuturu.state.session.token);

  await a.reload();
  // no typing: the tab remembers its call and rejoins
  await Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
  await b.waitForFunction((id) => {
    const s = document.querySelector('#remote-video').srcObject;
    return s && s.id !== id;
  }, oldStream, { timeout: T.call });
  await Promise.all([waitRemoteVideoPlaying(a, 1), waitRemoteVideoPlaying(b, 1)]);
  const newToken = await a.evaluate(() => window.tuturu.state.session.token);
  assert.notEqual(newToken, oldToken);
  // the old session is gone from the server (the beacon, or the leave on rejoin)
  const r = await fetch(`${srv.base}/api/poll?after=0`, { headers: { Authorization: `Bearer ${oldToken}` } });
  assert.equal(r.status, 401);
}));

test('polls blocked for 10 s on one side: signaling recovers and nothing is lost', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const sent = []; // B's messages to A: [seq, type]
  const received = []; // what A's polls delivered: [seq, type]
  const watchSends = (page) => page.on('response', async (res) => {
    if (!res.url().includes('/api/send') || res.status() !== 202) return;
    // (a batch: {"messages":[...]} answered {"seqs":[...]}, one seq each)
    const { messages } = JSON.parse(res.request().postData());
    const { seqs } = await res.json();
    messages.forEach((m, i) => sent.push([seqs[i], m.type]));
  });
  const watchPolls = (page) => page.on('response', async (res) => {
    if (!res.url().includes('/api/poll') || res.status() !== 200) return;
    for (const m of (await res.json()).messages) received.push([m.seq, m.type]);
  });
  // A's polls go through a route from the start: turning interception on
  // while a poll is in flight can lose that poll's body to the watcher.
  let blocking = false;
  let blockedFrom = 0;
  let blocked = 0;
  const routePolls = (page) => page.route('**/api/poll?*', (route) => {
    if (blocking && !blockedFrom) blockedFrom = Date.now();
    if (blocking && Date.now() - blockedFrom < BLOCK_MS) {
      blocked++;
      return route.abort('internetdisconnected');
    }
    return route.continue();
  });
  const { a, b } = await connectedPair(browser, srv.base, {
    pages, a: { setup: async (page) => { watchPolls(page); await routePolls(page); } }, b: { setup: watchSends },
  });
  await waitRemoteVideoPlaying(a);

  // Block A's polls: every poll fails at once, as on a dead network.
  blocking = true;
  // The poll in flight when the block begins runs on: wait for it to end.
  await a.waitForFunction(() => window.tuturu.refs.poller.failures > 0, null, { timeout: T.short, polling: 100 });
  const start = blockedFrom;

  // Meanwhile B mutes, stops its video, and restarts ICE (offer + candidates).
  const ufrag = () => b.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.tuturu.refs.peer.pc.localDescription.sdp)[1]);
  const ufragBefore = await ufrag();
  await b.click('#mute');
  await b.click('#camera');
  await b.evaluate(() => window.tuturu.refs.peer.restart(null));
  await b.waitForFunction(() => window.tuturu.refs.peer.pc.signalingState === 'have-local-offer', null, { timeout: T.short });

  // A sees it all once the block is over, and not before.
  await a.waitForSelector('#remote-muted', { state: 'visible', timeout: BLOCK_MS + T.call });
  const seenAfter = Date.now() - start;
  assert.ok(seenAfter >= BLOCK_MS, `seen after ${seenAfter} ms, during the block`);
  assert.ok(blocked >= 2, `${blocked} polls blocked`);
  await a.waitForSelector('#remote-off', { state: 'visible', timeout: T.short });
  // the ICE restart completed: B has A's answer, with new ICE credentials
  await b.waitForFunction(() => window.tuturu.refs.peer.pc.signalingState === 'stable', null, { timeout: T.call });
  assert.notEqual(await ufrag(), ufragBefore);
  await Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
  await b.click('#camera');
  await a.waitForSelector('#remote-off', { state: 'hidden', timeout: T.short });
  await waitRemoteVideoPlaying(a, 1);

  // Nothing lost, nothing twice: every message B sent reached A exactly once, in order.
  await a.waitForFunction((n) => window.tuturu.refs.poller.after >= n, Math.max(...sent.map((s) => s[0])), { timeout: T.short });
  const seqs = received.map((r) => r[0]);
  assert.equal(new Set(seqs).size, seqs.length, 'no message delivered twice');
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in order');
  const got = new Map(received);
  for (const [seq, type] of sent) assert.equal(got.get(seq), type, `B's ${type} #${seq} reached A`);
  assert.ok(sent.some(([, type]) => type === 'description'), 'an offer went through the block');
}));
