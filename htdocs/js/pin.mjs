// pin.mjs: the 6-digit PIN: checking, cleaning, making a random one, links.

/** True when s is exactly six ASCII digits. */
export function isPin(s) {
  return typeof s === 'string' && /^[0-9]{6}$/.test(s);
}

/** What a person typed, reduced to at most six digits (spaces, dashes dropped). */
export function cleanPin(s) {
  return String(s ?? '').replace(/[^0-9]/g, '').slice(0, 6);
}

/**
 * A uniformly random PIN from a getRandomValues-like function (rejection
 * sampling, so no digit string is likelier than another).
 */
export function randomPin(getRandomValues = (a) => crypto.getRandomValues(a)) {
  const limit = 4294000000; // largest multiple of 1e6 below 2^32
  const word = new Uint32Array(1);
  do getRandomValues(word); while (word[0] >= limit);
  return String(word[0] % 1000000).padStart(6, '0');
}

/** The PIN of a link's fragment ("#123456"), or '' when there is none. */
export function pinFromHash(hash) {
  const m = /^#?([0-9]{6})$/.exec(String(hash ?? '').trim());
  return m ? m[1] : '';
}

/** The link that opens this page with the PIN filled in. */
export function shareLink(loc, pin) {
  return `${loc.origin}${loc.pathname}#${pin}`;
}
