// report.mjs: how the lab tells its results: one line per profile as it
// ends, the table (build/netlab/table.md, docs/networks.md), the summary
// and the exit status, where a known failure (profile.known) is counted
// failed but does not fail the run.

const pairText = (p) => (p ? `${p.local}/${p.protocol}${p.relayProtocol ? `(${p.relayProtocol})` : ''}->${p.remote}` : '-');

/** Remote frames decoded over the window read 30 s after connecting, per page. */
function laterText(r) {
  if (!r.later) return '-';
  return ['A', 'B'].map((n) => {
    const l = r.later[n];
    return l ? `${n} +${l.frames} in ${l.seconds} s` : `${n} none`;
  }).join(', ');
}

export function verdict(r) {
  if (r.pass) return r.known ? 'PASS (marked known-failing!)' : 'PASS';
  return r.known ? `FAILED (known: ${r.known})` : 'FAIL';
}

export function line(r) {
  const how = r.connected ? `connected in ${r.seconds} s${r.outage ? `, back ${r.outage.back ?? '?'} s after the outage` : ''}; `
      + `at 30 s ${laterText(r)}`
    : `not connected (${r.stage}: ${r.error || ''}; join offered ${r.offered?.join(' ') || 'nothing'}; `
      + `gathered A ${r.gathered?.A}, B ${r.gathered?.B})`;
  return `${verdict(r)} ${r.profile.padEnd(16)} ${how}; A ${pairText(r.pairs.A)}, B ${pairText(r.pairs.B)}; `
    + `${r.why} [${r.total} s]`;
}

export function table(results) {
  const rows = results.map((r) => `| ${r.profile} | ${r.pass ? 'pass' : r.known ? 'FAIL (known)' : 'FAIL'} | `
    + `${r.connected ? 'yes' : `no (${r.stage})`} | ${r.seconds ?? '-'} | ${laterText(r)} | `
    + `${pairText(r.pairs.A)} | ${pairText(r.pairs.B)} | ${r.why}${r.known && !r.pass ? ` (${r.known})` : ''} |`);
  return ['| profile | result | connected | seconds | video 30 s later (frames decoded) | A: local/proto(relay)->remote | B | why |',
    '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

/** The summary lines and the exit status (1 only for failures not known). */
export function summary(results) {
  const passed = results.filter((r) => r.pass);
  const failed = results.filter((r) => !r.pass);
  const unknown = failed.filter((r) => !r.known);
  const lines = [`${passed.length} passed, ${failed.length} failed`
    + `${failed.length ? ` (${failed.length - unknown.length} known, ${unknown.length} not)` : ''}`];
  for (const r of passed.filter((x) => x.known)) {
    lines.push(`netlab: !!! ${r.profile} PASSED but is marked known-failing (${r.known}): `
      + 'if it passes every time now, remove `known` from tests/lab/profiles.mjs !!!');
  }
  return { lines, code: unknown.length ? 1 : 0 };
}
