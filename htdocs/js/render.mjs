// render.mjs: the DOM drawn from state. Writes only what differs, and never
// touches live objects (video sources belong to effects.mjs).

import { t } from './i18n.mjs';
import { shareLink } from './pin.mjs';

const CALL_SCREENS = ['joining', 'waiting', 'connecting', 'connected', 'reconnecting'];

/** The elements render() and app.mjs use, by id. */
export function collect(doc) {
  const ids = ['status', 'status-text', 'lang', 'start', 'join-form', 'pin', 'pin-error', 'join', 'new-pin',
    'start-share', 'start-share-text', 'start-link', 'problem', 'problem-title', 'problem-text', 'retry', 'back',
    'ended', 'ended-text', 'again', 'home', 'call', 'remote-video', 'remote-off', 'call-info', 'call-info-text',
    'call-pin', 'call-share', 'call-link', 'copy', 'quality', 'remote-muted', 'notice', 'unmute', 'local-video', 'mute',
    'camera', 'switch', 'hangup'];
  const dom = { doc };
  for (const id of ids) dom[id.replace(/-(\w)/g, (m, c) => c.toUpperCase())] = doc.getElementById(id);
  return dom;
}

function set(el, prop, value) {
  if (el[prop] !== value) el[prop] = value;
}

function attr(el, name, value) {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function icon(button, id) {
  const use = button.querySelector('use');
  if (use && use.getAttribute('href') !== id) use.setAttribute('href', id);
}

/** The words of the call-screen banner, or '' for none. */
export function infoText(s) {
  if (s.screen === 'joining') return t(s.lang, s.step === 'media' ? 'info-media' : 'info-join');
  if (s.screen === 'waiting') return t(s.lang, s.peerAway ? 'info-away' : 'info-waiting', { pin: s.pin });
  if (s.screen === 'connecting') return t(s.lang, 'info-connecting');
  if (s.screen === 'reconnecting') return t(s.lang, 'info-reconnecting');
  return '';
}

/** The quality line: "direct · 24 ms · ↓ 1450 ↑ 1380 kbit/s · lost 0%". */
export function qualityText(s) {
  const q = s.stats;
  if (!q || !q.path) return '';
  const parts = [t(s.lang, q.path === 'relay' ? 'q-relay' : 'q-direct')];
  if (q.rtt !== null) parts.push(`${q.rtt} ${t(s.lang, 'q-ms')}`);
  if (q.inKbps !== null) parts.push(`↓ ${q.inKbps} ↑ ${q.outKbps} ${t(s.lang, 'q-kbps')}`);
  if (q.loss !== null) parts.push(`${t(s.lang, 'q-loss')} ${q.loss}%`);
  return parts.map((p) => p.replace(/ /g, '\u00a0')).join(' · '); // wrap between parts only
}

function translate(dom, lang) {
  const doc = dom.doc;
  doc.documentElement.lang = lang;
  for (const el of doc.querySelectorAll('[data-t]')) set(el, 'textContent', t(lang, el.dataset.t));
  for (const el of doc.querySelectorAll('[data-t-label]')) attr(el, 'aria-label', t(lang, el.dataset.tLabel));
  set(dom.lang, 'textContent', t(lang, 'lang-switch'));
  attr(dom.lang, 'lang', lang === 'en' ? 'ru' : 'en');
}

export function render(s, prev, dom, loc) {
  if (!prev || prev.lang !== s.lang) translate(dom, s.lang);
  dom.doc.body.dataset.screen = s.screen;
  set(dom.start, 'hidden', s.screen !== 'idle');
  set(dom.problem, 'hidden', s.screen !== 'error');
  set(dom.ended, 'hidden', s.screen !== 'ended');
  set(dom.call, 'hidden', !CALL_SCREENS.includes(s.screen));
  const link = s.pin && s.pin.length === 6 ? shareLink(loc, s.pin) : '';
  renderStatus(s, dom);
  renderStart(s, dom, link);
  renderProblem(s, dom);
  renderCall(s, dom, link);
  renderControls(s, dom);
}

/** The status pill: state (data-state for tests too) and the media path. */
function renderStatus(s, dom) {
  const text = t(s.lang, `state-${s.screen}`);
  attr(dom.status, 'data-state', s.screen);
  attr(dom.status, 'data-path', s.stats && s.stats.path ? s.stats.path : null);
  set(dom.statusText, 'textContent', text);
  set(dom.doc, 'title', s.screen === 'idle' ? 'tuturu' : `${text} · tuturu`);
}

function renderStart(s, dom, link) {
  const { lang } = s;
  if (dom.pin.value !== s.pin) dom.pin.value = s.pin;
  attr(dom.pin, 'aria-invalid', s.pinError ? 'true' : 'false');
  set(dom.pinError, 'hidden', !s.pinError);
  set(dom.pinError, 'textContent', s.pinError ? t(lang, 'pin-bad') : '');
  const shown = s.screen === 'idle' && (s.share === 'copied' || s.share === 'shown') && !!link;
  set(dom.startShare, 'hidden', !shown);
  set(dom.startShareText, 'textContent', t(lang, s.share === 'copied' ? 'link-copied' : 'link-show'));
  set(dom.startLink, 'textContent', link);
  attr(dom.startLink, 'href', link || '#');
}

function renderProblem(s, dom) {
  const { lang } = s;
  if (s.screen === 'error' && s.error) {
    const { code, seconds, detail } = s.error;
    set(dom.problemTitle, 'textContent', t(lang, `err-${code}-title`));
    set(dom.problemText, 'textContent', t(lang, `err-${code}`, { seconds: seconds || 1, detail: detail || code }));
    set(dom.retry, 'hidden', code === 'insecure' || code === 'unsupported');
  }
  set(dom.endedText, 'textContent', s.ended ? t(lang, s.ended === 'peer' ? 'ended-peer' : 'ended-you') : '');
}

function renderCall(s, dom, link) {
  const { lang } = s;
  const info = infoText(s);
  set(dom.callInfo, 'hidden', !info);
  set(dom.callInfoText, 'textContent', info);
  const sharing = s.screen === 'waiting' && !s.peerAway;
  set(dom.callPin, 'hidden', !sharing);
  set(dom.callPin, 'textContent', s.pin);
  set(dom.callShare, 'hidden', !sharing);
  set(dom.callLink, 'textContent', link);
  attr(dom.callLink, 'href', link || '#');
  set(dom.copy, 'textContent', t(lang, s.share === 'copied' ? 'copied' : 'copy'));

  const live = s.peerPresent && ['connected', 'reconnecting'].includes(s.screen);
  set(dom.remoteOff, 'hidden', !(live && (!s.remoteVideo || !s.remote.video)));
  set(dom.remoteMuted, 'hidden', !(live && !s.remote.audio));
  const quality = live ? qualityText(s) : '';
  set(dom.quality, 'hidden', !quality);
  set(dom.quality, 'textContent', quality);
  const audioOnly = !!s.media && !s.media.video;
  set(dom.notice, 'hidden', !audioOnly);
  set(dom.notice, 'textContent', audioOnly ? t(lang, 'audio-only') : '');
  set(dom.unmute, 'hidden', !s.soundBlocked);
  set(dom.localVideo, 'hidden', !s.media || !s.media.video);
}

/** Toggle buttons say their state with aria-pressed: pressed = off. */
function renderControls(s, dom) {
  const micOff = !s.mic;
  const camOff = !s.cam;
  attr(dom.mute, 'aria-pressed', String(micOff));
  set(dom.mute, 'disabled', !s.media || !s.media.audio);
  icon(dom.mute, micOff ? '#i-mic-off' : '#i-mic');
  attr(dom.camera, 'aria-pressed', String(camOff));
  set(dom.camera, 'disabled', !s.media || !s.media.video);
  icon(dom.camera, camOff ? '#i-cam-off' : '#i-cam');
  set(dom.switch, 'hidden', !s.canSwitch);
  set(dom.switch, 'disabled', s.switching);
}
