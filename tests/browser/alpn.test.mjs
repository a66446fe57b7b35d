// alpn.test.mjs: what Chromium's TURN-over-TLS client offers in its
// ClientHello. ONE_PORT's router (haproxy.cfg) sends a TLS connection that
// offers ALPN to the page and one that offers none to coturn: if Chromium
// ever offers h2 or http/1.1 for a turns: URL, TURN on the one port breaks,
// and this test says so. It also records the SNI: the URL's host name for a
// name, none for an IP literal (a router can route on neither for a bare IP).
//
// A listener of ours reads each ClientHello and closes the connection
// unanswered (Chromium then reports error 701 and gathers nothing). The
// page's own ClientHello to the same listener offers h2 and http/1.1: the
// parser sees ALPN when it is there.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { T, CHROMIUM_ARGS } from './harness.mjs';
import { helloCatcher } from './clienthello.mjs';
import { waitFor } from '../integration/harness.mjs';

const NAME = 'turn.tuturu.test';
let browser;
let catcher;
let page;

before(async () => {
  catcher = await helloCatcher();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${NAME} 127.0.0.1`],
  });
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
  await catcher?.close();
});

/** Gather relay candidates with `url` as the only ICE server; resolves the ICE errors. */
function gatherFrom(url) {
  return page.evaluate(async ([u, ms]) => {
    const pc = new RTCPeerConnection({
      iceServers: [{ urls: u, username: 'user', credential: 'pass' }], iceTransportPolicy: 'relay',
    });
    const errors = [];
    pc.onicecandidateerror = (e) => errors.push(e.errorCode);
    pc.createDataChannel('probe');
    const complete = new Promise((ok) => {
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && ok();
    });
    await pc.setLocalDescription();
    await Promise.race([complete, new Promise((ok) => setTimeout(ok, ms))]); // bounded
    pc.close();
    return errors;
  }, [url, T.short]);
}

/** The ClientHellos that reach the catcher while fn runs (at least one, bounded). */
async function hellosDuring(fn) {
  catcher.hellos.length = 0;
  await fn();
  await waitFor(() => catcher.hellos.length > 0, T.short, 'a ClientHello');
  return [...catcher.hellos];
}

const version = () => browser.version();

for (const [what, host, sni] of [['an IP literal', '127.0.0.1', null], ['a host name', NAME, NAME]]) {
  test(`turns: to ${what}: no ALPN (none that routes to the page), SNI ${sni ?? 'absent'}`, { timeout: T.call }, async () => {
    let errors;
    const hellos = await hellosDuring(async () => {
      errors = await gatherFrom(`turns:${host}:${catcher.port}?transport=tcp`);
    });
    const seen = `Chromium ${await version()}: ${JSON.stringify(hellos)}`;
    assert.ok(errors.includes(701), `the unanswered handshake fails (701): ${JSON.stringify(errors)}`);
    for (const h of hellos) {
      assert.equal(h.error, undefined, seen);
      assert.ok(!h.alpn?.includes('http/1.1') && !h.alpn?.includes('h2'),
        `turns: offers an HTTP protocol: the one-port router would send it to the page. ${seen}`);
      // any other ALPN goes to the page too, unless it names TURN (RFC 7443)
      assert.ok(h.alpn === null || h.alpn.includes('stun.turn'), `turns: offers ALPN without stun.turn. ${seen}`);
      assert.equal(h.sni, sni, seen);
    }
  });
}

test('the same browser loading a page offers h2 and http/1.1 (the parser sees ALPN)', { timeout: T.call }, async () => {
  const hellos = await hellosDuring(() => page.goto(`https://${NAME}:${catcher.port}/`).catch(() => {}));
  assert.deepEqual(hellos[0], { alpn: ['h2', 'http/1.1'], sni: NAME });
});
