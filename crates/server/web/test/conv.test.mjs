// node --test: conversations (lib/conv.js) and numbers (lib/fmt.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  newConversation, titleFrom, composeContent, requestMessages, requestBody, docBudget, answerReserve,
  toSaved, fromSaved, parseImport, exportName, NEW_TITLE, defaultSettings,
} from '../lib/conv.js';
import { bytes, count, tokS, verdictLabel, modelLine, answerSpeed } from '../lib/fmt.js';

function sample() {
  const c = newConversation('smollm2', 1000);
  c.system = 'You are terse.';
  c.title = 'Capitals';
  c.messages.push({ role: 'user', content: 'Capital of France?' }, { role: 'assistant', content: 'Paris.', stats: { tokens: 2 } });
  return c;
}

test('a request carries the system prompt, the messages and the dials', () => {
  const c = sample();
  c.settings.temperature = 0;
  c.settings.seed = 7;
  c.settings.max_tokens = 100;
  const b = requestBody(c);
  assert.deepEqual(b.messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Capital of France?' },
    { role: 'assistant', content: 'Paris.' },
  ]);
  assert.equal(b.model, 'smollm2');
  assert.equal(b.stream, true);
  assert.deepEqual(b.stream_options, { include_usage: true });
  assert.equal(b.temperature, 0);
  assert.equal(b.seed, 7);
  assert.equal(b.max_tokens, 100);
  assert.equal(b.top_k, 40);
  // defaults: no seed, no max_tokens (until the model stops or the context is full)
  const d = requestBody(newConversation('m'));
  assert.equal('seed' in d, false);
  assert.equal('max_tokens' in d, false);
  assert.equal(d.temperature, 0.8);
  assert.deepEqual(requestMessages(c, 1).map((m) => m.role), ['system', 'user']);
});

test('documents go into the message, and a cut one says so', () => {
  assert.equal(composeContent('Summarise', []), 'Summarise');
  const full = composeContent('What is it about?', [{ name: 'a.txt', text: 'Alpha', fullChars: 5 }]);
  assert.equal(full, '<document name="a.txt">\nAlpha\n</document>\n\nWhat is it about?');
  const cut = composeContent('', [{ name: 'b "x".pdf', text: 'Bet', fullChars: 10 }]);
  assert.match(cut, /^<document name="b 'x'.pdf">\nBet\n<\/document>\n\(Only the beginning of b 'x'.pdf is above: 3 of its 10 characters/);
});

test('document budget leaves room for the answer', () => {
  assert.equal(answerReserve(2048), 256);
  assert.equal(answerReserve(100000), 1024);
  assert.equal(answerReserve(256), 64);
  assert.equal(docBudget(2048, 100), 2048 - 100 - 256 - 48);
  assert.equal(docBudget(2048, 2000), 0);
});

test("export is hearth chat's /save shape and imports back", () => {
  const c = sample();
  const s = toSaved(c);
  assert.equal(s.format, 'hearth-conversation');
  assert.equal(s.version, 1);
  assert.equal(s.model, 'smollm2');
  assert.equal(s.system, 'You are terse.');
  assert.deepEqual(s.messages, [
    { role: 'user', content: 'Capital of France?' },
    { role: 'assistant', content: 'Paris.' },
  ]);
  const back = fromSaved(JSON.parse(JSON.stringify(s)));
  assert.equal(back.title, 'Capitals');
  assert.equal(back.system, 'You are terse.');
  assert.deepEqual(back.messages, s.messages);
  assert.deepEqual(back.settings, c.settings);
  assert.notEqual(back.id, c.id);
  // an empty system prompt is null, as /save writes it
  assert.equal(toSaved(newConversation('m')).system, null);
});

test('a file written by hearth chat /save imports', () => {
  // exactly what crates/hearth/src/chat/saved.rs writes
  const text = JSON.stringify({
    format: 'hearth-conversation', version: 1, model: 'qwen2.5-coder:0.5b', system: null,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Write a haiku about owning your own computer' }, { role: 'assistant', content: 'Fans hum...' }],
  }, null, 2);
  const [c] = parseImport(text);
  assert.equal(c.model, 'qwen2.5-coder:0.5b');
  assert.equal(c.system, 'Be brief.');
  assert.equal(c.messages.length, 2);
  assert.equal(c.title, 'Write a haiku about owning your own computer');
  assert.deepEqual(c.settings, defaultSettings());
});

test('bad imports say what is wrong', () => {
  assert.throws(() => parseImport('{'), /not JSON/);
  assert.throws(() => parseImport('{"format":"x","version":1,"messages":[]}'), /format is 'x', expected 'hearth-conversation'/);
  assert.throws(() => parseImport('{"format":"hearth-conversation","version":2,"messages":[]}'), /version 2/);
  assert.throws(() => parseImport('{"format":"hearth-conversation","version":1,"messages":[{"role":"tool","content":"x"}]}'), /message 1 has role 'tool'/);
  assert.throws(() => parseImport('[{"format":"hearth-conversation","version":1,"messages":[]}, 3]'), /conversation 2: not a hearth conversation/);
  assert.throws(() => parseImport('[]'), /no conversations/);
  assert.equal(parseImport('[{"format":"hearth-conversation","version":1,"messages":[]},{"format":"hearth-conversation","version":1,"messages":[]}]').length, 2);
});

test('titles and file names', () => {
  assert.equal(titleFrom(''), NEW_TITLE);
  assert.equal(titleFrom('  Hello\n world '), 'Hello world');
  const long = titleFrom('Explain how memory mapping works in the Linux kernel and why it matters for loading models');
  assert.ok(long.length <= 49 && long.endsWith('…'), long);
  assert.equal(exportName({ title: 'What is 2+2? / math' }), 'What-is-2-2-math.json');
  assert.equal(exportName({ title: '???' }), 'conversation.json');
});

test('numbers as the page shows them', () => {
  assert.equal(bytes(138_000_000), '138 MB');
  assert.equal(bytes(1_300_000_000), '1.3 GB');
  assert.equal(bytes(25_000_000_000), '25 GB');
  assert.equal(count(1234567), '1,234,567');
  assert.equal(tokS(95.4), '95 tok/s');
  assert.equal(tokS(9.46), '9.5 tok/s');
  assert.equal(tokS(null), null);
  assert.equal(verdictLabel('does not fit'), 'will not fit');
  assert.equal(verdictLabel(null), 'fit unknown');
  assert.equal(modelLine({ name: 'smollm2', size: 92_000_000, verdict: 'fits', predicted_tok_per_s: 120 }), 'smollm2 · 92 MB · fits · ~120 tok/s');
  assert.equal(modelLine({ name: 'big', file_bytes: 4e10, supported: false }), 'big · 40 GB · architecture not supported yet');
  assert.equal(answerSpeed(11, 1000, 2000), 10);
  assert.equal(answerSpeed(1, 1000, 2000), null);
  assert.equal(answerSpeed(12, 1000, 1001), null, 'all at once');
});
