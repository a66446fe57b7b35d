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
 * The sender: what is queued goes out together, one request at a time, in
 * the order pushed, so the other side sees an offer before its candidates.
 * send(messages) posts a batch ([{type, data}], at most `max`); a message
 * pushed while one is in flight waits for the next, and the first push after
 * a quiet spell waits `linger` ms for the candidates that trickle right after
 * it. Each message's data gets n, a counter the receiver uses to drop a
 * duplicate (a retried batch whose first try did arrive). Transient failures
 * retry the same batch; a 4xx that retrying cannot fix (409 no_peer: nobody
 * to tell) drops it.
 */
export function createSender({ send, onLost, onDropped = () => {}, timers = globalThis,
  random = Math.random, base = 500, cap = 5000, linger = 25, max = 32, maxBytes = 48 * 1024 }) {
  const queue = [];
  let n = 0;
  let busy = false;
  let stopped = false;
  let failures = 0;
  let era = 0; // clear() starts a new one: a batch of an older era is not sent again
  const sleeper = makeSleeper(timers);

  /** One batch until it is sent, dropped or outdated. */
  async function deliver(batch, mine) {
    for (;;) {
      try {
        await send(batch);
        failures = 0;
        return;
      } catch (e) {
        if (stopped || mine !== era) return;
        if (e && e.status === 401) {
          stopped = true;
          queue.length = 0;
          onLost(e);
          return;
        }
        if (!transient(e)) {
          batch.forEach((m) => onDropped(m, e));
          return;
        }
        failures++;
        await sleeper.sleep(backoff(failures, random, base, cap));
        if (stopped || mine !== era) return;
      }
    }
  }

  /** The next batch: up to max messages and maxBytes of JSON (the server takes 64 and 64 KiB). */
  function take() {
    let k = 0;
    for (let size = 0; k < queue.length && k < max; k++) {
      size += JSON.stringify(queue[k]).length;
      if (k > 0 && size > maxBytes) break;
    }
    return queue.splice(0, k);
  }

  async function pump() {
    busy = true;
    await sleeper.sleep(linger);
    while (queue.length && !stopped) await deliver(take(), era);
    busy = false;
  }

  return {
    push(type, data = {}) {
      if (stopped) return;
      queue.push({ type, data: { ...data, n: ++n } });
      if (!busy) pump();
    },
    /** Forget what has not gone out yet (it was for a connection now closed). */
    clear() { queue.length = 0; era++; },
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

const ICE_MARGIN_MS = 60000; // ask this long before expiry (a quarter of the lifetime when shorter)
const ICE_MIN_WAIT_MS = 1000; // never more often than this, whatever turn_ttl says
const ICE_RETRY_CAP_MS = 30000;

/** {iceServers, iceTransportPolicy} from a join or /api/turn answer. */
export function iceConfig(answer) {
  const a = answer || {};
  return {
    iceServers: Array.isArray(a.ice_servers) ? a.ice_servers : [],
    iceTransportPolicy: a.ice_transport_policy === 'relay' ? 'relay' : 'all',
  };
}

/**
 * The session's ICE servers, with TURN credentials kept fresh (docs/api.md,
 * GET /api/turn). coturn takes a credential only for new allocations, before
 * its expiry (turn_ttl seconds); a call already relayed keeps going. So the
 * keeper asks the server again when a quarter of the lifetime (at most a
 * minute) is left and hands the answer to onConfig, for setConfiguration on
 * the open connection; fresh() asks at once, before an ICE restart.
 * initial: the join answer; load(): resolves a /api/turn answer. Failures are
 * retried with backoff; a 401 (we left the room) goes once to onLost and ends
 * it. An answer without turn_ttl (no TURN servers) is kept until fresh().
 */
export function createIceKeeper({ initial, load, onConfig = () => {}, onLost = () => {}, onError = () => {},
  timers = globalThis, now = () => Date.now(), random = Math.random }) {
  let config = iceConfig(initial);
  let timer = null;
  let inflight = null;
  let stopped = false;
  let failures = 0;

  function schedule(ms) {
    timers.clearTimeout(timer);
    timer = stopped ? null : timers.setTimeout(() => { timer = null; fresh(); }, Math.max(ICE_MIN_WAIT_MS, ms));
  }

  /** Take an answer obtained at time `asked`; schedule the next refresh. */
  function take(answer, asked) {
    config = iceConfig(answer);
    const ttl = Number(answer && answer.turn_ttl) > 0 ? answer.turn_ttl * 1000 : 0;
    if (ttl) schedule(asked + ttl - Math.min(ICE_MARGIN_MS, ttl / 4) - now());
    else timers.clearTimeout(timer);
  }

  /** Ask for fresh credentials now; resolves the config to use (the old one if that failed). */
  function fresh() {
    if (stopped) return Promise.resolve(config);
    if (inflight) return inflight;
    const asked = now();
    inflight = Promise.resolve().then(load).then((answer) => {
      inflight = null;
      if (stopped) return config;
      failures = 0;
      take(answer, asked);
      onConfig(config);
      return config;
    }, (e) => {
      inflight = null;
      if (stopped) return config;
      if (e && e.status === 401) {
        stop();
        onLost(e);
        return config;
      }
      failures++;
      onError(e, failures);
      schedule(backoff(failures, random, 1000, ICE_RETRY_CAP_MS));
      return config;
    });
    return inflight;
  }

  function stop() {
    stopped = true;
    timers.clearTimeout(timer);
    timer = null;
  }

  take(initial, now());
  return {
    get config() { return config; },
    fresh,
    stop,
    get scheduled() { return timer !== null; },
  };
}
