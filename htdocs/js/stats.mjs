// stats.mjs: a small connection-quality summary from RTCPeerConnection.getStats():
// direct or relayed, round-trip time, bitrate in and out, packet loss.

/** The selected candidate pair of a stats report (Chrome, Firefox, Safari). */
export function selectedPair(report) {
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) || pair;
  });
  if (pair) return pair;
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded')) && !pair) pair = s;
  });
  return pair;
}

/**
 * Summarise report (a Map-like RTCStatsReport) taken at time now (ms), given
 * the previous sample (or null). Returns { sample, view }: sample feeds the
 * next call; view is { path: 'direct'|'relay'|null, rtt: ms|null, inKbps,
 * outKbps, loss: percent|null }. Rates need two samples, so the first is null.
 */
export function summarize(report, prev, now) {
  const pair = selectedPair(report);
  let path = null;
  let rtt = null;
  if (pair) {
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    const types = [local && local.candidateType, remote && remote.candidateType];
    path = types.includes('relay') ? 'relay' : local || remote ? 'direct' : null;
    if (typeof pair.currentRoundTripTime === 'number') rtt = Math.round(pair.currentRoundTripTime * 1000);
  }
  const sample = { t: now, bytesIn: 0, bytesOut: 0, packets: 0, lost: 0 };
  report.forEach((s) => {
    if (s.type === 'inbound-rtp') {
      sample.bytesIn += s.bytesReceived || 0;
      sample.packets += s.packetsReceived || 0;
      sample.lost += Math.max(0, s.packetsLost || 0);
    } else if (s.type === 'outbound-rtp') {
      sample.bytesOut += s.bytesSent || 0;
    }
  });
  const view = { path, rtt, inKbps: null, outKbps: null, loss: null };
  const dt = prev ? (now - prev.t) / 1000 : 0;
  if (dt > 0) {
    view.inKbps = Math.max(0, Math.round(((sample.bytesIn - prev.bytesIn) * 8) / dt / 1000));
    view.outKbps = Math.max(0, Math.round(((sample.bytesOut - prev.bytesOut) * 8) / dt / 1000));
    const got = sample.packets - prev.packets;
    const lost = sample.lost - prev.lost;
    view.loss = got + lost > 0 ? Math.round((Math.max(0, lost) / (got + Math.max(0, lost))) * 1000) / 10 : 0;
  }
  return { sample, view };
}
