// Perfect negotiation against a fake RTCPeerConnection.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createPeer } from '../../htdocs/js/peer.mjs';
import { settle } from './fakes.mjs';

class FakePC {
  constructor(config) {
    this.config = config;
    this.signalingState = 'stable';
    this.remoteDescription = null;
    this.localDescription = null;
    this.log = [];
    this.added = [];
    this.tracks = [];
    this.restarts = 0;
    FakePC.last = this;
  }
  addTrack(track) { this.tracks.push(track); }
  async setLocalDescription() {
    if (this.signalingState === 'have-remote-offer') {
      this.localDescription = { type: 'answer', sdp: 'my-answer' };
      this.signalingState = 'stable';
    } else {
      this.localDescription = { type: 'offer', sdp: 'my-offer' };
      this.signalingState = 'have-local-offer';
    }
    this.log.push(`sld:${this.localDescription.type}`);
  }
  async setRemoteDescription(d) {
    if (d.type === 'offer') {
      if (this.signalingState === 'have-local-offer') this.log.push('rollback');
      this.signalingState = 'have-remote-offer';
    } else {
      if (this.signalingState !== 'have-local-offer') throw new Error('answer in wrong state');
      this.signalingState = 'stable';
    }
    this.remoteDescription = d;
    this.log.push(`srd:${d.type}:${d.sdp}`);
  }
  async addIceCandidate(c) {
    if (!this.remoteDescription) throw new Error('no remote description');
    if (c.usernameFragment && c.usernameFragment !== this.remoteDescription.sdp) throw new Error('unknown ufrag');
    this.added.push(c.candidate);
  }
  getConfiguration() { return this.config; }
  setConfiguration(c) { this.config = c; }
  restartIce() { this.restarts++; }
  getSenders() { return []; }
  close() { this.closed = true; }
}

function make(polite) {
  const sent = [];
  const errors = [];
  const peer = createPeer({
    RTCPeerConnection: FakePC, config: { iceServers: [] }, polite,
    stream: { getTracks: () => ['mic', 'cam'] },
    send: (type, data) => sent.push([type, data]),
    onConnectionState: () => {}, onTrack: () => {}, onError: (e) => errors.push(e),
  });
  return { peer, pc: FakePC.last, sent, errors };
}

const cand = (c, ufrag) => ({ candidate: { candidate: c, sdpMid: '0', sdpMLineIndex: 0, ...(ufrag ? { usernameFragment: ufrag } : {}) } });

test('local tracks are added; negotiationneeded sends an offer', async () => {
  const { pc, sent } = make(false);
  assert.deepEqual(pc.tracks, ['mic', 'cam']);
  await pc.onnegotiationneeded();
  assert.deepEqual(sent, [['description', { type: 'offer', sdp: 'my-offer' }]]);
});

test('an offer is answered; candidates that came first are queued, then added in order', async () => {
  const { peer, pc, sent, errors } = make(true);
  peer.receive('candidate', cand('c1'));
  peer.receive('candidate', cand('c2'));
  await peer.receive('description', { type: 'offer', sdp: 'their-offer' });
  peer.receive('candidate', cand('c3'));
  await settle();
  assert.deepEqual(pc.added, ['c1', 'c2', 'c3']);
  assert.deepEqual(sent, [['description', { type: 'answer', sdp: 'my-answer' }]]);
  assert.deepEqual(errors, []);
});

test('our own ICE candidates go out; the end-of-candidates marker does not', () => {
  const { pc, sent } = make(false);
  pc.onicecandidate({ candidate: { candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host', toJSON: () => ({ candidate: 'x', sdpMid: '0' }) } });
  pc.onicecandidate({ candidate: null });
  assert.deepEqual(sent, [['candidate', { candidate: { candidate: 'x', sdpMid: '0' } }]]);
});

test('glare, impolite side: the colliding offer and its candidates are ignored', async () => {
  const { peer, pc, sent, errors } = make(false);
  await pc.onnegotiationneeded(); // our offer is out
  await peer.receive('description', { type: 'offer', sdp: 'their-offer' });
  await peer.receive('candidate', cand('theirs', 'their-offer'));
  assert.equal(pc.signalingState, 'have-local-offer', 'our offer stands');
  assert.ok(!pc.log.includes('srd:offer:their-offer'));
  assert.equal(sent.length, 1);
  // the polite side answers our offer; its candidates then work
  await peer.receive('description', { type: 'answer', sdp: 'their-answer' });
  await peer.receive('candidate', cand('good', 'their-answer'));
  assert.deepEqual(pc.added, ['good']);
  assert.deepEqual(errors, []);
});

test('glare, polite side: rolls back its own offer and answers theirs', async () => {
  const { peer, pc, sent } = make(true);
  await pc.onnegotiationneeded();
  await peer.receive('description', { type: 'offer', sdp: 'their-offer' });
  assert.ok(pc.log.includes('rollback'));
  assert.deepEqual(sent.at(-1), ['description', { type: 'answer', sdp: 'my-answer' }]);
  assert.equal(pc.signalingState, 'stable');
});

test('an offer while our offer is being made counts as a collision (makingOffer)', async () => {
  const { peer, pc } = make(false);
  let release;
  pc.setLocalDescription = () => new Promise((r) => { release = r; }); // hold the offer half-made
  const nn = pc.onnegotiationneeded();
  await peer.receive('description', { type: 'offer', sdp: 'their-offer' });
  assert.ok(!pc.log.includes('srd:offer:their-offer'), 'ignored while makingOffer');
  release();
  await nn;
});

test('garbage messages are ignored, not thrown', async () => {
  const { peer, pc, errors } = make(true);
  await peer.receive('description', null);
  await peer.receive('description', { type: 'pranswer', sdp: 'x' });
  await peer.receive('candidate', { candidate: 42 });
  await peer.receive('candidate', null);
  assert.deepEqual(pc.log, []);
  assert.deepEqual(errors, []);
});

test('restart sets fresh ICE servers and restarts ICE; close stops everything', async () => {
  const { peer, pc } = make(false);
  peer.restart({ iceServers: [{ urls: 'turn:x', username: 'u', credential: 'c' }], iceTransportPolicy: 'relay' });
  assert.equal(pc.restarts, 1);
  assert.equal(pc.config.iceTransportPolicy, 'relay');
  peer.close();
  assert.ok(pc.closed);
  peer.restart(null);
  assert.equal(pc.restarts, 1);
  await peer.receive('description', { type: 'offer', sdp: 'late' });
  assert.deepEqual(pc.log, []);
});

test('configure sets fresh ICE servers, keeps the rest of the configuration, restarts nothing', () => {
  const { peer, pc, errors } = make(false);
  pc.config = { iceServers: [], bundlePolicy: 'max-bundle', certificates: ['cert'] };
  const fresh = { iceServers: [{ urls: 'turn:x', username: 'u2', credential: 'c2' }], iceTransportPolicy: 'all' };
  peer.configure(fresh);
  assert.deepEqual(pc.config, { ...fresh, bundlePolicy: 'max-bundle', certificates: ['cert'] });
  assert.equal(pc.restarts, 0);
  assert.deepEqual(pc.log, [], 'no negotiation');
  peer.configure(null);
  assert.equal(pc.config.iceServers[0].username, 'u2');
  pc.setConfiguration = () => { throw new Error('InvalidModificationError'); };
  peer.configure(fresh);
  assert.equal(errors.length, 1, 'a refused configuration is reported, not thrown');
  peer.close();
  pc.setConfiguration = (c) => { pc.config = c; };
  peer.configure({ iceServers: [] });
  assert.equal(pc.config.iceServers[0].username, 'u2', 'closed: left alone');
});

test('the newcomer waits for the offer, then answers with its tracks (no glare)', async () => {
  const timers = { setTimeout: (fn) => { timers.fn = fn; return 1; }, clearTimeout: () => { timers.fn = null; } };
  const sent = [];
  const peer = createPeer({
    RTCPeerConnection: FakePC, config: {}, polite: true, waitForOffer: true, timers,
    stream: { getTracks: () => ['mic', 'cam'] }, send: (t, d) => sent.push([t, d]),
    onConnectionState: () => {}, onTrack: () => {},
  });
  const pc = FakePC.last;
  assert.deepEqual(pc.tracks, [], 'nothing added: no negotiationneeded, no offer of ours');
  const sld = pc.setLocalDescription.bind(pc);
  let tracksAtAnswer = null;
  pc.setLocalDescription = async () => { tracksAtAnswer = [...pc.tracks]; return sld(); };
  await peer.receive('description', { type: 'offer', sdp: 'their-offer' });
  assert.deepEqual(tracksAtAnswer, ['mic', 'cam'], 'tracks are in before the answer is made');
  assert.equal(timers.fn, null, 'the fallback timer is cancelled');
  assert.deepEqual(sent, [['description', { type: 'answer', sdp: 'my-answer' }]]);
});

test('the newcomer offers itself when no offer comes in time', () => {
  const timers = { setTimeout: (fn, ms) => { timers.fn = fn; timers.ms = ms; return 1; }, clearTimeout: () => {} };
  const peer = createPeer({
    RTCPeerConnection: FakePC, config: {}, polite: true, waitForOffer: true, offerWaitMs: 5000, timers,
    stream: { getTracks: () => ['mic'] }, send: () => {}, onConnectionState: () => {}, onTrack: () => {},
  });
  assert.equal(timers.ms, 5000);
  timers.fn();
  assert.deepEqual(FakePC.last.tracks, ['mic']);
  assert.equal(peer.tracksAdded, true);
});
