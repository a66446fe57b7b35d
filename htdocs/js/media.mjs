// media.mjs: camera and microphone. Falls back to audio only (or video only)
// when a device is missing or busy, and names a failure in terms a person can
// act on: permission, no-device, in-use, insecure, unsupported, media.

export const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: 'user' };

const RETRY_WITH_LESS = ['NotFoundError', 'DevicesNotFoundError', 'NotReadableError', 'TrackStartError',
  'OverconstrainedError', 'ConstraintNotSatisfiedError', 'AbortError'];

/** The code of a getUserMedia failure (see the file comment). */
export function classifyMediaError(e, secure = true) {
  const name = e && e.name;
  if (!secure) return 'insecure';
  if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') return 'permission';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError'
    || name === 'ConstraintNotSatisfiedError') return 'no-device';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'in-use';
  return 'media';
}

export class MediaError extends Error {
  constructor(code, detail = '') {
    super(detail || code);
    this.name = 'MediaError';
    this.code = code;
    this.detail = detail;
  }
}

/** Which kinds of input the browser lists; both true when it cannot tell. */
export async function inputKinds(md) {
  try {
    const list = await md.enumerateDevices();
    if (!Array.isArray(list) || !list.length) return { audio: true, video: true, cameras: 0 };
    const cameras = list.filter((d) => d.kind === 'videoinput').length;
    return { audio: list.some((d) => d.kind === 'audioinput'), video: cameras > 0, cameras };
  } catch {
    return { audio: true, video: true, cameras: 0 };
  }
}

/**
 * A MediaStream with a microphone and, when there is one, a camera. Tries
 * audio+video, then audio alone, then video alone, stopping early on a refusal.
 * Rejects with MediaError. env: { mediaDevices, secure } (injectable).
 */
export async function acquireMedia({ mediaDevices, secure = true } = {}) {
  const md = mediaDevices;
  if (!md || typeof md.getUserMedia !== 'function') throw new MediaError(secure ? 'unsupported' : 'insecure');
  const kinds = await inputKinds(md);
  const tries = [];
  if (kinds.audio && kinds.video) tries.push({ audio: true, video: VIDEO });
  if (kinds.audio) tries.push({ audio: true, video: false });
  if (kinds.video) tries.push({ audio: false, video: VIDEO });
  if (!tries.length) throw new MediaError('no-device');
  let first = null;
  for (const constraints of tries) {
    try {
      const stream = await md.getUserMedia(constraints);
      const after = await inputKinds(md); // labels and counts are complete once allowed
      return { stream, cameras: Math.max(after.cameras, stream.getVideoTracks().length) };
    } catch (e) {
      first = first || e;
      if (!RETRY_WITH_LESS.includes(e && e.name)) break;
    }
  }
  throw new MediaError(classifyMediaError(first, secure), String((first && first.message) || first || ''));
}

/**
 * The deviceId of the camera after the one in use (front/back on a phone),
 * or '' when there is no other camera.
 */
export async function nextCameraId(md, current) {
  const cams = (await md.enumerateDevices()).filter((d) => d.kind === 'videoinput' && d.deviceId);
  if (cams.length < 2) return '';
  const id = current && current.getSettings ? current.getSettings().deviceId : '';
  const i = cams.findIndex((d) => d.deviceId === id);
  return cams[(i + 1) % cams.length].deviceId;
}

/** A camera track from one device. Rejects as getUserMedia does. */
export async function cameraTrack(md, deviceId) {
  const stream = await md.getUserMedia({ video: { width: VIDEO.width, height: VIDEO.height, deviceId: { exact: deviceId } } });
  return stream.getVideoTracks()[0];
}
