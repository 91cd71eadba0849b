// Reading what the server streams: OpenAI's server-sent events
// (/v1/chat/completions with stream: true), Ollama's NDJSON (/api/pull),
// and the pieces of an answer (text, thinking, usage). Pure: no DOM, no
// fetch (unit-tested with node --test).

/**
 * Server-sent events, fed text as it arrives; `feed` returns the `data`
 * payloads of every event completed so far (the WHATWG event-stream format:
 * lines ending in \n, \r\n or \r; an empty line ends an event; `data:`
 * lines of one event are joined with \n; other fields and comments ignored).
 */
export class SseParser {
  constructor() {
    this.buf = '';
    this.data = [];
  }

  feed(text) {
    this.buf += text;
    const out = [];
    let m;
    const line = /\r\n|\r|\n/g;
    let start = 0;
    while ((m = line.exec(this.buf)) !== null) {
      // a lone \r at the very end may be the first half of \r\n
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const l = this.buf.slice(start, m.index);
      start = m.index + m[0].length;
      if (l === '') {
        if (this.data.length) out.push(this.data.join('\n'));
        this.data = [];
      } else if (l.startsWith('data:')) {
        this.data.push(l.slice(l[5] === ' ' ? 6 : 5));
      }
    }
    this.buf = this.buf.slice(start);
    return out;
  }
}

/** Newline-delimited JSON, fed text as it arrives; returns the objects of complete lines. */
export class NdjsonParser {
  constructor() {
    this.buf = '';
  }

  feed(text) {
    this.buf += text;
    const lines = this.buf.split('\n');
    this.buf = lines.pop();
    return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  }
}

/** The state of an answer being streamed. */
export function newAnswer() {
  return { content: '', reasoning: '', finish: null, usage: null, error: null, chunks: 0 };
}

/**
 * Apply one parsed chunk of /v1/chat/completions to `a`. Returns true when
 * the chunk carried text (answer or thinking). Knows `delta.content`,
 * `delta.reasoning_content` (thinking, where the server separates it),
 * `finish_reason`, the final `usage` (stream_options.include_usage) and an
 * `error` object sent mid-stream.
 */
export function applyChunk(a, chunk) {
  if (chunk.error) {
    a.error = typeof chunk.error === 'string' ? chunk.error : chunk.error.message || 'the server reported an error';
    return false;
  }
  if (chunk.usage) a.usage = chunk.usage;
  let text = false;
  for (const c of chunk.choices || []) {
    if (c.index !== undefined && c.index !== 0) continue;
    const d = c.delta || {};
    if (typeof d.reasoning_content === 'string' && d.reasoning_content) {
      a.reasoning += d.reasoning_content;
      text = true;
    }
    if (typeof d.content === 'string' && d.content) {
      a.content += d.content;
      text = true;
    }
    if (c.finish_reason) a.finish = c.finish_reason;
  }
  if (text) a.chunks += 1;
  return text;
}

/**
 * Thinking written into the answer itself (`<think>…</think>` at its start,
 * as DeepSeek-R1 and Qwen3 do when the server does not separate it):
 * `{thinking, answer, open}`, `open` while the closing tag has not come yet.
 */
export function splitThinking(content) {
  const m = /^\s*<think>/.exec(content);
  if (!m) return { thinking: '', answer: content, open: false };
  const rest = content.slice(m[0].length);
  const end = rest.indexOf('</think>');
  if (end < 0) return { thinking: rest.trim(), answer: '', open: true };
  return {
    thinking: rest.slice(0, end).trim(),
    answer: rest.slice(end + '</think>'.length).replace(/^\s+/, ''),
    open: false,
  };
}

/**
 * One line of /api/pull as progress: `{label, done, total, fraction, finished, error}`
 * (`fraction` null while the size is unknown).
 */
export function pullProgress(line) {
  if (line.error) return { label: line.error, error: line.error, finished: true, fraction: null };
  if (line.status === 'success') return { label: 'done', finished: true, fraction: 1 };
  const total = Number.isFinite(line.total) && line.total > 0 ? line.total : null;
  const done = Number.isFinite(line.completed) ? line.completed : null;
  return {
    label: line.status || '',
    done,
    total,
    fraction: total != null && done != null ? Math.min(1, done / total) : null,
    finished: false,
    error: null,
  };
}
