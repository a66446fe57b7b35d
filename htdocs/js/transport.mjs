// transport.mjs: the long-poll receiver and the ordered sender on top of the
// API. Both retry transient failures with capped exponential backoff and
// jitter, and report a 401 (the server dropped us) once through onLost.
// Timers and randomness are injectable so node tests can drive them.

/**
 * Delay before retry number `failures` (1, 2, ...): between half and all of
 * min(cap, base * 2^(failures-1)) ms ("equal jitter").
 */
export function backoff(failures, random = Math.random, base = 500, cap = 5000) {
  const ceil = Math.min(cap, base * 2 ** Math.max(0, failures - 1));
  return Math.round(ceil / 2 + random() * (ceil / 2));
}

/** An error worth retrying: no answer, a timeout, or a server-side failure. */
export function transient(e) {
  const s = e && e.status;
  return !s || s === 408 || s === 429 || s >= 500;
}

/** A sleep that wake() ends early; used for backoff waits. */
function makeSleeper(timers) {
  let wake = null;
  return {
    sleep(ms) {
      return new Promise((resolve) => {
        const t = timers.setTimeout(done, ms);
        function done() { timers.clearTimeout(t); wake = null; resolve(); }
        wake = done;
      });
    },
    wake() { if (wake) wake(); },
  };
}

/**
 * The receiver: exactly one poll outstanding at any time. poll(after, signal)
 * resolves with the messages after `after`; each batch goes to onMessages in
 * seq order, and the cursor moves past it. A failed poll is repeated with the
 * same cursor after a backoff, so nothing is lost or seen twice. A poll that
 * hangs longer than watchdogMs (a stalled connection) is aborted and retried.
 */
export function createPoller({ poll, onMessages, onLost, onError = () => {}, timers = globalThis,
  random = Math.random, watchdogMs = 40000, base = 500, cap = 5000 }) {
  let after = 0;
  let running = false;
  let failures = 0;
  let controller = null;
  const sleeper = makeSleeper(timers);

  async function loop() {
    while (running) {
      const ctl = (controller = new AbortController());
      const watchdog = timers.setTimeout(() => ctl.abort(), watchdogMs);
      let messages = null;
      try {
        messages = await poll(after, ctl.signal);
        failures = 0;
      } catch (e) {
        if (!running) break;
        if (e && e.status === 401) {
          running = false;
          onLost(e);
          break;
        }
        failures++;
        onError(e, failures);
      } finally {
        timers.clearTimeout(watchdog);
        controller = null;
      }
      if (!running) break;
      if (messages === null) {
        await sleeper.sleep(backoff(failures, random, base, cap));
        continue;
      }
      const fresh = messages.filter((m) => m && Number.isSafeInteger(m.seq) && m.seq > after);
      fresh.sort((a, b) => a.seq - b.seq);
      if (fresh.length) {
        after = fresh[fresh.length - 1].seq;
        try { onMessages(fresh); } catch (e) { onError(e, 0); }
      }
    }
  }

  return {
    /** Start polling after seq `from`; a running poller ignores this. */
    start(from = 0) {
      if (running) return;
      running = true;
      after = from;
      loop();
    },
    /** Stop for good: the poll in flight is aborted and no other starts. */
    stop() {
      running = false;
      if (controller) controller.abort();
      sleeper.wake();
    },
    /** Retry now instead of at the end of a backoff (the network came back). */
    kick() { sleeper.wake(); },
    get after() { return after; },
    get running() { return running; },
    get failures() { return failures; },
  };
}

/**
 * The sender: messages go out one at a time, in the order pushed, so the
 * other side sees an offer before its candidates. Each message's data object
 * gets n, a counter the receiver uses to drop a duplicate (a retry whose first
 * try did arrive). Transient failures are retried; a 4xx that retrying cannot
 * fix (409 no_peer: nobody to tell) drops that message.
 */
export function createSender({ send, onLost, onDropped = () => {}, timers = globalThis,
  random = Math.random, base = 500, cap = 5000 }) {
  const queue = [];
  let n = 0;
  let busy = false;
  let stopped = false;
  let failures = 0;
  const sleeper = makeSleeper(timers);

  async function pump() {
    busy = true;
    while (queue.length && !stopped) {
      const m = queue[0];
      try {
        await send(m.type, m.data);
        failures = 0;
        if (queue[0] === m) queue.shift();
      } catch (e) {
        if (stopped) break;
        if (e && e.status === 401) {
          stopped = true;
          queue.length = 0;
          onLost(e);
          break;
        }
        if (!transient(e)) {
          if (queue[0] === m) queue.shift();
          onDropped(m, e);
          continue;
        }
        failures++;
        await sleeper.sleep(backoff(failures, random, base, cap));
      }
    }
    busy = false;
  }

  return {
    push(type, data = {}) {
      if (stopped) return;
      queue.push({ type, data: { ...data, n: ++n } });
      if (!busy) pump();
    },
    /** Forget what has not gone out yet (it was for a connection now closed). */
    clear() { queue.length = 0; },
    stop() { stopped = true; queue.length = 0; sleeper.wake(); },
    kick() { sleeper.wake(); },
    get pending() { return queue.length; },
  };
}

/**
 * Drops messages seen before: data.n must grow within one sender's session.
 * reset() when the other side is a new session (peer-joined / peer-left).
 */
export function createDeduper() {
  let last = 0;
  return {
    fresh(data) {
      const n = data && typeof data === 'object' ? data.n : undefined;
      if (!Number.isSafeInteger(n)) return true;
      if (n <= last) return false;
      last = n;
      return true;
    },
    reset() { last = 0; },
  };
}
