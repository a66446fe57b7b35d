// The call page in real Chromium against the real server: a call, its
// controls, hang-up, a full room, and a person without a camera.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  TOP, T, startServer, launchBrowser, openPage, joinPin, waitState, waitRemoteVideoPlaying,
  connectedPair, testPin, withPages,
} from './harness.mjs';

const TEST_MS = 150000;
let srv;
let browser;

before(async () => {
  srv = await startServer({ POLL_TIMEOUT: 5, PEER_GRACE: 30, JOIN_LIMIT: 1000 });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});


const localTrack = (page, kind) => page.evaluate((k) => {
  const s = document.querySelector('#local-video').srcObject;
  const t = s && (k === 'audio' ? s.getAudioTracks() : s.getVideoTracks())[0];
  return t ? { enabled: t.enabled, state: t.readyState } : null;
}, kind);

test('two pages join one PIN: both connect and play the other\'s video', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const pin = testPin();
  const a = await openPage(browser, srv.base, { name: 'A', viewport: { width: 1100, height: 680 } });
  const b = await openPage(browser, srv.base, { name: 'B' });
  pages.push(a, b);
  assert.equal(await a.getAttribute('#status', 'data-state'), 'idle');
  await joinPin(a, pin);
  await waitState(a, 'waiting');
  assert.match(await a.textContent('#call-info'), new RegExp(pin), 'the waiting screen shows the PIN to pass on');
  await joinPin(b, pin);
  await Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
  await Promise.all([waitRemoteVideoPlaying(a, 1), waitRemoteVideoPlaying(b, 1)]);
  for (const p of [a, b]) {
    assert.equal(await p.getAttribute('#remote-video', 'playsinline'), '', 'playsinline, or iOS shows black');
    assert.equal(await p.isHidden('#call-info'), true);
  }
  // the quality line and the path from getStats (host candidates here: direct)
  await a.waitForFunction(() => /kbit\/s/.test(document.querySelector('#quality').textContent), null, { timeout: T.call });
  assert.equal(await a.getAttribute('#status', 'data-path'), 'direct');
  assert.equal(await b.getAttribute('#status', 'data-path'), 'direct');
  mkdirSync(join(TOP, 'docs'), { recursive: true });
  await a.screenshot({ path: join(TOP, 'docs/screenshot.png') });
  assert.deepEqual([...a.errors, ...b.errors], []);
}));

test('mute and camera toggles: aria-pressed, the track, and the other side is told', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const { a, b } = await connectedPair(browser, srv.base, { pages });
  assert.equal(await a.getAttribute('#mute', 'aria-pressed'), 'false');
  assert.deepEqual(await localTrack(a, 'audio'), { enabled: true, state: 'live' });

  await a.click('#mute');
  assert.equal(await a.getAttribute('#mute', 'aria-pressed'), 'true');
  assert.deepEqual(await localTrack(a, 'audio'), { enabled: false, state: 'live' });
  await b.waitForSelector('#remote-muted', { state: 'visible' });

  await a.click('#camera');
  assert.equal(await a.getAttribute('#camera', 'aria-pressed'), 'true');
  assert.deepEqual(await localTrack(a, 'video'), { enabled: false, state: 'live' });
  await b.waitForSelector('#remote-off', { state: 'visible' });

  await a.click('#mute');
  await a.click('#camera');
  assert.equal(await a.getAttribute('#mute', 'aria-pressed'), 'false');
  assert.equal(await a.getAttribute('#camera', 'aria-pressed'), 'false');
  assert.deepEqual(await localTrack(a, 'audio'), { enabled: true, state: 'live' });
  assert.deepEqual(await localTrack(a, 'video'), { enabled: true, state: 'live' });
  await b.waitForSelector('#remote-muted', { state: 'hidden' });
  await b.waitForSelector('#remote-off', { state: 'hidden' });
  // keyboard: the controls are buttons that take focus and Space
  await a.focus('#mute');
  await a.keyboard.press('Space');
  assert.equal(await a.getAttribute('#mute', 'aria-pressed'), 'true');
  await waitState(a, 'connected');
}));

test('hang-up on one side ends the call on the other, and both leave the room', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const { a, b, pin } = await connectedPair(browser, srv.base, { pages });
  await a.click('#hangup');
  await waitState(a, 'ended');
  assert.match(await a.textContent('#ended-text'), /You ended the call/);
  await waitState(b, 'ended', T.short);
  assert.match(await b.textContent('#ended-text'), /other person ended the call/);
  for (const p of [a, b]) {
    // the camera is released
    await p.waitForFunction(() => !document.querySelector('#local-video').srcObject);
  }
  // the room is empty again: a newcomer is alone in it
  const r = await fetch(`${srv.base}/api/join`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pin }),
  });
  const j = await r.json();
  assert.equal(j.peers, 1);
  await fetch(`${srv.base}/api/leave`, { method: 'POST', headers: { Authorization: `Bearer ${j.token}` } });
  // "Call again" goes back into the same room
  await b.click('#again');
  await waitState(b, 'waiting');
  assert.match(await b.textContent('#call-info'), new RegExp(pin));
}));

test('a third page gets a clear "room full" message, in its language', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const { pin } = await connectedPair(browser, srv.base, { pages });
  const c = await openPage(browser, srv.base, { name: 'C', locale: 'ru-RU', viewport: { width: 360, height: 740 } });
  pages.push(c);
  assert.equal(await c.getAttribute('html', 'lang'), 'ru');
  await joinPin(c, pin);
  await waitState(c, 'error');
  assert.equal(await c.textContent('#problem-title'), 'Этот PIN\u2011код занят');
  assert.match(await c.textContent('#problem-text'), /уже разговаривают двое/);
  await c.click('#lang');
  assert.equal(await c.textContent('#problem-title'), 'This PIN is taken');
  assert.match(await c.textContent('#problem-text'), /Two people are already in a call with this PIN/);
  await c.waitForFunction(() => !document.querySelector('#local-video').srcObject); // camera released
  await c.click('#back');
  await waitState(c, 'idle');
  assert.equal(await c.inputValue('#pin'), pin);
}));

/** Make the page's browser look like a machine with no camera at all. */
function noCamera() {
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  const list = md.enumerateDevices.bind(md);
  md.getUserMedia = (c) => (c && c.video
    ? Promise.reject(new DOMException('Requested device not found', 'NotFoundError')) : gum(c));
  md.enumerateDevices = () => list().then((ds) => ds.filter((d) => d.kind !== 'videoinput'));
}

test('a page with no camera gets an audio-only call', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const { a, b } = await connectedPair(browser, srv.base, { pages, a: { init: noCamera } });
  await a.waitForSelector('#notice', { state: 'visible' });
  assert.match(await a.textContent('#notice'), /audio only/);
  assert.equal(await a.isDisabled('#camera'), true);
  assert.equal(await a.getAttribute('#camera', 'aria-pressed'), 'true');
  assert.equal(await localTrack(a, 'video'), null);
  assert.deepEqual(await localTrack(a, 'audio'), { enabled: true, state: 'live' });
  // A sees B; B sees the no-camera placeholder and hears A
  await waitRemoteVideoPlaying(a, 1);
  await b.waitForSelector('#remote-off', { state: 'visible' });
  const audioIn = () => b.evaluate(async () => {
    let n = 0;
    (await window.tuturu.refs.peer.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') n += s.bytesReceived || 0;
    });
    return n;
  });
  const first = await audioIn();
  await b.waitForFunction(async (n) => {
    let m = 0;
    (await window.tuturu.refs.peer.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') m += s.bytesReceived || 0;
    });
    return m > n + 1000;
  }, first, { timeout: T.call, polling: 250 });
}));

/** Simulate a browser that refuses to play sound until a tap on #unmute. */
function soundNeedsTap() {
  const play = HTMLMediaElement.prototype.play;
  let allowed = false;
  document.addEventListener('click', (e) => { if (e.target.closest && e.target.closest('#unmute')) allowed = true; }, true);
  HTMLMediaElement.prototype.play = function () {
    if (this.id === 'remote-video' && !this.muted && !allowed) {
      return Promise.reject(new DOMException('play() needs a user gesture', 'NotAllowedError'));
    }
    return play.call(this);
  };
}

test('when the browser blocks sound, the video plays muted and a tap turns sound on', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const { a } = await connectedPair(browser, srv.base, { pages, a: { init: soundNeedsTap } });
  await a.waitForSelector('#unmute', { state: 'visible' });
  await waitRemoteVideoPlaying(a);
  assert.equal(await a.evaluate(() => document.querySelector('#remote-video').muted), true);
  await a.click('#unmute');
  await a.waitForSelector('#unmute', { state: 'hidden' });
  assert.equal(await a.evaluate(() => document.querySelector('#remote-video').muted), false);
  await waitRemoteVideoPlaying(a);
}));

test('start screen: a link fills the PIN in; "New PIN" makes one and gives the link', { timeout: TEST_MS }, () => withPages(async (pages) => {
  const linked = await openPage(browser, srv.base, { name: 'L', hash: '024680' });
  pages.push(linked);
  assert.equal(await linked.inputValue('#pin'), '024680');
  assert.equal(await linked.getAttribute('#pin', 'inputmode'), 'numeric');

  const p = await openPage(browser, srv.base, { name: 'N' });
  pages.push(p);
  await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.base });
  await p.fill('#pin', '12a');
  assert.equal(await p.inputValue('#pin'), '12', 'digits only');
  await p.click('#join');
  await p.waitForSelector('#pin-error', { state: 'visible' });
  assert.equal(await p.getAttribute('#pin', 'aria-invalid'), 'true');
  await p.click('#new-pin');
  await p.waitForSelector('#start-share', { state: 'visible' });
  const pin = await p.inputValue('#pin');
  assert.match(pin, /^[0-9]{6}$/);
  const link = await p.textContent('#start-link');
  assert.equal(link, `${srv.base}/#${pin}`);
  assert.match(await p.textContent('#start-share-text'), /copied/);
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), link);
  assert.equal(await p.evaluate(() => location.hash), `#${pin}`);
}));
