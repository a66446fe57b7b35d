// Camera and microphone: fallbacks and errors a person can act on.
import test from 'node:test';
import assert from 'node:assert/strict';
import { acquireMedia, classifyMediaError, nextCameraId } from '../../htdocs/js/media.mjs';

const domErr = (name) => Object.assign(new Error(name), { name });
const track = (kind, deviceId = kind) => ({ kind, getSettings: () => ({ deviceId }) });
const streamOf = (c) => {
  const tracks = [...(c.audio ? [track('audio')] : []), ...(c.video ? [track('video')] : [])];
  return { getTracks: () => tracks, getVideoTracks: () => tracks.filter((t) => t.kind === 'video'), getAudioTracks: () => tracks.filter((t) => t.kind === 'audio') };
};

function devices({ list = [{ kind: 'audioinput' }, { kind: 'videoinput' }], fail = {} } = {}) {
  const asked = [];
  return {
    asked,
    enumerateDevices: async () => list,
    getUserMedia: async (c) => {
      asked.push({ audio: !!c.audio, video: !!c.video });
      const key = `${c.audio ? 'a' : ''}${c.video ? 'v' : ''}`;
      if (fail[key]) throw domErr(fail[key]);
      return streamOf(c);
    },
  };
}

test('camera and microphone together when both work', async () => {
  const md = devices();
  const { stream, cameras } = await acquireMedia({ mediaDevices: md });
  assert.equal(stream.getVideoTracks().length, 1);
  assert.equal(cameras, 1);
  assert.deepEqual(md.asked, [{ audio: true, video: true }]);
});

test('no camera listed: audio only, asked for directly', async () => {
  const md = devices({ list: [{ kind: 'audioinput' }] });
  const { stream } = await acquireMedia({ mediaDevices: md });
  assert.equal(stream.getVideoTracks().length, 0);
  assert.deepEqual(md.asked, [{ audio: true, video: false }]);
});

test('camera missing or busy at getUserMedia: falls back to audio only', async () => {
  for (const name of ['NotFoundError', 'NotReadableError', 'OverconstrainedError']) {
    const md = devices({ fail: { av: name } });
    const { stream } = await acquireMedia({ mediaDevices: md });
    assert.equal(stream.getAudioTracks().length, 1, name);
    assert.deepEqual(md.asked, [{ audio: true, video: true }, { audio: true, video: false }]);
  }
});

test('no microphone: video only', async () => {
  const md = devices({ fail: { av: 'NotFoundError', a: 'NotFoundError' } });
  const { stream } = await acquireMedia({ mediaDevices: md });
  assert.equal(stream.getVideoTracks().length, 1);
  assert.equal(md.asked.length, 3);
});

test('a refusal is not retried and is explained as permission', async () => {
  const md = devices({ fail: { av: 'NotAllowedError' } });
  await assert.rejects(acquireMedia({ mediaDevices: md }), (e) => e.code === 'permission');
  assert.equal(md.asked.length, 1);
});

test('everything busy: in-use; nothing at all: no-device', async () => {
  await assert.rejects(acquireMedia({ mediaDevices: devices({ fail: { av: 'NotReadableError', a: 'NotReadableError', v: 'NotReadableError' } }) }),
    (e) => e.code === 'in-use');
  await assert.rejects(acquireMedia({ mediaDevices: devices({ list: [{ kind: 'audiooutput' }] }) }), (e) => e.code === 'no-device');
});

test('no mediaDevices: insecure page (http) or an old browser', async () => {
  await assert.rejects(acquireMedia({ mediaDevices: undefined, secure: false }), (e) => e.code === 'insecure');
  await assert.rejects(acquireMedia({ mediaDevices: undefined, secure: true }), (e) => e.code === 'unsupported');
});

test('classifyMediaError names', () => {
  assert.equal(classifyMediaError(domErr('NotAllowedError')), 'permission');
  assert.equal(classifyMediaError(domErr('SecurityError')), 'permission');
  assert.equal(classifyMediaError(domErr('NotFoundError')), 'no-device');
  assert.equal(classifyMediaError(domErr('NotReadableError')), 'in-use');
  assert.equal(classifyMediaError(domErr('TypeError')), 'media');
  assert.equal(classifyMediaError(domErr('NotAllowedError'), false), 'insecure');
});

test('nextCameraId cycles through cameras; none with one camera', async () => {
  const md = { enumerateDevices: async () => [{ kind: 'videoinput', deviceId: 'front' }, { kind: 'audioinput', deviceId: 'm' }, { kind: 'videoinput', deviceId: 'back' }] };
  assert.equal(await nextCameraId(md, track('video', 'front')), 'back');
  assert.equal(await nextCameraId(md, track('video', 'back')), 'front');
  const one = { enumerateDevices: async () => [{ kind: 'videoinput', deviceId: 'front' }] };
  assert.equal(await nextCameraId(one, track('video', 'front')), '');
});
