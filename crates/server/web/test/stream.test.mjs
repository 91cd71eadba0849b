// node --test: the stream readers of lib/stream.js.
import test from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, NdjsonParser, newAnswer, applyChunk, splitThinking, pullProgress } from '../lib/stream.js';

test('SSE events split anywhere, in any line ending', () => {
  const text = 'data: {"a":1}\n\ndata: {"b":2}\r\n\r\n: comment\ndata: x\ndata: y\n\ndata: [DONE]\n\n';
  // every way of cutting the text into two pieces gives the same events
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    const got = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
    assert.deepEqual(got, ['{"a":1}', '{"b":2}', 'x\ny', '[DONE]'], `cut at ${cut}`);
  }
  // a \r\n cut between its two characters is one line end, not two
  const crlf = 'data: x\r\ndata: y\r\n\r\n';
  for (let cut = 0; cut <= crlf.length; cut++) {
    const q = new SseParser();
    assert.deepEqual([...q.feed(crlf.slice(0, cut)), ...q.feed(crlf.slice(cut))], ['x\ny'], `crlf cut at ${cut}`);
  }
  const p = new SseParser();
  assert.deepEqual(p.feed('data: half'), []);
  assert.deepEqual(p.feed('\r'), []);
  assert.deepEqual(p.feed('\n\r\n'), ['half']);
  assert.deepEqual(new SseParser().feed('data:nospace\n\n'), ['nospace']);
});

test('NDJSON lines split anywhere', () => {
  const p = new NdjsonParser();
  assert.deepEqual(p.feed('{"status":"pulling x","completed":1'), []);
  assert.deepEqual(p.feed(',"total":4}\n{"status":"success"}\n'), [
    { status: 'pulling x', completed: 1, total: 4 },
    { status: 'success' },
  ]);
});

test('chunks build the answer, thinking and usage', () => {
  const a = newAnswer();
  assert.equal(applyChunk(a, { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }), false);
  assert.equal(applyChunk(a, { choices: [{ index: 0, delta: { reasoning_content: 'hmm' } }] }), true);
  assert.equal(applyChunk(a, { choices: [{ index: 0, delta: { content: 'Hel' } }] }), true);
  applyChunk(a, { choices: [{ index: 0, delta: { content: 'lo' } }] });
  applyChunk(a, { choices: [{ index: 1, delta: { content: 'other choice' } }] });
  applyChunk(a, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null });
  applyChunk(a, { choices: [], usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 } });
  assert.equal(a.content, 'Hello');
  assert.equal(a.reasoning, 'hmm');
  assert.equal(a.finish, 'stop');
  assert.equal(a.usage.completion_tokens, 3);
  assert.equal(a.chunks, 3);
  const b = newAnswer();
  applyChunk(b, { error: { message: 'the prompt is 5000 tokens', type: 'invalid_request_error' } });
  assert.equal(b.error, 'the prompt is 5000 tokens');
});

test('thinking written into the answer is split off', () => {
  assert.deepEqual(splitThinking('Plain answer'), { thinking: '', answer: 'Plain answer', open: false });
  assert.deepEqual(splitThinking('<think>\nstep 1'), { thinking: 'step 1', answer: '', open: true });
  assert.deepEqual(splitThinking(' <think>a\nb</think>\n\nThe answer'), { thinking: 'a\nb', answer: 'The answer', open: false });
  // only at the start: a tag inside the answer is the answer's
  assert.equal(splitThinking('Use <think> tags').answer, 'Use <think> tags');
});

test('pull progress lines', () => {
  assert.deepEqual(pullProgress({ status: 'pulling smollm2', digest: 'x', completed: 50, total: 200 }),
    { label: 'pulling smollm2', done: 50, total: 200, fraction: 0.25, finished: false, error: null });
  assert.equal(pullProgress({ status: 'verifying' }).fraction, null);
  assert.equal(pullProgress({ status: 'pulling', completed: 5 }).fraction, null);
  assert.deepEqual(pullProgress({ status: 'success' }), { label: 'done', finished: true, fraction: 1 });
  const e = pullProgress({ error: 'offline mode: no network access' });
  assert.equal(e.finished, true);
  assert.equal(e.error, 'offline mode: no network access');
});
