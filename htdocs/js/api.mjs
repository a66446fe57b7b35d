// api.mjs: the signaling API v1 over fetch (docs/api.md). Every failure is an
// ApiError: status 0 and code 'network' when no answer came at all.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Seconds from a Retry-After header (delta form only; dates become 0). */
export function retryAfterSeconds(value) {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n >= 0 && String(n) === String(value).trim() ? n : 0;
}

/**
 * An API client. fetchFn and sendBeacon are injectable for tests.
 * timeoutMs bounds every request except a poll, whose bound the caller sets.
 */
export function createApi({ base = '', fetchFn = (...a) => fetch(...a), sendBeacon = null, timeoutMs = 15000 } = {}) {
  /**
   * One request; resolves with the parsed JSON body (null for 204), rejects
   * with ApiError. signal aborts it; so does the timeout (ms, 0 for none).
   */
  async function request(method, path, { token, body, signal, timeout = timeoutMs } = {}) {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    if (signal) signal.aborted ? ctl.abort() : signal.addEventListener('abort', onAbort, { once: true });
    const timer = timeout ? setTimeout(() => ctl.abort(), timeout) : null;
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetchFn(base + path, {
        method, headers, cache: 'no-store', signal: ctl.signal,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.status === 204) return null;
      let json = null;
      try { json = await res.json(); } catch { /* not JSON: a proxy's page */ }
      if (res.ok && json !== null) return json;
      const code = json && typeof json.error === 'string' ? json.error : res.ok ? 'bad_response' : `http_${res.status}`;
      throw new ApiError(res.status, code, json && json.message, retryAfterSeconds(res.headers.get('Retry-After')));
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(0, 'network', e && e.name === 'AbortError' ? 'aborted' : String(e && e.message));
    } finally {
      if (timer) clearTimeout(timer);
      if (signal) signal.removeEventListener('abort', onAbort);
    }
  }

  return {
    request,
    join: (pin) => request('POST', '/api/join', { body: { pin } }),
    send: (token, type, data) => request('POST', '/api/send', { token, body: { type, data } }),
    /** Several messages ([{type, data}]) in one request, stored together (docs/api.md). */
    sendBatch: (token, messages) => request('POST', '/api/send', { token, body: { messages } }),
    /** Held by the server up to its poll timeout: the caller aborts via signal. */
    poll: (token, after, signal) =>
      request('GET', `/api/poll?after=${after}`, { token, signal, timeout: 0 }).then((r) =>
        Array.isArray(r && r.messages) ? r.messages : Promise.reject(new ApiError(200, 'bad_response', 'no messages'))),
    leave: (token) => request('POST', '/api/leave', { token }),
    turn: (token) => request('GET', '/api/turn', { token }),
    /** Leave while the page goes away: a beacon carries the token in its body. */
    leaveBeacon(token) {
      const data = JSON.stringify({ token });
      if (sendBeacon && sendBeacon(base + '/api/leave', data)) return true;
      fetchFn(base + '/api/leave', { method: 'POST', body: data, keepalive: true }).catch(() => {});
      return false;
    },
  };
}
