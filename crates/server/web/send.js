// Sending a message and streaming the answer into the page.

import * as api from './lib/api.js';
import { newAnswer, applyChunk } from './lib/stream.js';
import { NEW_TITLE, titleFrom, composeContent, requestBody } from './lib/conv.js';
import { answerSpeed } from './lib/fmt.js';
import { $, state, status, askKey } from './state.js';
import { modelInfo } from './models.js';
import { renderMeter, countContext } from './meter.js';
import { persist } from './convs.js';
import { renderMessages, messageEl, fillAnswer, scrollDown } from './messages.js';
import { renderDocs } from './docs.js';
import { autosize } from './composer.js';

function setBusy(b) {
  state.busy = b;
  $('send-btn').hidden = !!b;
  $('stop-btn').hidden = !b;
  if (!b) $('send-btn').disabled = false;
}

export async function send() {
  if (state.busy) return;
  const conv = state.conv;
  const text = $('prompt').value.trim();
  if (!modelInfo(conv.model)) {
    status('Pick a model first (the list at the top).', true);
    return;
  }
  if (state.docs.some((d) => d.status === 'reading' || d.status === 'counting')) {
    status('Wait until the documents are read.', true);
    return;
  }
  const over = state.docs.find((d) => d.over);
  if (over) {
    status(`${over.name} does not fit in the context: choose what to do with it above the message box.`, true);
    return;
  }
  const docs = state.docs.filter((d) => d.status === 'ready').map((d) => ({ name: d.name, text: d.text, fullChars: d.fullChars }));
  if (!text && !docs.length) return;
  const m = { role: 'user', content: composeContent(text, docs) };
  if (docs.length) {
    m.text = text;
    m.docs = docs;
  }
  conv.messages.push(m);
  if (conv.title === NEW_TITLE) conv.title = titleFrom(text || docs[0].name);
  $('prompt').value = '';
  autosize();
  state.docs = [];
  renderDocs();
  renderMessages();
  await generate();
}

export async function generate() {
  const conv = state.conv;
  const body = requestBody(conv);
  const m = { role: 'assistant', content: '', reasoning: '' };
  conv.messages.push(m);
  const art = messageEl(m, conv.messages.length - 1);
  art.querySelector('.actions').hidden = true;
  $('messages').append(art);
  $('welcome').hidden = true;
  fillAnswer(art, m, true);
  scrollDown(true);
  const controller = new AbortController();
  setBusy({ controller });
  status('');
  // the question is kept even if the page closes before the answer comes
  conv.messages.pop();
  await persist(conv);
  conv.messages.push(m);
  const a = newAnswer();
  const t0 = performance.now();
  let first = null;
  let frame = 0;
  const paint = () => {
    frame = 0;
    m.content = a.content;
    m.reasoning = a.reasoning;
    fillAnswer(art, m, true);
    scrollDown(false);
  };
  let stopped = false;
  let savedAt = performance.now();
  try {
    for await (const chunk of api.chatStream(body, controller.signal)) {
      if (applyChunk(a, chunk)) {
        if (first == null) first = performance.now();
        if (!frame) frame = requestAnimationFrame(paint);
        // a long answer is saved as it grows: a closed tab keeps what came
        if (performance.now() - savedAt > 3000) {
          savedAt = performance.now();
          m.content = a.content;
          m.reasoning = a.reasoning;
          persist(conv);
        }
      }
      if (a.error) break;
    }
  } catch (e) {
    if (e.name === 'AbortError') stopped = true;
    else if (e.status === 401) {
      a.error = 'The server wants the API key.';
      askKey();
    } else {
      a.error = e.message;
      if (/context holds/.test(e.message)) a.error += ' This conversation fills the model\'s context: start a new chat, or edit an earlier message to make room.';
    }
  }
  if (frame) cancelAnimationFrame(frame);
  const end = performance.now();
  m.content = a.content;
  m.reasoning = a.reasoning;
  if (!m.reasoning) delete m.reasoning;
  const tokens = a.usage ? a.usage.completion_tokens : a.chunks;
  m.stats = {
    tokens,
    approx: !a.usage,
    tps: answerSpeed(tokens, first, end),
    ttft: first != null ? first - t0 : null,
    finish: a.finish,
    stopped,
    error: a.error,
  };
  const here = state.conv === conv;
  if (a.usage && here) state.used = a.usage.prompt_tokens + a.usage.completion_tokens;
  if (!m.content && !m.reasoning) {
    // nothing came: the turn is not kept (the error shows where the answer would be)
    conv.messages.pop();
    art.remove();
    if (here && a.error) status(a.error, true);
    else if (here && stopped) status('Stopped before the first token.');
  } else if (here) {
    art.replaceWith(messageEl(m, conv.messages.length - 1));
    if (stopped) status('Stopped. Regenerate to try again, or write on.');
  }
  // saved before the page says it is done, so a reload right after finds it
  await persist(conv);
  setBusy(null);
  if (!here) return;
  renderMeter();
  if (!a.usage) countContext();
  if (document.activeElement === document.body || document.activeElement === $('stop-btn')) $('prompt').focus();
}

export function stop() {
  if (state.busy) state.busy.controller.abort();
}
