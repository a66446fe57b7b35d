// effects.mjs: what a transition asks the world to do: camera, API calls, the
// peer connection, timers, storage. effects(prev, next, action, ctx) runs
// after every state change, in a fixed order: cleanup first, then starts,
// then adjustments. Live objects stay in ctx.refs, never in state; results
// come back only as actions through ctx.dispatch.
//
// ctx: { refs, dispatch, getState, api, dom: { localVideo, remoteVideo }, env }
// env: { mediaDevices, secure, RTCPeerConnection, MediaStream, storage,
//        location, history, clipboard, timers, now, log }

import { acquireMedia, nextCameraId, cameraTrack } from './media.mjs';
import { createPeer } from './peer.mjs';
import { createPoller, createSender, createDeduper, createIceKeeper, backoff, transient } from './transport.mjs';
import { summarize } from './stats.mjs';
import { shareLink } from './pin.mjs';

export const STORAGE_KEY = 'tuturu.call';
const STATS_MS = 2000;
const RESTART_AFTER_DISCONNECT_MS = 2500;
const RESTART_AGAIN_MS = 10000;
const POLITE_RESTART_DELAY_MS = 4000; // let the impolite side restart first: no glare
const JOIN_TRIES = 3;

export function effects(prev, next, action, ctx) {
  const { refs } = ctx;
  // 1. cleanup
  if (refs.peer && (!next.peerPresent || !next.session || next.peerGen !== refs.peerGen)) closePeer(ctx);
  if (prev.session && (!next.session || next.session.token !== prev.session.token)) endSession(prev, action, ctx);
  if (refs.stream && !next.media && next.step !== 'media') stopMedia(ctx);
  // 2. starts
  if (next.step === 'media' && prev.step !== 'media') getMedia(ctx);
  if (next.step === 'join' && prev.step !== 'join') join(ctx);
  if (next.session && refs.token !== next.session.token) startSession(next, ctx);
  if (next.peerPresent && next.session && !refs.peer && refs.stream) openPeer(next, ctx);
  // 3. adjustments
  applyTracks(next, ctx);
  if (refs.peer && (next.mic !== prev.mic || next.cam !== prev.cam)) tellMedia(next, ctx);
  if (next.conn !== prev.conn) watchConnection(next, ctx);
  if (next.switching && !prev.switching) switchCamera(ctx);
  if (next.share === 'copying' && prev.share !== 'copying') copyLink(next, ctx);
  if (action.type === 'SOUND_ON_CLICKED') unmuteRemote(ctx);
  remember(prev, next, ctx);
}

/* ---- media ---- */

function getMedia(ctx) {
  const { refs, env } = ctx;
  const id = (refs.mediaId = (refs.mediaId || 0) + 1);
  acquireMedia({ mediaDevices: env.mediaDevices, secure: env.secure }).then(({ stream, cameras }) => {
    if (id !== refs.mediaId || ctx.getState().step !== 'media') {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    refs.stream = stream;
    showLocal(ctx);
    ctx.dispatch({
      type: 'MEDIA_ACQUIRED', audio: stream.getAudioTracks().length > 0,
      video: stream.getVideoTracks().length > 0, canSwitch: cameras >= 2,
    });
  }, (e) => {
    if (id === refs.mediaId) ctx.dispatch({ type: 'MEDIA_FAILED', code: e.code || 'media', detail: e.detail || String(e) });
  });
}

function showLocal(ctx) {
  const { refs, dom } = ctx;
  const track = refs.stream && refs.stream.getVideoTracks()[0];
  const facing = track && track.getSettings ? track.getSettings().facingMode : '';
  dom.localVideo.classList.toggle('mirror', facing !== 'environment');
  dom.localVideo.srcObject = refs.stream;
  const p = dom.localVideo.play && dom.localVideo.play();
  if (p && p.catch) p.catch(() => {});
}

function stopMedia(ctx) {
  const { refs, dom } = ctx;
  refs.stream.getTracks().forEach((t) => t.stop());
  refs.stream = null;
  refs.mediaId = (refs.mediaId || 0) + 1;
  dom.localVideo.srcObject = null;
}

function applyTracks(state, ctx) {
  const s = ctx.refs.stream;
  if (!s) return;
  for (const t of s.getAudioTracks()) if (t.enabled !== state.mic) t.enabled = state.mic;
  for (const t of s.getVideoTracks()) if (t.enabled !== state.cam) t.enabled = state.cam;
}

async function switchCamera(ctx) {
  const { refs, env } = ctx;
  const md = env.mediaDevices;
  try {
    const old = refs.stream && refs.stream.getVideoTracks()[0];
    const id = old && (await nextCameraId(md, old));
    if (!id || !refs.stream) return;
    const oldId = old.getSettings().deviceId;
    old.stop(); // many phones cannot open the front and back camera at once
    let track;
    try {
      track = await cameraTrack(md, id);
    } catch (e) {
      track = await cameraTrack(md, oldId);
    }
    if (!refs.stream) {
      track.stop();
      return;
    }
    track.enabled = ctx.getState().cam;
    refs.stream.removeTrack(old);
    refs.stream.addTrack(track);
    if (refs.peer) await refs.peer.replaceTrack('video', track);
    showLocal(ctx);
  } catch (e) {
    env.log('switch camera', e);
  } finally {
    ctx.dispatch({ type: 'CAMERA_SWITCHED' });
  }
}

/* ---- session: join, poll, send, leave ---- */

function joinError(e) {
  if (['room_full', 'rate_limited', 'invalid_pin'].includes(e.code)) return e.code;
  return e.status === 0 ? 'network' : 'server';
}

function join(ctx) {
  const { refs, api, env } = ctx;
  const id = (refs.joinId = (refs.joinId || 0) + 1);
  const current = () => id === refs.joinId && ctx.getState().step === 'join';
  const attempt = async (tries) => {
    if (!current()) return;
    try {
      if (refs.staleToken) { // this tab's session before a reload: free its place first
        const old = refs.staleToken;
        refs.staleToken = null;
        await api.leave(old).catch(() => {});
      }
      const j = await api.join(ctx.getState().pin);
      if (!current()) {
        api.leave(j.token).catch(() => {});
        return;
      }
      ctx.dispatch({
        type: 'JOINED', peer: j.peer, token: j.token, polite: j.polite, peers: j.peers,
        iceServers: j.ice_servers, policy: j.ice_transport_policy, turnTtl: j.turn_ttl, pollTimeout: j.poll_timeout,
      });
    } catch (e) {
      if (!current()) return;
      const rejoining = ctx.getState().screen === 'reconnecting';
      if (transient(e) && e.status !== 429 && (rejoining || tries + 1 < JOIN_TRIES)) {
        env.timers.setTimeout(() => attempt(tries + 1), backoff(tries + 1));
        return;
      }
      ctx.dispatch({ type: 'JOIN_FAILED', code: joinError(e), seconds: e.retryAfter, detail: e.message });
    }
  };
  attempt(0);
}

function startSession(state, ctx) {
  const { refs, api, env } = ctx;
  const { token, pollTimeout, iceServers, policy, turnTtl } = state.session;
  const lost = () => {
    const s = ctx.getState();
    if (s.session && s.session.token === token) ctx.dispatch({ type: 'SESSION_LOST' });
  };
  refs.token = token;
  // TURN credentials last turn_ttl seconds: fresh ones before they expire,
  // for the allocations the open connection (or the next one) makes.
  refs.ice = createIceKeeper({
    initial: { ice_servers: iceServers, ice_transport_policy: policy, turn_ttl: turnTtl },
    load: () => api.turn(token),
    onConfig: (config) => {
      env.log('turn credentials refreshed');
      if (refs.peer) refs.peer.configure(config);
    },
    onLost: lost,
    onError: (e) => env.log('turn', e.code || e),
    timers: env.timers,
    now: env.now,
  });
  refs.dedupe = createDeduper();
  refs.sender = createSender({
    send: (batch) => {
      env.log('send', batch.map((m) => `${m.type} ${m.data.n}`).join(', '));
      return api.sendBatch(token, batch);
    },
    onLost: lost,
    onDropped: (m, e) => env.log('dropped', m.type, e.code),
    timers: env.timers,
  });
  refs.poller = createPoller({
    poll: (after, signal) => api.poll(token, after, signal),
    onMessages: (messages) => messages.forEach((m) => onMessage(m, ctx)),
    onLost: lost,
    onError: (e) => env.log('poll', e.code || e),
    timers: env.timers,
    watchdogMs: pollTimeout * 1000 + 15000,
  });
  refs.poller.start(0);
}

function onMessage(m, ctx) {
  const { refs, dispatch } = ctx;
  ctx.env.log('got', m.seq, m.type, m.data && m.data.n, m.type === 'description' ? m.data.type : '');
  if (m.type === 'peer-joined' || m.type === 'peer-left') {
    refs.dedupe.reset(); // a new session on the other side: its counter restarts
    dispatch({ type: m.type === 'peer-joined' ? 'PEER_JOINED' : 'PEER_LEFT' });
    return;
  }
  if (!refs.dedupe.fresh(m.data)) return;
  const d = m.data || {};
  if (m.type === 'description' || m.type === 'candidate') {
    if (refs.peer) refs.peer.receive(m.type, d);
  } else if (m.type === 'media') {
    dispatch({ type: 'REMOTE_MEDIA', audio: d.audio, video: d.video });
  } else if (m.type === 'bye') {
    dispatch({ type: 'PEER_HUNG_UP' });
  }
}

function endSession(prev, action, ctx) {
  const { refs, api } = ctx;
  if (refs.poller) refs.poller.stop();
  if (refs.sender) refs.sender.stop();
  if (refs.ice) refs.ice.stop();
  refs.poller = refs.sender = refs.ice = null;
  refs.token = null;
  if (action.type === 'SESSION_LOST') return; // the server has forgotten it already
  const token = prev.session.token;
  // 'bye' tells the other side this was a hang-up, not a lost connection.
  const bye = action.type === 'HANGUP_CLICKED' && prev.peerPresent
    ? api.send(token, 'bye', {}).catch(() => {}) : Promise.resolve();
  bye.then(() => api.leave(token)).catch(() => {});
}

/* ---- the peer connection ---- */

function openPeer(state, ctx) {
  const { refs, env, dom, dispatch } = ctx;
  const { polite, iceServers, policy } = state.session;
  const config = refs.ice ? refs.ice.config : { iceServers, iceTransportPolicy: policy };
  refs.peerGen = state.peerGen;
  refs.remoteStream = null;
  refs.statsSample = null;
  dom.remoteVideo.muted = false;
  const peer = createPeer({
    RTCPeerConnection: env.RTCPeerConnection,
    config,
    polite,
    stream: refs.stream,
    waitForOffer: !state.offerFirst,
    timers: env.timers,
    send: (type, data) => refs.sender && refs.sender.push(type, data),
    onConnectionState: (s) => { if (refs.peer === peer) dispatch({ type: 'CONNECTION_CHANGED', state: s }); },
    onTrack: (track, streams) => { if (refs.peer === peer) attachRemote(track, streams, ctx); },
    onError: (e) => env.log('peer', e),
  });
  refs.peer = peer;
  for (const ev of ['signalingstatechange', 'icegatheringstatechange', 'iceconnectionstatechange']) {
    peer.pc.addEventListener(ev, () => env.log(ev, peer.pc.signalingState, peer.pc.iceGatheringState, peer.pc.iceConnectionState));
  }
  refs.statsTimer = env.timers.setInterval(() => measure(peer, ctx), STATS_MS);
  tellMedia(state, ctx);
}

function closePeer(ctx) {
  const { refs, env, dom } = ctx;
  refs.peer.close();
  refs.peer = null;
  env.timers.clearInterval(refs.statsTimer);
  env.timers.clearTimeout(refs.restartTimer);
  refs.statsTimer = refs.restartTimer = null;
  if (refs.sender) refs.sender.clear(); // what is queued was for this connection
  dom.remoteVideo.srcObject = null;
  refs.remoteStream = null;
}

function attachRemote(track, streams, ctx) {
  const { refs, dom, env } = ctx;
  let stream = streams && streams[0];
  if (!stream) {
    stream = refs.remoteStream || new env.MediaStream();
    stream.addTrack(track);
  }
  refs.remoteStream = stream;
  if (dom.remoteVideo.srcObject !== stream) dom.remoteVideo.srcObject = stream;
  ctx.dispatch({ type: 'REMOTE_TRACK', kind: track.kind });
  playRemote(ctx);
}

/** Play the other person; if the browser refuses sound, play muted and ask for a tap. */
function playRemote(ctx) {
  const v = ctx.dom.remoteVideo;
  const p = v.play();
  if (!p || !p.catch) return;
  p.catch((e) => {
    if (e && e.name === 'NotAllowedError' && !v.muted) {
      v.muted = true;
      v.play().catch(() => {});
      ctx.dispatch({ type: 'SOUND_BLOCKED' });
    }
  });
}

function unmuteRemote(ctx) {
  const v = ctx.dom.remoteVideo;
  v.muted = false;
  const p = v.play();
  if (p && p.catch) p.catch(() => { v.muted = true; ctx.dispatch({ type: 'SOUND_BLOCKED' }); });
}

/** Tell the other side whether our microphone and camera are on. */
function tellMedia(state, ctx) {
  if (!ctx.refs.sender || !state.peerPresent) return;
  ctx.refs.sender.push('media', {
    audio: !!(state.media && state.media.audio && state.mic),
    video: !!(state.media && state.media.video && state.cam),
  });
}

function measure(peer, ctx) {
  const { refs, env } = ctx;
  peer.pc.getStats().then((report) => {
    if (refs.peer !== peer) return;
    const { sample, view } = summarize(report, refs.statsSample, env.now());
    refs.statsSample = sample;
    ctx.dispatch({ type: 'STATS_MEASURED', stats: view });
  }).catch(() => {});
}

/**
 * disconnected for a while, or failed: ICE restart with fresh TURN
 * credentials. Both sides notice; the impolite one restarts first, and the
 * polite one only if that did not help.
 */
function watchConnection(state, ctx) {
  const { refs, env } = ctx;
  env.timers.clearTimeout(refs.restartTimer);
  refs.restartTimer = null;
  if (!refs.peer || !state.session || !['failed', 'disconnected'].includes(state.conn)) return;
  const delay = (state.conn === 'failed' ? 0 : RESTART_AFTER_DISCONNECT_MS)
    + (state.session.polite ? POLITE_RESTART_DELAY_MS : 0);
  refs.restartTimer = env.timers.setTimeout(() => restartIce(ctx), delay);
}

function restartIce(ctx) {
  const { refs, env } = ctx;
  const peer = refs.peer;
  const ice = refs.ice;
  if (!peer || !ice) return;
  // fresh credentials first (the keeper reports a 401 as SESSION_LOST)
  ice.fresh().then((config) => { if (refs.peer === peer) peer.restart(config); });
  refs.restartTimer = env.timers.setTimeout(() => {
    if (refs.peer === peer && ctx.getState().conn !== 'connected') restartIce(ctx);
  }, RESTART_AGAIN_MS);
}

/* ---- the link, and what survives a reload ---- */

function copyLink(state, ctx) {
  const { env } = ctx;
  const link = shareLink(env.location, state.pin);
  setHash(state.pin, env);
  const clip = env.clipboard;
  const copied = clip && clip.writeText ? clip.writeText(link) : Promise.reject(new Error('no clipboard'));
  copied.then(() => ctx.dispatch({ type: 'LINK_SHARED', how: 'copied' }),
    () => ctx.dispatch({ type: 'LINK_SHARED', how: 'shown' }));
}

function setHash(pin, env) {
  if (env.location.hash !== `#${pin}`) env.history.replaceState(null, '', `#${pin}`);
}

/** A reload of this tab rejoins the same call: keep the PIN and token per tab. */
function remember(prev, next, ctx) {
  const { env } = ctx;
  if (next.screen === 'joining' && prev.screen !== 'joining') setHash(next.pin, env);
  try {
    if (next.session && next.session !== prev.session) {
      env.storage.setItem(STORAGE_KEY, JSON.stringify({ pin: next.pin, token: next.session.token }));
    } else if (['idle', 'ended', 'error'].includes(next.screen) && next.screen !== prev.screen) {
      env.storage.removeItem(STORAGE_KEY);
    }
  } catch { /* storage may be off: a reload then starts over */ }
}

/** The call this tab was in before a reload, or null. */
export function recall(storage) {
  try {
    const v = JSON.parse(storage.getItem(STORAGE_KEY) || 'null');
    return v && typeof v.pin === 'string' && typeof v.token === 'string' ? v : null;
  } catch {
    return null;
  }
}
