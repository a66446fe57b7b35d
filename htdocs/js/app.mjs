// app.mjs: the page's entry point. Wires the DOM to dispatch(action):
// reduce -> effects -> render, one action at a time.

import { initialState, reduce } from './state.mjs';
import { effects, recall } from './effects.mjs';
import { render, collect } from './render.mjs';
import { createApi } from './api.mjs';
import { pickLang } from './i18n.mjs';
import { pinFromHash, randomPin } from './pin.mjs';

const LANG_KEY = 'tuturu.lang';

function storage(kind) {
  try {
    const s = window[kind];
    s.getItem('x');
    return s;
  } catch {
    const m = new Map(); // storage disabled: remember nothing
    return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
  }
}

function start() {
  const dom = collect(document);
  const local = storage('localStorage');
  const session = storage('sessionStorage');
  const debug = /[?&]debug\b/.test(location.search);
  const env = {
    mediaDevices: navigator.mediaDevices,
    secure: window.isSecureContext !== false,
    RTCPeerConnection: window.RTCPeerConnection,
    MediaStream: window.MediaStream,
    storage: session,
    location,
    history,
    clipboard: navigator.clipboard,
    timers: window,
    now: () => performance.now(),
    log: debug ? (...a) => console.log('tuturu:', ...a) : () => {},
  };
  const api = createApi({ sendBeacon: navigator.sendBeacon ? (u, d) => navigator.sendBeacon(u, d) : null });
  const refs = {};
  let state = initialState({ lang: local.getItem(LANG_KEY) || pickLang(navigator.languages || [navigator.language]), pin: pinFromHash(location.hash) });
  const queue = [];
  let busy = false;

  const ctx = { refs, api, dom: { localVideo: dom.localVideo, remoteVideo: dom.remoteVideo }, env, getState: () => state, dispatch };

  function dispatch(action) {
    queue.push(action);
    if (busy) return; // an effect dispatched: it runs after the current one
    busy = true;
    try {
      while (queue.length) {
        const a = queue.shift();
        const prev = state;
        state = reduce(prev, a);
        if (state === prev) continue;
        if (a.type !== 'STATS_MEASURED') env.log(a.type, state.screen);
        try { effects(prev, state, a, ctx); } catch (e) { console.error('tuturu effects', e); }
        render(state, prev, dom, location);
      }
    } finally {
      busy = false;
    }
  }

  const on = (el, type, fn) => el.addEventListener(type, fn);
  on(dom.joinForm, 'submit', (e) => { e.preventDefault(); dispatch({ type: 'JOIN_REQUESTED', pin: dom.pin.value }); });
  on(dom.pin, 'input', () => dispatch({ type: 'PIN_TYPED', pin: dom.pin.value }));
  on(dom.newPin, 'click', () => dispatch({ type: 'NEW_PIN_MADE', pin: randomPin() }));
  on(dom.copy, 'click', () => dispatch({ type: 'COPY_CLICKED' }));
  on(dom.retry, 'click', () => dispatch({ type: 'JOIN_REQUESTED' }));
  on(dom.again, 'click', () => dispatch({ type: 'JOIN_REQUESTED' }));
  on(dom.back, 'click', () => dispatch({ type: 'BACK_CLICKED' }));
  on(dom.home, 'click', () => dispatch({ type: 'BACK_CLICKED' }));
  on(dom.mute, 'click', () => dispatch({ type: 'MUTE_TOGGLED' }));
  on(dom.camera, 'click', () => dispatch({ type: 'CAMERA_TOGGLED' }));
  on(dom.switch, 'click', () => dispatch({ type: 'SWITCH_CLICKED' }));
  on(dom.hangup, 'click', () => dispatch({ type: 'HANGUP_CLICKED' }));
  on(dom.unmute, 'click', () => dispatch({ type: 'SOUND_ON_CLICKED' }));
  on(dom.lang, 'click', () => {
    const lang = state.lang === 'ru' ? 'en' : 'ru';
    local.setItem(LANG_KEY, lang);
    dispatch({ type: 'LANGUAGE_CHOSEN', lang });
  });
  on(window, 'hashchange', () => {
    const pin = pinFromHash(location.hash);
    if (pin) dispatch({ type: 'PIN_TYPED', pin });
  });
  // Leaving the page frees our place at once; a reload rejoins (see below).
  on(window, 'pagehide', () => { if (refs.token) api.leaveBeacon(refs.token); });
  on(window, 'online', () => {
    if (refs.poller) refs.poller.kick();
    if (refs.sender) refs.sender.kick();
  });

  render(state, null, dom, location);
  window.tuturu = { get state() { return state; }, refs, dispatch }; // for the console and tests

  const before = recall(session);
  if (before) { // this tab was in a call: the page was reloaded
    refs.staleToken = before.token;
    dispatch({ type: 'JOIN_REQUESTED', pin: before.pin, resume: true });
  } else if (!state.pin && window.matchMedia && matchMedia('(pointer: fine)').matches) {
    dom.pin.focus(); // not on phones: the keyboard would cover the page at once
  }
}

start();
