// The quality summary from getStats reports (Maps here).
import test from 'node:test';
import assert from 'node:assert/strict';
import { summarize, selectedPair } from '../../htdocs/js/stats.mjs';

function report({ localType = 'host', remoteType = 'host', rtt = 0.042, bytesIn = 0, bytesOut = 0, recv = 0, lost = 0, viaTransport = true }) {
  const r = new Map();
  if (viaTransport) r.set('T1', { id: 'T1', type: 'transport', selectedCandidatePairId: 'P1' });
  r.set('P1', { id: 'P1', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', state: 'succeeded', nominated: true, currentRoundTripTime: rtt });
  r.set('P2', { id: 'P2', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R', state: 'failed' });
  r.set('L', { id: 'L', type: 'local-candidate', candidateType: localType });
  r.set('L2', { id: 'L2', type: 'local-candidate', candidateType: 'relay' });
  r.set('R', { id: 'R', type: 'remote-candidate', candidateType: remoteType });
  r.set('IA', { id: 'IA', type: 'inbound-rtp', kind: 'audio', bytesReceived: bytesIn / 4, packetsReceived: recv / 2, packetsLost: lost / 2 });
  r.set('IV', { id: 'IV', type: 'inbound-rtp', kind: 'video', bytesReceived: (bytesIn * 3) / 4, packetsReceived: recv / 2, packetsLost: lost / 2 });
  r.set('OV', { id: 'OV', type: 'outbound-rtp', kind: 'video', bytesSent: bytesOut });
  return r;
}

test('direct path and round-trip time from the selected pair; no rates from one sample', () => {
  const { view } = summarize(report({}), null, 1000);
  assert.deepEqual(view, { path: 'direct', rtt: 42, inKbps: null, outKbps: null, loss: null });
});

test('relay on either end means relayed', () => {
  assert.equal(summarize(report({ localType: 'relay' }), null, 0).view.path, 'relay');
  assert.equal(summarize(report({ remoteType: 'relay' }), null, 0).view.path, 'relay');
  assert.equal(summarize(report({ localType: 'srflx', remoteType: 'prflx' }), null, 0).view.path, 'direct');
});

test('without transport stats the nominated succeeded pair is used (Firefox)', () => {
  assert.equal(selectedPair(report({ viaTransport: false })).id, 'P1');
});

test('bitrates and loss from two samples 2 s apart', () => {
  const a = summarize(report({ bytesIn: 100000, bytesOut: 50000, recv: 1000, lost: 0 }), null, 0);
  const b = summarize(report({ bytesIn: 350000, bytesOut: 300000, recv: 1990, lost: 10 }), a.sample, 2000);
  assert.equal(b.view.inKbps, 1000);
  assert.equal(b.view.outKbps, 1000);
  assert.equal(b.view.loss, 1);
});

test('no pair yet: nothing to say about the path', () => {
  const { view } = summarize(new Map(), null, 0);
  assert.equal(view.path, null);
  assert.equal(view.rtt, null);
});
