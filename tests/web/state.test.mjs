// The reducer: reduce(state, action) in, state out. No mocks needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { initialState, reduce, SCREENS } from '../../htdocs/js/state.mjs';

const run = (state, ...actions) => actions.reduce(reduce, state);
const joinedAnswer = (peers, extra = {}) => ({
  type: 'JOINED', peer: 'p1', token: 't1', polite: peers === 2, peers,
  iceServers: [{ urls: ['stun:x'] }], policy: 'all', pollTimeout: 5, ...extra,
});
const media = { type: 'MEDIA_ACQUIRED', audio: true, video: true, canSwitch: false };

function inCall() {
  return run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(1),
    { type: 'PEER_JOINED' }, { type: 'CONNECTION_CHANGED', state: 'connected' });
}

test('initial state is idle, with the PIN from the link', () => {
  const s = initialState({ lang: 'ru', pin: '000123' });
  assert.equal(s.screen, 'idle');
  assert.equal(s.pin, '000123');
  assert.equal(s.lang, 'ru');
  assert.ok(SCREENS.includes(s.screen));
});

test('the happy path: idle -> joining -> waiting -> connecting -> connected', () => {
  let s = initialState();
  s = reduce(s, { type: 'PIN_TYPED', pin: '12 34-56' });
  assert.equal(s.pin, '123456');
  s = reduce(s, { type: 'JOIN_REQUESTED', pin: s.pin });
  assert.deepEqual([s.screen, s.step], ['joining', 'media']);
  s = reduce(s, media);
  assert.deepEqual([s.screen, s.step], ['joining', 'join']);
  assert.deepEqual(s.media, { audio: true, video: true });
  s = reduce(s, joinedAnswer(1));
  assert.equal(s.screen, 'waiting');
  assert.equal(s.session.token, 't1');
  assert.equal(s.session.pollTimeout, 5);
  assert.equal(s.peerPresent, false);
  s = reduce(s, { type: 'PEER_JOINED' });
  assert.equal(s.screen, 'connecting');
  assert.equal(s.peerPresent, true);
  assert.equal(s.peerGen, 1);
  s = reduce(s, { type: 'CONNECTION_CHANGED', state: 'connecting' });
  assert.equal(s.screen, 'connecting');
  s = reduce(s, { type: 'CONNECTION_CHANGED', state: 'connected' });
  assert.equal(s.screen, 'connected');
});

test('the second to join goes straight to connecting', () => {
  const s = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(2));
  assert.equal(s.screen, 'connecting');
  assert.equal(s.peerPresent, true);
  assert.equal(s.session.polite, true);
  assert.equal(s.peerGen, 1);
});

test('a PIN that is not 6 digits stays on idle with an error', () => {
  const s = reduce(initialState(), { type: 'JOIN_REQUESTED', pin: '12345' });
  assert.equal(s.screen, 'idle');
  assert.equal(s.pinError, true);
  assert.equal(reduce(s, { type: 'PIN_TYPED', pin: '1' }).pinError, false);
});

test('typing keeps digits only, six at most', () => {
  const s = reduce(initialState(), { type: 'PIN_TYPED', pin: 'a1b2c3d4e5f6g7' });
  assert.equal(s.pin, '123456');
});

test('guards: actions that do not apply return the same state object', () => {
  const idle = initialState();
  for (const type of ['MEDIA_ACQUIRED', 'JOINED', 'JOIN_FAILED', 'PEER_JOINED', 'PEER_LEFT', 'PEER_HUNG_UP',
    'HANGUP_CLICKED', 'SESSION_LOST', 'CONNECTION_CHANGED', 'REMOTE_MEDIA', 'STATS_MEASURED', 'MUTE_TOGGLED',
    'CAMERA_TOGGLED', 'SOUND_BLOCKED', 'SWITCH_CLICKED', 'BACK_CLICKED', 'NO_SUCH_ACTION']) {
    assert.equal(reduce(idle, { type, state: 'connected', peers: 1 }), idle, type);
  }
  const call = inCall();
  assert.equal(reduce(call, { type: 'JOIN_REQUESTED', pin: '654321' }), call, 'no second join during a call');
  assert.equal(reduce(call, { type: 'PIN_TYPED', pin: '654321' }), call);
  assert.equal(reduce(call, media), call, 'late media');
  assert.equal(reduce(call, joinedAnswer(1)), call, 'late join answer');
});

test('media failures become the error screen with a known code', () => {
  const joining = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' });
  const s = reduce(joining, { type: 'MEDIA_FAILED', code: 'permission' });
  assert.equal(s.screen, 'error');
  assert.equal(s.error.code, 'permission');
  const odd = reduce(joining, { type: 'MEDIA_FAILED', code: 'weird' });
  assert.equal(odd.error.code, 'server');
});

test('no camera: audio-only call, camera control off', () => {
  const s = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' },
    { type: 'MEDIA_ACQUIRED', audio: true, video: false });
  assert.deepEqual(s.media, { audio: true, video: false });
  assert.equal(s.cam, false);
  assert.equal(reduce(s, { type: 'CAMERA_TOGGLED' }), s);
});

test('join failures: room full, rate limited (with seconds), network', () => {
  const joining = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media);
  const full = reduce(joining, { type: 'JOIN_FAILED', code: 'room_full' });
  assert.deepEqual([full.screen, full.error.code], ['error', 'room_full']);
  assert.equal(full.media, null, 'the camera is released');
  const limited = reduce(joining, { type: 'JOIN_FAILED', code: 'rate_limited', seconds: 42 });
  assert.equal(limited.error.seconds, 42);
  assert.equal(reduce(joining, { type: 'JOIN_FAILED', code: 'network' }).error.code, 'network');
  // retry from the error screen joins the same PIN again
  const again = reduce(full, { type: 'JOIN_REQUESTED' });
  assert.deepEqual([again.screen, again.step, again.pin, again.error], ['joining', 'media', '123456', null]);
  assert.equal(reduce(full, { type: 'BACK_CLICKED' }).screen, 'idle');
});

test('mute and camera toggles', () => {
  let s = inCall();
  s = reduce(s, { type: 'MUTE_TOGGLED' });
  assert.equal(s.mic, false);
  s = reduce(s, { type: 'CAMERA_TOGGLED' });
  assert.equal(s.cam, false);
  s = run(s, { type: 'MUTE_TOGGLED' }, { type: 'CAMERA_TOGGLED' });
  assert.deepEqual([s.mic, s.cam], [true, true]);
});

test('connection drops: reconnecting, then back to connected', () => {
  let s = inCall();
  s = reduce(s, { type: 'CONNECTION_CHANGED', state: 'disconnected' });
  assert.equal(s.screen, 'reconnecting');
  s = reduce(s, { type: 'CONNECTION_CHANGED', state: 'failed' });
  assert.equal(s.screen, 'reconnecting');
  s = reduce(s, { type: 'CONNECTION_CHANGED', state: 'connected' });
  assert.equal(s.screen, 'connected');
  // a failure before ever connecting stays 'connecting' (an ICE restart is on its way)
  const c = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(2),
    { type: 'CONNECTION_CHANGED', state: 'failed' });
  assert.equal(c.screen, 'connecting');
});

test('the other side vanishing (peer-left) means waiting for them; a new arrival is a new connection', () => {
  let s = run(inCall(), { type: 'REMOTE_MEDIA', audio: false, video: true }, { type: 'SOUND_BLOCKED' });
  s = reduce(s, { type: 'PEER_LEFT' });
  assert.deepEqual([s.screen, s.peerPresent, s.peerAway], ['waiting', false, true]);
  assert.deepEqual(s.remote, { audio: true, video: true });
  assert.equal(s.soundBlocked, false);
  assert.ok(s.session, 'we stay in the room');
  const gen = s.peerGen;
  s = reduce(s, { type: 'PEER_JOINED' });
  assert.deepEqual([s.screen, s.peerAway, s.peerGen], ['connecting', false, gen + 1]);
});

test('hang-up: ours and theirs both end the call', () => {
  const mine = reduce(inCall(), { type: 'HANGUP_CLICKED' });
  assert.deepEqual([mine.screen, mine.ended, mine.session, mine.media], ['ended', 'you', null, null]);
  const theirs = reduce(inCall(), { type: 'PEER_HUNG_UP' });
  assert.deepEqual([theirs.screen, theirs.ended, theirs.session], ['ended', 'peer', null]);
  const again = reduce(theirs, { type: 'JOIN_REQUESTED' });
  assert.deepEqual([again.screen, again.pin], ['joining', '123456']);
  assert.equal(reduce(theirs, { type: 'BACK_CLICKED' }).screen, 'idle');
  // hanging up while still asking for the camera
  const early = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, { type: 'HANGUP_CLICKED' });
  assert.equal(early.screen, 'ended');
  assert.equal(reduce(early, media), early, 'media that arrives after is ignored');
});

test('a lost session (401) rejoins with the same PIN, keeping the camera', () => {
  const lostInCall = reduce(inCall(), { type: 'SESSION_LOST' });
  assert.deepEqual([lostInCall.screen, lostInCall.step, lostInCall.session], ['reconnecting', 'join', null]);
  assert.ok(lostInCall.media, 'media kept');
  const back = reduce(lostInCall, joinedAnswer(2, { token: 't2' }));
  assert.equal(back.screen, 'reconnecting', 'until the new connection is up');
  assert.equal(reduce(back, { type: 'CONNECTION_CHANGED', state: 'connected' }).screen, 'connected');
  const alone = reduce(lostInCall, joinedAnswer(1, { token: 't2' }));
  assert.deepEqual([alone.screen, alone.peerAway], ['waiting', true]);

  const waiting = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(1));
  const lostWaiting = reduce(waiting, { type: 'SESSION_LOST' });
  assert.deepEqual([lostWaiting.screen, lostWaiting.step], ['joining', 'join']);
});

test('remote media state, tracks, sound and stats only while the other person is there', () => {
  let s = inCall();
  s = reduce(s, { type: 'REMOTE_MEDIA', audio: false, video: false });
  assert.deepEqual(s.remote, { audio: false, video: false });
  s = reduce(s, { type: 'REMOTE_TRACK', kind: 'video' });
  assert.equal(s.remoteVideo, true);
  s = reduce(s, { type: 'SOUND_BLOCKED' });
  assert.equal(s.soundBlocked, true);
  s = reduce(s, { type: 'SOUND_ON_CLICKED' });
  assert.equal(s.soundBlocked, false);
  const stats = { path: 'direct', rtt: 3, inKbps: 900, outKbps: 800, loss: 0 };
  assert.deepEqual(reduce(s, { type: 'STATS_MEASURED', stats }).stats, stats);
  const gone = reduce(s, { type: 'PEER_LEFT' });
  assert.equal(reduce(gone, { type: 'STATS_MEASURED', stats }), gone);
});

test('new PIN and link sharing', () => {
  let s = reduce(initialState(), { type: 'NEW_PIN_MADE', pin: '987654' });
  assert.deepEqual([s.pin, s.share], ['987654', 'copying']);
  assert.equal(reduce(initialState(), { type: 'NEW_PIN_MADE', pin: 'x' }).pin, '');
  s = reduce(s, { type: 'LINK_SHARED', how: 'copied' });
  assert.equal(s.share, 'copied');
  assert.equal(reduce(s, { type: 'LINK_SHARED', how: 'shown' }), s, 'only an answer to a copy');
  s = reduce(s, { type: 'COPY_CLICKED' });
  assert.equal(reduce(s, { type: 'LINK_SHARED', how: 'shown' }).share, 'shown');
});

test('camera switch is one at a time and only with two cameras', () => {
  const one = inCall();
  assert.equal(reduce(one, { type: 'SWITCH_CLICKED' }), one);
  const two = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, { ...media, canSwitch: true }, joinedAnswer(2));
  const switching = reduce(two, { type: 'SWITCH_CLICKED' });
  assert.equal(switching.switching, true);
  assert.equal(reduce(switching, { type: 'SWITCH_CLICKED' }), switching);
  assert.equal(reduce(switching, { type: 'CAMERA_SWITCHED' }).switching, false);
});

test('language switch', () => {
  const s = initialState();
  assert.equal(reduce(s, { type: 'LANGUAGE_CHOSEN', lang: 'ru' }).lang, 'ru');
  assert.equal(reduce(s, { type: 'LANGUAGE_CHOSEN', lang: 'de' }), s);
});

test('a reload rejoins: JOIN_REQUESTED with resume', () => {
  const s = reduce(initialState(), { type: 'JOIN_REQUESTED', pin: '123456', resume: true });
  assert.deepEqual([s.screen, s.resume, s.pin], ['joining', true, '123456']);
});

test('who offers first: whoever was in the room already', () => {
  const newcomer = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(2));
  assert.equal(newcomer.offerFirst, false);
  const incumbent = run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(1), { type: 'PEER_JOINED' });
  assert.equal(incumbent.offerFirst, true);
});

test('JOINED keeps turn_ttl for the credential refresh; a missing or odd one is 0 (no refresh)', () => {
  const joined = (extra) => run(initialState({ pin: '123456' }), { type: 'JOIN_REQUESTED' }, media, joinedAnswer(1, extra));
  assert.equal(joined({ turnTtl: 300 }).session.turnTtl, 300);
  for (const odd of [undefined, null, -5, 0, 'x', NaN]) {
    assert.equal(joined({ turnTtl: odd }).session.turnTtl, 0, String(odd));
  }
});
