// profiles.mjs: the lab's networks, as data. Each profile is what the router
// between the clients and the server does (its nftables forward rules, in
// order, first match wins, then accept; masquerade for NAT), what the server
// runs with (serve.sh variables over the lab's defaults), and what must
// happen. tests/lab/netlab.mjs runs them; docs/networks.md explains them.
//
// expect.connected: both pages reach `connected` with remote video playing.
// expect.local: every page's selected pair has this local candidate type.
// expect.someRelay: at least one page's selected local candidate is a relay.
// expect.relayProtocol: a page whose local candidate is a relay reaches the
//   relay over one of these (udp, tcp, tls).
// expect.stage: for a profile that must fail, where: `load` (the page does
//   not load), `join` (the first page never waits), `connect` (joined, never
//   connected), `video` (connected, no frames).
//
// Interface names are the router's: "srv" (the internet side, toward the
// server 203.0.113.10), "c1" (192.0.2.0/24), "c2" (198.51.100.0/24).

const CLIENTS = '{ "c1", "c2" }';
const ONLY_HTTPS_TO_SERVER = [
  'ct state established,related tcp sport 443 ip saddr 203.0.113.10 accept',
  `iifname ${CLIENTS} ip daddr 203.0.113.10 tcp dport 443 accept`,
  'drop',
];

export const PROFILES = [
  {
    name: 'open',
    models: 'an open network: everything routed, no NAT, no filter',
    forward: [],
    expect: { connected: true },
  },
  {
    name: 'nat',
    models: 'both clients behind symmetric NAT (masquerade fully-random, no hairpin, nothing in from outside)',
    forward: [
      'iifname "c1" oifname "c2" drop',
      'iifname "c2" oifname "c1" drop',
      'iifname "srv" ct state new drop',
    ],
    masquerade: true,
    expect: { connected: true, someRelay: true },
  },
  {
    name: 'udp-blocked',
    models: 'no UDP at all between the clients and the server or between the clients: TURN over TCP only',
    forward: ['meta l4proto udp drop'],
    expect: { connected: true, local: 'relay', relayProtocol: ['tcp', 'tls'] },
  },
  {
    name: 'blocked-all',
    models: 'self-check: no way for media (no relay, UDP dropped, clients cannot reach each other); '
      + 'only the page and its API (TCP 443 to the server) get through. Must fail to connect',
    forward: ONLY_HTTPS_TO_SERVER,
    server: { TURN: '0' },
    expect: { connected: false, stage: 'connect' },
  },
  {
    name: 'tcp443',
    models: 'only TCP to the server on port 443 (a firewall that allows web browsing only)',
    forward: ONLY_HTTPS_TO_SERVER,
    expect: { connected: true, local: 'relay', relayProtocol: ['tcp', 'tls'] },
  },
];
