// call.mjs: what the lab reads from a page (its states, its selected ICE
// candidate pair) and how a profile's result is judged against what the
// profile expects (profiles.mjs).

/**
 * Page init script: keep every RTCPeerConnection the page makes (for
 * getStats) and every #status data-state it shows, in order, with the
 * time it showed it (the machine's clock, the same in both browsers: the
 * lab's timings come from the pages, not from a runner that a loaded
 * machine may answer late).
 */
export function keepCallState() {
  const lab = { pcs: [], states: [], times: [] };
  window.__lab = lab;
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      lab.pcs.push(this);
    }
  };
  const watch = () => {
    const el = document.querySelector('#status');
    if (!el) return;
    const note = () => {
      const s = el.getAttribute('data-state');
      if (lab.states.at(-1) !== s) { lab.states.push(s); lab.times.push(Date.now()); }
    };
    note();
    new MutationObserver(note).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  };
  document.addEventListener('DOMContentLoaded', watch);
}

/**
 * The time (ms, Date.now() in the page) the page first showed `state`
 * (first at or after `after`), or null.
 */
export function stateTime(page, state, after = 0) {
  return page.evaluate(([st, t]) => {
    const { states, times } = window.__lab;
    const i = states.findIndex((s, k) => s === st && times[k] >= t);
    return i < 0 ? null : times[i];
  }, [state, after]);
}

/**
 * The selected candidate pair of the page's last RTCPeerConnection:
 * { local, remote (host/srflx/prflx/relay), protocol (udp/tcp, the local
 * candidate's), relayProtocol (udp/tcp/tls, a relay candidate's way to the
 * relay) }, or null when none is selected.
 */
export function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.__lab.pcs.at(-1);
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
    });
    const local = pair && stats.get(pair.localCandidateId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    if (!local) return null;
    return {
      local: local.candidateType, remote: remote?.candidateType, protocol: local.protocol,
      relayProtocol: local.relayProtocol, connection: pc.connectionState,
    };
  });
}

/**
 * The local candidates the page's last RTCPeerConnection gathered, as
 * distinct "type/protocol(relayProtocol)" strings (why a call did not connect).
 */
export function gathered(page) {
  return page.evaluate(async () => {
    const pc = window.__lab.pcs.at(-1);
    if (!pc) return [];
    const seen = new Set();
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'local-candidate') seen.add(`${r.candidateType}/${r.protocol}${r.relayProtocol ? `(${r.relayProtocol})` : ''}`);
    });
    return [...seen].sort();
  });
}

/**
 * The remote video as the page decodes it: { frames (inbound-rtp video
 * framesDecoded of the last RTCPeerConnection), clock (#remote-video's
 * currentTime) }; frames is null when there is no inbound video.
 */
export function videoFrames(page) {
  return page.evaluate(async () => {
    const pc = window.__lab.pcs.at(-1);
    let frames = null;
    if (pc) {
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') frames = (frames || 0) + (r.framesDecoded || 0);
      });
    }
    return { frames, clock: document.querySelector('#remote-video')?.currentTime ?? null };
  });
}

/**
 * { pass, why }: the result r of a call against profile.expect. r.stage is
 * where the call stopped (null: it connected, played, and still decoded
 * frames 30 s later).
 */
export function judge(profile, r) {
  const e = profile.expect;
  if (!e.connected) {
    if (!r.stage) return { pass: false, why: 'connected, but this profile must not' };
    if (r.stage !== e.stage) return { pass: false, why: `failed at ${r.stage}, expected at ${e.stage}` };
    if (e.deniedPeer) {
      const said = (r.turnLog || []).filter((l) => /denied|403/i.test(l) && l.includes(e.deniedPeer));
      if (!said.length) return { pass: false, why: `did not connect, but coturn's log never refused ${e.deniedPeer}` };
      return { pass: true, why: `did not connect, as it must: coturn refused ${e.deniedPeer} (${said[0].trim().slice(0, 120)})` };
    }
    return { pass: true, why: `did not connect, as it must (${e.stage})` };
  }
  if (r.stage) return { pass: false, why: `must connect; failed at ${r.stage}${r.error ? `: ${r.error}` : ''}` };
  const pairs = Object.values(r.pairs);
  if (pairs.length !== 2 || pairs.some((p) => !p)) return { pass: false, why: 'no selected candidate pair on a page' };
  if (e.local && pairs.some((p) => p.local !== e.local)) return { pass: false, why: `local candidates must be ${e.local}` };
  if (e.someRelay && !pairs.some((p) => p.local === 'relay')) return { pass: false, why: 'must go through the relay' };
  if (e.relayProtocol && pairs.some((p) => p.local === 'relay' && !e.relayProtocol.includes(p.relayProtocol))) {
    return { pass: false, why: `relay must be reached over ${e.relayProtocol.join('/')}` };
  }
  return { pass: true, why: 'as expected' };
}
