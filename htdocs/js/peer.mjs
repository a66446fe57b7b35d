// peer.mjs: one RTCPeerConnection driven by the perfect negotiation pattern
// (webrtc/samples, perfect-negotiation/js/peer.js): either side may offer at
// any time; on a collision the impolite side ignores the other's offer and the
// polite side rolls its own back. Signaling goes out through send(type, data):
//   'description' { type, sdp }     'candidate' { candidate: RTCIceCandidateInit }
// Incoming messages are handled strictly one after another, in order.
//
// Glare is handled, but avoided where it is cheap to: Chromium sometimes
// gathers no candidates at all on the polite side after it rolled back its own
// first offer, and the call then never connects. So the newcomer to a room
// (waitForOffer) adds its tracks only when the other side's offer arrives, or
// after offerWaitMs if none does; only the side already there offers first.

/**
 * Make a peer. opts: { RTCPeerConnection, config, polite, stream, send,
 * onConnectionState(state), onTrack(track, streams), onError(e),
 * waitForOffer, offerWaitMs, timers }.
 */
export function createPeer(opts) {
  const { polite, stream, send, waitForOffer = false, offerWaitMs = 5000, timers = globalThis } = opts;
  const onError = opts.onError || (() => {});
  const pc = new opts.RTCPeerConnection(opts.config);
  let makingOffer = false;
  let ignoreOffer = false;
  let closed = false;
  let tracksAdded = false;
  let chain = Promise.resolve();
  const early = []; // candidates that came before any remote description

  /** Our tracks go on the connection once; the first time is a negotiation. */
  function addTracks() {
    timers.clearTimeout(waitTimer);
    if (tracksAdded || closed) return;
    tracksAdded = true;
    if (stream) for (const track of stream.getTracks()) pc.addTrack(track, stream);
  }
  const waitTimer = waitForOffer ? timers.setTimeout(addTracks, offerWaitMs) : null;
  if (!waitForOffer) addTracks();

  pc.ontrack = (ev) => { if (!closed) opts.onTrack(ev.track, ev.streams); };
  pc.onicecandidate = (ev) => {
    // The end-of-candidates marker (null) is not needed: trickle ends by itself.
    if (!closed && ev.candidate && ev.candidate.candidate) send('candidate', { candidate: ev.candidate.toJSON() });
  };
  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      await pc.setLocalDescription();
      if (!closed) send('description', { type: pc.localDescription.type, sdp: pc.localDescription.sdp });
    } catch (e) {
      onError(e);
    } finally {
      makingOffer = false;
    }
  };
  pc.onconnectionstatechange = () => { if (!closed) opts.onConnectionState(pc.connectionState); };

  async function onDescription(d) {
    if (!d || (d.type !== 'offer' && d.type !== 'answer') || typeof d.sdp !== 'string') return;
    const collision = d.type === 'offer' && (makingOffer || pc.signalingState !== 'stable');
    ignoreOffer = !polite && collision;
    if (ignoreOffer) return;
    await pc.setRemoteDescription({ type: d.type, sdp: d.sdp }); // rolls back our offer if need be
    while (early.length) await addCandidate(early.shift());
    if (d.type === 'offer') {
      addTracks(); // into the transceivers the offer made: the answer sends as well
      await pc.setLocalDescription();
      if (!closed) send('description', { type: pc.localDescription.type, sdp: pc.localDescription.sdp });
    }
  }

  async function addCandidate(c) {
    try {
      await pc.addIceCandidate(c);
    } catch (e) {
      if (!ignoreOffer) onError(e); // a candidate of an offer we ignored fails: expected
    }
  }

  async function onCandidate(c) {
    if (!c || typeof c.candidate !== 'string') return;
    if (pc.remoteDescription) await addCandidate(c);
    else if (!ignoreOffer) early.push(c); // else it belongs to the offer we ignored
  }

  return {
    pc,
    get polite() { return polite; },
    /** Queue one incoming message; resolves when it (and those before) are done. */
    receive(type, data) {
      chain = chain.then(async () => {
        if (closed) return;
        if (type === 'description') await onDescription(data);
        else if (type === 'candidate') await onCandidate(data && data.candidate);
      }).catch(onError);
      return chain;
    },
    /**
     * New ICE servers (fresh TURN credentials) for the allocations to come;
     * the ones in use keep theirs. No restart, no renegotiation.
     */
    configure(config) {
      if (closed || !config) return;
      try { pc.setConfiguration({ ...pc.getConfiguration(), ...config }); } catch (e) { onError(e); }
    },
    /** ICE restart, with fresh ICE servers when given (new TURN credentials). */
    restart(config) {
      if (closed) return;
      this.configure(config);
      if (typeof pc.restartIce === 'function') pc.restartIce();
    },
    /** Replace the outgoing track of a kind (camera switch), no renegotiation. */
    replaceTrack(kind, track) {
      const sender = pc.getSenders().find((s) => s.track && s.track.kind === kind);
      return sender ? sender.replaceTrack(track) : Promise.resolve();
    },
    close() {
      if (closed) return;
      closed = true;
      timers.clearTimeout(waitTimer);
      pc.ontrack = pc.onicecandidate = pc.onnegotiationneeded = pc.onconnectionstatechange = null;
      pc.close();
    },
    get closed() { return closed; },
    get tracksAdded() { return tracksAdded; },
  };
}
