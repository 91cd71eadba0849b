// Conversations: their shape in the page, the chat request they make, the
// documents put in a message, and the JSON they are exported and imported
// as — the same shape as `hearth chat`'s /save (crates/hearth/src/chat/saved.rs):
// {"format": "hearth-conversation", "version": 1, "model", "system",
//  "messages": [{"role", "content"}]}, plus the page's "title" and
// "sampling", which `hearth chat` ignores. Pure (unit-tested with node --test).

export const FORMAT = 'hearth-conversation';
export const VERSION = 1;

/** The sampling dials, with `hearth run`/`hearth chat`'s defaults. */
export const DIALS = [
  { key: 'temperature', label: 'Temperature', min: 0, max: 2, step: 0.05, def: 0.8, help: '0 = always the most likely token' },
  { key: 'top_p', label: 'Top-p', min: 0, max: 1, step: 0.01, def: 0.95, help: '1 = off' },
  { key: 'top_k', label: 'Top-k', min: 0, max: 1000, step: 1, def: 40, help: '0 = off' },
  { key: 'min_p', label: 'Min-p', min: 0, max: 1, step: 0.01, def: 0.05, help: '0 = off' },
  { key: 'repeat_penalty', label: 'Repeat penalty', min: 0.5, max: 2, step: 0.05, def: 1.0, help: '1 = off' },
  { key: 'max_tokens', label: 'Max answer tokens', min: 0, max: 1000000, step: 1, def: 0, help: '0 = until the model stops or the context is full' },
  { key: 'seed', label: 'Seed', min: 0, max: 4294967295, step: 1, def: null, help: 'empty = random' },
];

export function defaultSettings() {
  return Object.fromEntries(DIALS.map((d) => [d.key, d.def]));
}

export const NEW_TITLE = 'New chat';

let counter = 0;
export function newId(now = Date.now()) {
  counter += 1;
  return `${now.toString(36)}-${counter.toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

export function newConversation(model, now = Date.now()) {
  return {
    id: newId(now),
    title: NEW_TITLE,
    created: now,
    updated: now,
    model: model || null,
    system: '',
    settings: defaultSettings(),
    messages: [],
  };
}

/** A title from the first words of a message. */
export function titleFrom(text) {
  const t = (text || '').replace(/\s+/g, ' ').trim();
  if (!t) return NEW_TITLE;
  if (t.length <= 48) return t;
  const cut = t.slice(0, 48);
  const sp = cut.lastIndexOf(' ');
  return `${(sp > 24 ? cut.slice(0, sp) : cut).trim()}…`;
}

/**
 * A user message's content as the model reads it: each document in a
 * <document> block (saying so when only its beginning fitted), then the typed text.
 */
export function composeContent(text, docs = []) {
  const parts = docs.map((d) => {
    const name = String(d.name).replace(/"/g, "'");
    let s = `<document name="${name}">\n${d.text}\n</document>`;
    if (d.fullChars != null && d.text.length < d.fullChars) {
      s += `\n(Only the beginning of ${name} is above: ${d.text.length} of its ${d.fullChars} characters. The rest did not fit in the context.)`;
    }
    return s;
  });
  if (text) parts.push(text);
  return parts.join('\n\n');
}

/** The messages of a chat request: the system prompt, then the conversation up to `end`. */
export function requestMessages(conv, end = conv.messages.length) {
  const out = [];
  if (conv.system && conv.system.trim()) out.push({ role: 'system', content: conv.system });
  for (const m of conv.messages.slice(0, end)) out.push({ role: m.role, content: m.content });
  return out;
}

/** The body of POST /v1/chat/completions for a conversation. */
export function requestBody(conv, messages = requestMessages(conv)) {
  const s = { ...defaultSettings(), ...(conv.settings || {}) };
  const body = {
    model: conv.model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: num(s.temperature, 0.8),
    top_p: num(s.top_p, 0.95),
    top_k: Math.round(num(s.top_k, 40)),
    min_p: num(s.min_p, 0.05),
    repeat_penalty: num(s.repeat_penalty, 1.0),
  };
  const max = Math.round(num(s.max_tokens, 0));
  if (max > 0) body.max_tokens = max;
  if (s.seed !== null && s.seed !== '' && Number.isFinite(Number(s.seed))) body.seed = Math.round(Number(s.seed));
  return body;
}

function num(v, def) {
  const n = Number(v);
  return v === null || v === '' || !Number.isFinite(n) ? def : n;
}

/** Tokens kept free for the answer when judging whether a document fits. */
export function answerReserve(context) {
  return Math.min(1024, Math.max(64, Math.floor(context / 8)));
}

/**
 * How many tokens of a document fit in a message, when the conversation
 * with the message but without the document takes `withoutDoc` tokens.
 */
export function docBudget(context, withoutDoc) {
  // the <document> wrapper and its note take a few tokens of their own
  return Math.max(0, context - withoutDoc - answerReserve(context) - 48);
}

/** A conversation as `hearth chat`'s /save writes it (plus title and sampling). */
export function toSaved(conv) {
  return {
    format: FORMAT,
    version: VERSION,
    model: conv.model || null,
    system: conv.system && conv.system.trim() ? conv.system : null,
    messages: conv.messages.map((m) => ({ role: m.role, content: m.content })),
    title: conv.title,
    sampling: { ...conv.settings },
  };
}

/** The file name an exported conversation is offered under. */
export function exportName(conv) {
  const base = (conv.title || 'conversation')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 60);
  return `${base || 'conversation'}.json`;
}

/**
 * A conversation from saved JSON, checked as `hearth chat`'s /load checks it;
 * throws an Error saying what is wrong.
 */
export function fromSaved(v, now = Date.now()) {
  const bad = (why) => new Error(`not a hearth conversation: ${why}`);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('expected a JSON object');
  if (v.format !== FORMAT) throw bad(`format is '${v.format}', expected '${FORMAT}'`);
  if (v.version !== VERSION) throw bad(`version ${v.version} is not one this page reads (${VERSION})`);
  if (!Array.isArray(v.messages)) throw bad('messages is not a list');
  const conv = newConversation(typeof v.model === 'string' ? v.model : null, now);
  conv.system = typeof v.system === 'string' ? v.system : '';
  v.messages.forEach((m, i) => {
    if (!m || !['user', 'assistant', 'system'].includes(m.role)) {
      throw bad(`message ${i + 1} has role '${m && m.role}'; expected user, assistant or system`);
    }
    if (typeof m.content !== 'string') throw bad(`message ${i + 1} has no text content`);
    if (m.role === 'system' && i === 0 && !conv.system) {
      conv.system = m.content;
      return;
    }
    conv.messages.push({ role: m.role, content: m.content });
  });
  if (v.sampling && typeof v.sampling === 'object') {
    for (const d of DIALS) {
      if (d.key in v.sampling) conv.settings[d.key] = v.sampling[d.key];
    }
  }
  const firstUser = conv.messages.find((m) => m.role === 'user');
  conv.title = typeof v.title === 'string' && v.title.trim() ? v.title.trim() : titleFrom(firstUser && firstUser.content);
  return conv;
}

/** The conversations of an imported file: one saved conversation or a list of them. */
export function parseImport(text, now = Date.now()) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${e.message}`);
  }
  const list = Array.isArray(v) ? v : [v];
  if (!list.length) throw new Error('the file holds no conversations');
  return list.map((x, i) => {
    try {
      return fromSaved(x, now + i);
    } catch (e) {
      throw new Error(list.length > 1 ? `conversation ${i + 1}: ${e.message}` : e.message);
    }
  });
}
