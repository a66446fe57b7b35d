// clienthello.mjs: a TCP listener that reads each TLS ClientHello sent to it
// and closes the connection, and the parser that takes the ALPN and SNI
// extensions out of it (RFC 8446 4.1.2, RFC 6066 3, RFC 7301 3.1). For the
// tests that check what a browser offers before anyone answers it.
import net from 'node:net';

const EXT_SNI = 0;
const EXT_ALPN = 16;

/** A reader over a buffer that throws on a read past the end. */
function reader(buf) {
  let at = 0;
  const need = (n) => {
    if (at + n > buf.length) throw new Error(`ClientHello truncated at byte ${at} (wanted ${n} more)`);
  };
  return {
    u8() { need(1); return buf[at++]; },
    u16() { need(2); const v = buf.readUInt16BE(at); at += 2; return v; },
    u24() { need(3); const v = buf.readUIntBE(at, 3); at += 3; return v; },
    bytes(n) { need(n); const v = buf.subarray(at, at + n); at += n; return v; },
    get left() { return buf.length - at; },
  };
}

/**
 * The handshake message of the TLS records in buf, or null while more
 * bytes are needed. Throws when buf is not TLS handshake records.
 */
function handshake(buf) {
  const parts = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    if (buf[at] !== 0x16) throw new Error(`not a TLS handshake record (first byte 0x${buf[at].toString(16)})`);
    const len = buf.readUInt16BE(at + 3);
    if (at + 5 + len > buf.length) return null;
    parts.push(buf.subarray(at + 5, at + 5 + len));
    at += 5 + len;
    const msg = Buffer.concat(parts);
    if (msg.length >= 4 && msg.length >= 4 + msg.readUIntBE(1, 3)) return msg;
  }
  return null;
}

/** The protocol names of an ALPN extension. */
function alpnList(data) {
  const r = reader(data);
  const list = reader(r.bytes(r.u16()));
  const out = [];
  while (list.left) out.push(list.bytes(list.u8()).toString('latin1'));
  return out;
}

/** The host_name of a server_name extension, or null. */
function hostName(data) {
  const r = reader(data);
  const list = reader(r.bytes(r.u16()));
  while (list.left) {
    const type = list.u8();
    const name = list.bytes(list.u16()).toString('latin1');
    if (type === 0) return name;
  }
  return null;
}

/**
 * Parse a ClientHello out of raw bytes from the wire. Returns null while
 * incomplete, else { alpn: [protocols] | null (no extension), sni: name | null }.
 */
export function parseClientHello(buf) {
  const msg = handshake(buf);
  if (!msg) return null;
  const r = reader(msg);
  if (r.u8() !== 1) throw new Error('not a ClientHello');
  r.u24();
  r.bytes(2 + 32); // legacy_version, random
  r.bytes(r.u8()); // session id
  r.bytes(r.u16()); // cipher suites
  r.bytes(r.u8()); // compression methods
  const hello = { alpn: null, sni: null };
  if (!r.left) return hello;
  const ext = reader(r.bytes(r.u16()));
  while (ext.left) {
    const type = ext.u16();
    const data = ext.bytes(ext.u16());
    if (type === EXT_ALPN) hello.alpn = alpnList(data);
    if (type === EXT_SNI) hello.sni = hostName(data);
  }
  return hello;
}

/**
 * Listen on 127.0.0.1 (a free port); every connection's ClientHello, parsed,
 * goes to `hellos`, then the connection is closed unanswered. A connection
 * that sends something else is recorded as { error }.
 * Resolves { port, hellos, close() }.
 */
export async function helloCatcher() {
  const hellos = [];
  const server = net.createServer((sock) => {
    let got = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.setTimeout(10000, () => sock.destroy());
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      try {
        const hello = parseClientHello(got);
        if (!hello) return;
        hellos.push(hello);
      } catch (e) {
        hellos.push({ error: e.message });
      }
      sock.destroy();
    });
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return {
    port: server.address().port,
    hellos,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
