// fakes.mjs: a manual clock for the transport tests (node 18 has no mock timers).

export function fakeTimers() {
  let now = 0;
  let nextId = 0;
  const due = new Map();
  const timers = {
    get now() { return now; },
    get pending() { return due.size; },
    setTimeout(fn, ms = 0) {
      const id = ++nextId;
      due.set(id, { fn, at: now + Math.max(0, ms) });
      return id;
    },
    clearTimeout(id) { due.delete(id); },
    /** Run every timer due within ms, in time order, settling promises between. */
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        await settle();
        let first = null;
        for (const [id, t] of due) if (t.at <= end && (!first || t.at < first[1].at)) first = [id, t];
        if (!first) break;
        due.delete(first[0]);
        now = first[1].at;
        first[1].fn();
      }
      now = end;
      await settle();
    },
  };
  return timers;
}

/** Let pending promise callbacks run. */
export async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** A promise with its resolve and reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}
