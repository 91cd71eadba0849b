// Talking to the hearth server that served this page (same origin only:
// relative URLs, JSON bodies). With --api-key the key is asked for once and
// kept in this browser's localStorage.

import { SseParser, NdjsonParser } from './stream.js';

const KEY = 'hearth.apiKey';

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The message of an error body in either API's shape. */
export function errorMessage(status, body) {
  if (body && typeof body === 'object') {
    const e = body.error;
    if (typeof e === 'string') return e;
    if (e && typeof e.message === 'string') return e.message;
  }
  if (status === 401) return 'the server wants an API key';
  return `the server answered ${status}`;
}

export function apiKey() {
  try {
    return localStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

export function setApiKey(k) {
  if (k) localStorage.setItem(KEY, k);
  else localStorage.removeItem(KEY);
}

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  const k = apiKey();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

async function request(method, path, body, signal) {
  let r;
  try {
    r = await fetch(path, {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new HttpError(0, 'cannot reach the hearth server: is `hearth serve` still running?');
  }
  if (!r.ok) {
    let b = null;
    try {
      b = await r.json();
    } catch {
      /* not JSON */
    }
    throw new HttpError(r.status, errorMessage(r.status, b));
  }
  return r;
}

export async function getJson(path) {
  return (await request('GET', path)).json();
}

export async function postJson(path, body, signal) {
  return (await request('POST', path, body, signal)).json();
}

/** The chunks of a streamed chat completion, parsed. */
export async function* chatStream(body, signal) {
  const r = await request('POST', '/v1/chat/completions', body, signal);
  const sse = new SseParser();
  const dec = new TextDecoder();
  const reader = r.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const data of sse.feed(dec.decode(value, { stream: true }))) {
      if (data === '[DONE]') return;
      yield JSON.parse(data);
    }
  }
}

/** The progress lines of POST /api/pull, parsed. */
export async function* pullStream(model, signal) {
  const r = await request('POST', '/api/pull', { model, stream: true }, signal);
  const nd = new NdjsonParser();
  const dec = new TextDecoder();
  const reader = r.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const line of nd.feed(dec.decode(value, { stream: true }))) yield line;
  }
}

/** Base64 of a file's bytes (the body of POST /ui/extract). */
export function base64(bytes) {
  let s = '';
  const CH = 0x8000;
  for (let i = 0; i < bytes.length; i += CH) s += String.fromCharCode.apply(null, bytes.subarray(i, i + CH));
  return btoa(s);
}
