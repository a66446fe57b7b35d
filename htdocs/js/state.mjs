// state.mjs: the page's state and reduce(state, action) -> state. Pure: no
// DOM, no network, no timers; effects.mjs does what a transition asks for.
//
// Screens: idle -> joining (step 'media', then 'join') -> waiting ->
// connecting -> connected <-> reconnecting -> ended; error from joining.
// Every case first guards and returns the same state when it does not apply.

import { isPin, cleanPin } from './pin.mjs';
import { ERROR_CODES } from './i18n.mjs';

export const SCREENS = ['idle', 'joining', 'waiting', 'connecting', 'connected', 'reconnecting', 'ended', 'error'];

/** Screens during which we hold a session (or are getting one) and media. */
const IN_CALL = ['waiting', 'connecting', 'connected', 'reconnecting'];
const CAN_START = ['idle', 'ended', 'error'];

const REMOTE_DEFAULT = Object.freeze({ audio: true, video: true });

export function initialState({ lang = 'en', pin = '' } = {}) {
  return {
    screen: 'idle',
    step: null, // joining or reconnecting: 'media' | 'join' | null
    lang,
    pin, // the PIN in the box, and of the call once joining
    pinError: false,
    resume: false, // this join replaces a session of the same tab (reload)
    error: null, // { code, seconds?, detail? } on the error screen
    ended: null, // 'you' | 'peer'
    session: null, // { peer, token, polite, iceServers, policy, turnTtl, pollTimeout }
    peerPresent: false,
    peerGen: 0, // counts arrivals of the other person: a new one needs a new connection
    peerAway: false, // the other person vanished without hanging up
    offerFirst: false, // we were in the room first: we make the first offer
    conn: 'new', // RTCPeerConnection.connectionState
    media: null, // { audio, video }: what we captured
    canSwitch: false,
    switching: false, // a camera switch is under way
    mic: true,
    cam: true,
    remote: REMOTE_DEFAULT, // what the other person says they send
    remoteVideo: false, // a remote video track arrived
    soundBlocked: false, // autoplay refused sound: we show a tap-to-unmute button
    share: null, // 'copying' | 'copied' | 'shown': the link to send
    stats: null, // { path, rtt, inKbps, outKbps, loss }
  };
}

/** A fresh call attempt for pin, keeping what is not about a call. */
function startJoin(state, pin, resume) {
  return {
    ...initialState({ lang: state.lang, pin }),
    screen: 'joining', step: 'media', resume: !!resume,
  };
}

function knownError(code) {
  return ERROR_CODES.includes(code) ? code : 'server';
}

/** What is left of a call's live parts when it stops. */
function callOver(state, fields) {
  return {
    ...state, step: null, session: null, peerPresent: false, peerAway: false, conn: 'new',
    media: null, remoteVideo: false, soundBlocked: false, stats: null, remote: REMOTE_DEFAULT, ...fields,
  };
}

export function reduce(state, action) {
  switch (action.type) {
    case 'LANGUAGE_CHOSEN':
      return action.lang === state.lang || !['en', 'ru'].includes(action.lang) ? state : { ...state, lang: action.lang };

    case 'PIN_TYPED': {
      if (!CAN_START.includes(state.screen)) return state;
      const pin = cleanPin(action.pin);
      return pin === state.pin && !state.pinError ? state : { ...state, pin, pinError: false };
    }

    case 'NEW_PIN_MADE':
      if (!CAN_START.includes(state.screen) || !isPin(action.pin)) return state;
      return { ...state, screen: state.screen === 'error' ? 'idle' : state.screen, error: null, pin: action.pin, pinError: false, share: 'copying' };

    case 'COPY_CLICKED':
      return isPin(state.pin) && state.share !== 'copying' ? { ...state, share: 'copying' } : state;

    case 'LINK_SHARED':
      if (state.share !== 'copying') return state;
      return { ...state, share: action.how === 'copied' ? 'copied' : 'shown' };

    case 'JOIN_REQUESTED': {
      if (!CAN_START.includes(state.screen)) return state;
      const pin = action.pin === undefined ? state.pin : cleanPin(action.pin);
      if (!isPin(pin)) return { ...state, screen: 'idle', pin, pinError: true, error: null, ended: null };
      return startJoin(state, pin, action.resume);
    }

    case 'MEDIA_ACQUIRED':
      if (state.step !== 'media') return state;
      return {
        ...state, step: 'join', media: { audio: !!action.audio, video: !!action.video },
        mic: !!action.audio, cam: !!action.video, canSwitch: !!action.canSwitch,
      };

    case 'MEDIA_FAILED':
      if (state.step !== 'media') return state;
      return callOver(state, { screen: 'error', error: { code: knownError(action.code), detail: action.detail || '' } });

    case 'JOINED': {
      if (state.step !== 'join') return state;
      const two = action.peers === 2;
      const session = {
        peer: action.peer, token: action.token, polite: !!action.polite,
        iceServers: action.iceServers || [], policy: action.policy === 'relay' ? 'relay' : 'all',
        turnTtl: action.turnTtl > 0 ? action.turnTtl : 0,
        pollTimeout: action.pollTimeout > 0 ? action.pollTimeout : 25,
      };
      const screen = !two ? 'waiting' : state.screen === 'reconnecting' ? 'reconnecting' : 'connecting';
      return {
        ...state, screen, step: null, session, peerPresent: two, peerGen: state.peerGen + (two ? 1 : 0), offerFirst: false,
        peerAway: !two && state.screen === 'reconnecting', conn: 'new', remote: REMOTE_DEFAULT, remoteVideo: false,
      };
    }

    case 'JOIN_FAILED':
      if (state.step !== 'join') return state;
      return callOver(state, {
        screen: 'error',
        error: { code: knownError(action.code), seconds: action.seconds || 0, detail: action.detail || '' },
      });

    case 'SESSION_LOST': // the server forgot our token (401): join again with the same PIN
      if (!state.session) return state;
      return {
        ...state, screen: state.peerPresent || state.screen === 'reconnecting' ? 'reconnecting' : 'joining',
        step: 'join', session: null, peerPresent: false, conn: 'new', remoteVideo: false, stats: null,
      };

    case 'PEER_JOINED':
      if (!state.session || !IN_CALL.includes(state.screen)) return state;
      return {
        ...state, screen: state.screen === 'waiting' ? 'connecting' : state.screen,
        peerPresent: true, peerGen: state.peerGen + 1, peerAway: false, conn: 'new', offerFirst: true,
        remote: REMOTE_DEFAULT, remoteVideo: false, soundBlocked: false, stats: null,
      };

    case 'PEER_LEFT':
      if (!state.peerPresent) return state;
      return {
        ...state, screen: 'waiting', peerPresent: false, peerAway: true, conn: 'new',
        remote: REMOTE_DEFAULT, remoteVideo: false, soundBlocked: false, stats: null,
      };

    case 'PEER_HUNG_UP':
      if (!state.session || !IN_CALL.includes(state.screen)) return state;
      return callOver(state, { screen: 'ended', ended: 'peer' });

    case 'HANGUP_CLICKED':
      if (state.screen !== 'joining' && !IN_CALL.includes(state.screen)) return state;
      return callOver(state, { screen: 'ended', ended: 'you' });

    case 'CONNECTION_CHANGED': {
      if (!state.peerPresent || action.state === state.conn) return state;
      const next = { ...state, conn: action.state };
      if (action.state === 'connected' && ['connecting', 'reconnecting'].includes(state.screen)) next.screen = 'connected';
      if (['disconnected', 'failed'].includes(action.state) && state.screen === 'connected') next.screen = 'reconnecting';
      return next;
    }

    case 'REMOTE_TRACK':
      if (!state.peerPresent || action.kind !== 'video' || state.remoteVideo) return state;
      return { ...state, remoteVideo: true };

    case 'REMOTE_MEDIA':
      if (!state.peerPresent) return state;
      return { ...state, remote: { audio: action.audio !== false, video: action.video !== false } };

    case 'SOUND_BLOCKED':
      return state.peerPresent && !state.soundBlocked ? { ...state, soundBlocked: true } : state;

    case 'SOUND_ON_CLICKED':
      return state.soundBlocked ? { ...state, soundBlocked: false } : state;

    case 'SWITCH_CLICKED':
      if (!state.canSwitch || state.switching || !state.media?.video || !state.session) return state;
      return { ...state, switching: true };

    case 'CAMERA_SWITCHED':
      return state.switching ? { ...state, switching: false } : state;

    case 'MUTE_TOGGLED':
      return state.media?.audio ? { ...state, mic: !state.mic } : state;

    case 'CAMERA_TOGGLED':
      return state.media?.video ? { ...state, cam: !state.cam } : state;

    case 'STATS_MEASURED':
      return state.peerPresent ? { ...state, stats: action.stats } : state;

    case 'BACK_CLICKED':
      if (state.screen !== 'error' && state.screen !== 'ended') return state;
      return { ...state, screen: 'idle', error: null, ended: null, pinError: false };

    default:
      return state;
  }
}
