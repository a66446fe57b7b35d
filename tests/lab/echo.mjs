// echo.mjs: a UDP echo for tests/lab/delay.test.mjs, run inside a namespace.
//   node echo.mjs serve ADDR PORT        echoes every datagram; prints "ready"
//   node echo.mjs measure ADDR PORT N    N round trips, one after the other
//                                        (each waits up to 3 s), then a burst
//                                        of N; prints one JSON line:
//                                        { rtts: [ms...], lost, burstOrder: [seq...] }
import dgram from 'node:dgram';

const [mode, addr, portText, countText] = process.argv.slice(2);
const port = Number(portText);

function serve() {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, from) => s.send(msg, from.port, from.address));
  s.bind(port, addr, () => console.log('ready'));
}

async function measure(n) {
  const s = dgram.createSocket('udp4');
  await new Promise((ok) => s.bind(0, ok));
  const replies = [];
  let wake = null;
  s.on('message', (m) => { replies.push(m.toString()); if (wake) wake(); });
  const next = (ms) => new Promise((ok) => { const t = setTimeout(() => { wake = null; ok(false); }, ms); wake = () => { clearTimeout(t); wake = null; ok(true); }; });
  const rtts = [];
  let lost = 0;
  for (let i = 0; i < n; i++) {
    const tag = `rtt-${i}`;
    const t0 = process.hrtime.bigint();
    s.send(tag, port, addr);
    let got = false;
    while (!got) {
      if (!(await next(3000))) break;
      got = replies.includes(tag);
    }
    if (got) rtts.push(Number(process.hrtime.bigint() - t0) / 1e6); else lost++;
  }
  replies.length = 0;
  for (let i = 0; i < n; i++) s.send(`burst-${i}`, port, addr);
  while (replies.filter((r) => r.startsWith('burst-')).length < n && (await next(3000)));
  const burstOrder = replies.filter((r) => r.startsWith('burst-')).map((r) => Number(r.slice(6)));
  console.log(JSON.stringify({ rtts, lost, burstOrder }));
  s.close();
}

if (mode === 'serve') serve();
else if (mode === 'measure') measure(Number(countText));
else { console.error('usage: echo.mjs serve ADDR PORT | measure ADDR PORT N'); process.exit(2); }
