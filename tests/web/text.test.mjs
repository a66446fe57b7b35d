// PINs, links, and the two languages.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webcrypto } from 'node:crypto';
import { isPin, cleanPin, randomPin, pinFromHash, shareLink } from '../../htdocs/js/pin.mjs';
import { STRINGS, t, pickLang, ERROR_CODES } from '../../htdocs/js/i18n.mjs';
import { SCREENS } from '../../htdocs/js/state.mjs';

const HTDOCS = join(dirname(fileURLToPath(import.meta.url)), '../../htdocs');

test('isPin and cleanPin', () => {
  assert.ok(isPin('000000'));
  assert.ok(!isPin('12345'));
  assert.ok(!isPin('1234567'));
  assert.ok(!isPin('12345a'));
  assert.ok(!isPin('１２３４５６'), 'full-width digits are not ASCII');
  assert.ok(!isPin(123456));
  assert.equal(cleanPin(' 123-456 '), '123456');
  assert.equal(cleanPin('1234567'), '123456');
  assert.equal(cleanPin(null), '');
});

test('randomPin: six digits, leading zeros kept, biased values rejected', () => {
  const seq = [4294967295, 42];
  const pin = randomPin((a) => { a[0] = seq.shift(); return a; });
  assert.equal(pin, '000042');
  // (the page's default is the browser's crypto; Node 18 has no global one)
  const browserLike = (a) => webcrypto.getRandomValues(a);
  for (let i = 0; i < 200; i++) assert.ok(isPin(randomPin(browserLike)));
});

test('links: #123456 fills the PIN in', () => {
  assert.equal(pinFromHash('#123456'), '123456');
  assert.equal(pinFromHash('123456'), '123456');
  assert.equal(pinFromHash('#12345'), '');
  assert.equal(pinFromHash('#1234567'), '');
  assert.equal(pinFromHash(''), '');
  assert.equal(shareLink({ origin: 'https://x.example', pathname: '/call/' }, '012345'), 'https://x.example/call/#012345');
});

test('the language comes from the browser, English otherwise', () => {
  assert.equal(pickLang(['ru-RU', 'en']), 'ru');
  assert.equal(pickLang(['de-DE', 'en-GB']), 'en');
  assert.equal(pickLang(['uk']), 'en');
  assert.equal(pickLang([]), 'en');
  assert.equal(pickLang(undefined), 'en');
});

test('English and Russian have the same keys, none empty', () => {
  assert.deepEqual(Object.keys(STRINGS.ru).sort(), Object.keys(STRINGS.en).sort());
  for (const lang of ['en', 'ru']) for (const [k, v] of Object.entries(STRINGS[lang])) assert.ok(v.trim(), `${lang} ${k}`);
  assert.equal(t('ru', 'err-rate_limited', { seconds: 9 }), 'Подождите 9 с и нажмите «Попробовать снова».');
});

test('every text the page shows exists in both languages', () => {
  const keys = new Set();
  const html = readFileSync(join(HTDOCS, 'index.html'), 'utf8');
  for (const m of html.matchAll(/data-t(?:-label)?="([^"]+)"/g)) keys.add(m[1]);
  for (const f of readdirSync(join(HTDOCS, 'js'))) {
    const src = readFileSync(join(HTDOCS, 'js', f), 'utf8');
    for (const m of src.matchAll(/\bt\(\s*lang\s*,\s*'([^']+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/\?\s*'([a-z]+-[a-z-]+)'\s*:\s*'([a-z]+-[a-z-]+)'/g)) { keys.add(m[1]); keys.add(m[2]); }
  }
  for (const s of SCREENS) keys.add(`state-${s}`);
  for (const c of ERROR_CODES) { keys.add(`err-${c}`); keys.add(`err-${c}-title`); }
  assert.ok(keys.size > 40, `found ${keys.size} keys`);
  for (const k of keys) {
    assert.ok(k in STRINGS.en, `en lacks ${k}`);
    assert.ok(k in STRINGS.ru, `ru lacks ${k}`);
  }
});

test('the page fits the budget: HTML + CSS + JS <= 60 KiB gzipped', async () => {
  const { gzipSync } = await import('node:zlib');
  const files = ['index.html', 'style.css', ...readdirSync(join(HTDOCS, 'js')).map((f) => join('js', f))];
  const total = files.reduce((n, f) => n + gzipSync(readFileSync(join(HTDOCS, f))).length, 0);
  assert.ok(total <= 60 * 1024, `${total} bytes`);
});

test('a reload finds its call in session storage; junk there is ignored', async () => {
  const { recall, STORAGE_KEY } = await import('../../htdocs/js/effects.mjs');
  const store = (v) => ({ getItem: (k) => (k === STORAGE_KEY ? v : null) });
  assert.deepEqual(recall(store('{"pin":"123456","token":"abc"}')), { pin: '123456', token: 'abc' });
  assert.equal(recall(store(null)), null);
  assert.equal(recall(store('{not json')), null);
  assert.equal(recall(store('{"pin":123456}')), null);
  assert.equal(recall({ getItem: () => { throw new Error('denied'); } }), null);
});
