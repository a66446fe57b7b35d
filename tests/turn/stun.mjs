// stun.mjs: a small TURN client (RFC 5389/5766) for the tests: Allocate,
// Refresh, CreatePermission, ChannelBind, Send, over UDP, TCP or TLS to a
// server on loopback, with long-term credentials (the TURN REST API's
// username and password). It reports the server's answer (success or error
// code), which the refusal tests need; Debian's turnutils_uclient only says
// "Cannot complete Allocation".
//
// Only send() makes the relay send anything to a peer, and it refuses any
// address outside 127.0.0.0/8 but those connect() was given as `peers`
// (addresses in a network namespace the test made itself). A permission or
// channel only makes coturn note the address.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

// CRC-32 (IEEE, as zlib's) for the FINGERPRINT attribute. zlib.crc32 needs
// Node 20.15; Debian 12's Node is 18.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const MAGIC = 0x2112a442;
export const METHOD = { BINDING: 0x001, ALLOCATE: 0x003, REFRESH: 0x004, SEND: 0x006, DATA: 0x007, CREATE_PERMISSION: 0x008, CHANNEL_BIND: 0x009 };
const ATTR = {
  USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d, XOR_PEER_ADDRESS: 0x0012, DATA: 0x0013, REALM: 0x0014, NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_ADDRESS_FAMILY: 0x0017, REQUESTED_TRANSPORT: 0x0019, XOR_MAPPED_ADDRESS: 0x0020,
  SOFTWARE: 0x8022, FINGERPRINT: 0x8028,
};
export const UDP = 17;
export const TCP = 6;

/** An IPv4 or IPv6 address as 4 or 16 bytes. Throws on anything else. */
export function ipBytes(ip) {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = ipBytes(v4[1]);
    s = s.slice(0, -v4[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function xorAddress(ip, port, txid) {
  const raw = ipBytes(ip);
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC, 0);
  txid.copy(mask, 4);
  const v = Buffer.alloc(4 + raw.length);
  v[1] = raw.length === 4 ? 1 : 2;
  v.writeUInt16BE(port ^ (MAGIC >>> 16), 2);
  for (let i = 0; i < raw.length; i++) v[4 + i] = raw[i] ^ mask[i];
  return v;
}

function parseXorAddress(v, txid) {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC, 0);
  txid.copy(mask, 4);
  const port = v.readUInt16BE(2) ^ (MAGIC >>> 16);
  const raw = Buffer.from(v.subarray(4).map((b, i) => b ^ mask[i]));
  const ip = v[1] === 1 ? [...raw].join('.') : raw.toString('hex').match(/.{4}/g).join(':');
  return { ip, port };
}

/** Encode a STUN message; key (a Buffer) adds MESSAGE-INTEGRITY; FINGERPRINT always. */
function encode(type, txid, attrs, key) {
  const parts = [];
  for (const [t, value] of attrs) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(t, 0);
    h.writeUInt16BE(value.length, 2);
    parts.push(h, value, Buffer.alloc((4 - (value.length % 4)) % 4));
  }
  let body = Buffer.concat(parts);
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(MAGIC, 4);
    txid.copy(h, 8);
    return h;
  };
  if (key) {
    const mac = crypto.createHmac('sha1', key).update(Buffer.concat([header(body.length + 24), body])).digest();
    const a = Buffer.alloc(4);
    a.writeUInt16BE(ATTR.MESSAGE_INTEGRITY, 0);
    a.writeUInt16BE(20, 2);
    body = Buffer.concat([body, a, mac]);
  }
  const crc = (crc32(Buffer.concat([header(body.length + 8), body])) ^ 0x5354554e) >>> 0;
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(ATTR.FINGERPRINT, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE(crc, 4);
  return Buffer.concat([header(body.length + 8), body, fp]);
}

function decode(buf) {
  const type = buf.readUInt16BE(0);
  const len = buf.readUInt16BE(2);
  const txid = buf.subarray(8, 20);
  const attrs = new Map();
  for (let i = 20; i + 4 <= 20 + len;) {
    const t = buf.readUInt16BE(i);
    const l = buf.readUInt16BE(i + 2);
    if (!attrs.has(t)) attrs.set(t, buf.subarray(i + 4, i + 4 + l));
    i += 4 + l + ((4 - (l % 4)) % 4);
  }
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = ((type & 0x0010) >> 4) | ((type & 0x0100) >> 7);
  const m = { method, cls, txid, attrs };
  const err = attrs.get(ATTR.ERROR_CODE);
  if (err) m.error = { code: (err[2] & 7) * 100 + err[3], reason: err.subarray(4).toString('utf8') };
  return m;
}

const typeOf = (method, cls) =>
  (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);

/**
 * A connection to a TURN server on host:port. transport 'udp', 'tcp' or
 * 'tls' (tlsOptions go to tls.connect: ca, servername). peers: addresses
 * besides 127.0.0.0/8 that send() may reach (only addresses inside a network
 * namespace the test made). localAddress: the client's own address (TCP, TLS;
 * 127.0.0.2 and up are further client addresses on loopback). Rejects when
 * it cannot connect within timeoutMs.
 */
export async function connect({ host = '127.0.0.1', port, transport = 'udp', tlsOptions = {}, timeoutMs = 5000, peers = [], localAddress }) {
  const pending = new Map(); // txid hex -> resolve
  const indications = [];
  const waiters = [];
  const deliver = (buf) => {
    const m = decode(buf);
    const p = pending.get(m.txid.toString('hex'));
    if (p && m.cls >= 2) {
      pending.delete(m.txid.toString('hex'));
      p(m);
    } else if (m.cls === 1) {
      indications.push(m);
      waiters.splice(0).forEach((w) => w());
    }
  };
  let write;
  let close;
  if (transport === 'udp') {
    const sock = dgram.createSocket('udp4');
    await new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(port, host, resolve);
    });
    sock.on('message', deliver);
    sock.on('error', () => {});
    write = (b) => sock.send(b);
    close = () => sock.close();
  } else {
    const sock = transport === 'tls'
      ? tls.connect({ host, port, localAddress, ...tlsOptions })
      : net.connect({ host, port, localAddress });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${transport} connect: no answer within ${timeoutMs} ms`)), timeoutMs);
      sock.once(transport === 'tls' ? 'secureConnect' : 'connect', () => { clearTimeout(timer); resolve(); });
      sock.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    let acc = Buffer.alloc(0);
    sock.on('data', (d) => {
      acc = Buffer.concat([acc, d]);
      while (acc.length >= 20 && acc.length >= 20 + acc.readUInt16BE(2)) {
        const n = 20 + acc.readUInt16BE(2);
        deliver(acc.subarray(0, n));
        acc = acc.subarray(n);
      }
    });
    sock.on('error', () => {});
    write = (b) => sock.write(b);
    close = () => sock.destroy();
  }

  const c = {
    transport,
    username: null,
    password: undefined,
    key: null,
    realm: null,
    nonce: null,
    /**
     * Send one request (with the credentials, once known) and resolve with
     * the decoded answer; retransmitted every 500 ms on UDP, rejected after
     * timeout ms. An attribute value may be a function of the transaction id
     * (an IPv6 XOR-PEER-ADDRESS is masked with it).
     */
    transact(method, attrs, timeout = timeoutMs) {
      const txid = crypto.randomBytes(12);
      const own = attrs.map(([t, v]) => [t, typeof v === 'function' ? v(txid) : v]);
      const all = c.key
        ? [...own, [ATTR.USERNAME, Buffer.from(c.username)], [ATTR.REALM, Buffer.from(c.realm)], [ATTR.NONCE, c.nonce]]
        : own;
      const msg = encode(typeOf(method, 0), txid, all, c.key);
      return new Promise((resolve, reject) => {
        let tries = 0;
        const resend = () => {
          if (transport !== 'udp' && tries > 0) return;
          tries++;
          write(msg);
        };
        const timer = setInterval(resend, 500);
        const deadline = setTimeout(() => {
          clearInterval(timer);
          pending.delete(txid.toString('hex'));
          reject(new Error(`no answer to method 0x${method.toString(16)} within ${timeout} ms`));
        }, timeout);
        pending.set(txid.toString('hex'), (m) => {
          clearInterval(timer);
          clearTimeout(deadline);
          resolve(m);
        });
        resend();
      });
    },
    /**
     * A request with long-term credentials: the first try earns the realm
     * and nonce (401), the second carries them; a stale nonce (438) is
     * refreshed once. Answers {ok, code, reason, msg}.
     */
    async request(method, attrs) {
      let m = await c.transact(method, attrs);
      for (let round = 0; round < 2 && m.error && c.username !== null &&
        (m.error.code === 438 || (m.error.code === 401 && !c.key && c.password !== undefined)); round++) {
        c.realm = m.attrs.get(ATTR.REALM)?.toString('utf8') ?? c.realm;
        c.nonce = m.attrs.get(ATTR.NONCE) ?? c.nonce;
        c.key = crypto.createHash('md5').update(`${c.username}:${c.realm}:${c.password}`).digest();
        m = await c.transact(method, attrs);
      }
      return { ok: !m.error, code: m.error?.code ?? 0, reason: m.error?.reason ?? '', msg: m };
    },
    /**
     * Allocate a relay: credentials {username, password} or none; family 6
     * asks for an IPv6 relay. Answers {ok, code, reason, relayed: {ip, port}}.
     */
    async allocate({ username, password, requestedTransport = UDP, family = 4 } = {}) {
      c.username = username ?? null;
      c.password = password;
      c.key = null;
      const attrs = [[ATTR.REQUESTED_TRANSPORT, Buffer.from([requestedTransport, 0, 0, 0])]];
      if (family === 6) attrs.push([ATTR.REQUESTED_ADDRESS_FAMILY, Buffer.from([2, 0, 0, 0])]);
      const r = await c.request(METHOD.ALLOCATE, attrs);
      const a = r.msg.attrs.get(ATTR.XOR_RELAYED_ADDRESS);
      if (a) r.relayed = parseXorAddress(a, r.msg.txid);
      r.software = r.msg.attrs.get(ATTR.SOFTWARE)?.toString('utf8');
      return r;
    },
    /** A STUN Binding: the address the server sees this client at, {ip, port}. */
    async binding() {
      const m = await c.transact(METHOD.BINDING, []);
      const a = m.attrs.get(ATTR.XOR_MAPPED_ADDRESS);
      if (m.error || !a) throw new Error(`Binding: ${m.error ? m.error.code : 'no XOR-MAPPED-ADDRESS'}`);
      return parseXorAddress(a, m.txid);
    },
    /** Refresh the allocation for `lifetime` seconds (0 deletes it). */
    refresh(lifetime = 600) {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(lifetime, 0);
      return c.request(METHOD.REFRESH, [[ATTR.LIFETIME, v]]);
    },
    /** CreatePermission for peer ip (the server ignores the port). */
    createPermission(ip) {
      return c.request(METHOD.CREATE_PERMISSION, [[ATTR.XOR_PEER_ADDRESS, (txid) => xorAddress(ip, 9, txid)]]);
    },
    /** ChannelBind channel (0x4000-0x7fff) to ip:port. */
    channelBind(ip, port, channel = 0x4000) {
      const ch = Buffer.alloc(4);
      ch.writeUInt16BE(channel, 0);
      return c.request(METHOD.CHANNEL_BIND, [[ATTR.CHANNEL_NUMBER, ch], [ATTR.XOR_PEER_ADDRESS, (txid) => xorAddress(ip, port, txid)]]);
    },
    /** A Send indication to ip:port (loopback and `peers` only: see the file's header). */
    send(ip, port, data) {
      if (!/^127\./.test(ip) && !peers.includes(ip)) throw new Error(`the tests send to loopback peers only, not ${ip}`);
      const txid = crypto.randomBytes(12);
      write(encode(typeOf(METHOD.SEND, 1), txid,
        [[ATTR.XOR_PEER_ADDRESS, xorAddress(ip, port, txid)], [ATTR.DATA, Buffer.from(data)]]));
    },
    /** The next Data indication's {from, data}, within ms. */
    async receive(ms = timeoutMs) {
      const until = Date.now() + ms;
      while (!indications.length) {
        if (Date.now() > until) throw new Error(`no Data indication within ${ms} ms`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, until - Date.now());
          waiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
      const m = indications.shift();
      return { from: parseXorAddress(m.attrs.get(ATTR.XOR_PEER_ADDRESS), m.txid), data: m.attrs.get(ATTR.DATA) };
    },
    close,
  };
  return c;
}
