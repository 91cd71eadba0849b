// hearth's chat page: the conversation list, the model picker, streaming
// answers, documents, settings. State lives here; the pure parts are in lib/.

import * as api from './lib/api.js';
import * as db from './lib/db.js';
import { renderMarkdown } from './lib/markdown.js';
import { newAnswer, applyChunk, splitThinking, pullProgress } from './lib/stream.js';
import {
  DIALS, NEW_TITLE, defaultSettings, newConversation, newId, titleFrom, composeContent,
  requestMessages, requestBody, answerReserve, docBudget, toSaved, exportName, parseImport,
} from './lib/conv.js';
import { bytes, count, tokS, verdictLabel, modelLine, answerSpeed, when } from './lib/fmt.js';

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'html') e.innerHTML = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};
const ICON = {
  edit: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M4 20h4L19 9l-4-4L4 16v4z"/></svg>',
  trash: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/></svg>',
  x: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M6 6l12 12M18 6L6 18"/></svg>',
  doc: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M6 3h8l4 4v14H6zM14 3v4h4"/></svg>',
};
const DOC_EXT = ['txt', 'text', 'md', 'markdown', 'pdf', 'docx', 'html', 'htm', 'xhtml'];
const DOC_MAX = 32 << 20;

const state = {
  info: null, // GET /ui/models
  list: [], // saved conversations, newest first
  conv: null, // the open conversation
  saved: false, // whether `conv` is in the database yet
  busy: null, // {controller} while an answer streams
  docs: [], // documents attached to the message being written
  used: null, // tokens the conversation takes (null: not counted)
};

// ---------- status and errors ----------

function status(text, isError = false) {
  const s = $('status');
  s.textContent = text || '';
  s.classList.toggle('error', isError);
}

function failed(e) {
  if (e && e.status === 401) {
    askKey();
    return;
  }
  status(e && e.message ? e.message : String(e), true);
}

// ---------- API key ----------

function askKey(refused = false) {
  const d = $('key-dialog');
  $('key-error').textContent = refused ? 'The server refused that key.' : '';
  if (!d.open) d.showModal();
  $('key-input').focus();
}

$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  api.setApiKey($('key-input').value.trim());
  try {
    await loadModels();
    if (state.conv && !state.conv.model) {
      state.conv.model = pickDefaultModel();
      renderModels();
      countContext();
    }
    $('key-dialog').close();
    $('key-input').value = '';
    status('');
  } catch (err) {
    if (err.status === 401) askKey(true);
    else failed(err);
  }
});

// ---------- models ----------

function modelInfo(name) {
  return state.info && state.info.models.find((m) => m.name === name);
}

async function loadModels() {
  const info = await api.getJson('/ui/models');
  state.info = info;
  renderModels();
  return info;
}

function pickDefaultModel() {
  const ms = (state.info && state.info.models) || [];
  const last = localStorage.getItem('hearth.model');
  if (last && ms.some((m) => m.name === last)) return last;
  const good = ms.find((m) => !m.error && m.has_template !== false && m.verdict !== 'does not fit');
  return (good || ms[0] || {}).name || null;
}

function renderModels() {
  const sel = $('model-select');
  const ms = state.info.models;
  sel.replaceChildren();
  if (!ms.length) sel.append(el('option', { value: '', text: 'No models yet: get one in Settings' }));
  for (const m of ms) sel.append(el('option', { value: m.name, text: modelLine(m), disabled: m.error ? true : null }));
  if (state.conv && state.conv.model && !ms.some((m) => m.name === state.conv.model)) {
    sel.append(el('option', { value: state.conv.model, text: `${state.conv.model} · not on this server`, disabled: true }));
  }
  if (state.conv) sel.value = state.conv.model || '';
  // settings: the models with their fit, and the catalog to pull from
  const list = $('model-list');
  list.replaceChildren();
  for (const m of ms) {
    const v = m.verdict === 'fits' ? 'v-fits' : m.verdict === 'tight' ? 'v-tight' : m.verdict ? 'v-no' : '';
    const facts = m.error
      ? m.error
      : [m.parameter_size, m.quantization, `needs ${bytes(m.memory_bytes)} at context ${count(m.context)}`].filter(Boolean).join(' · ');
    list.append(
      el('li', {}, el('strong', { text: m.name }), ` · ${bytes(m.size)} · `,
        el('span', { class: v, text: verdictLabel(m.verdict) }),
        tokS(m.predicted_tok_per_s) ? ` · ~${tokS(m.predicted_tok_per_s)}` : '',
        el('br'), el('small', { text: facts + (m.loaded ? ' · loaded' : '') })),
    );
  }
  const ps = $('pull-select');
  ps.replaceChildren();
  for (const c of state.info.catalog) {
    ps.append(el('option', { value: c.name, disabled: c.supported ? null : true, text: modelLine({ ...c, size: c.file_bytes }) }));
  }
  const canPull = state.info.can_pull && state.info.catalog.length > 0;
  $('pull-btn').disabled = !canPull;
  ps.disabled = !canPull;
  $('pull-name').disabled = !state.info.can_pull;
  $('pull-name-btn').disabled = !state.info.can_pull;
  $('pull-note').textContent = state.info.offline
    ? 'This server runs offline (--offline or HEARTH_OFFLINE): it downloads nothing. `hearth pull NAME` in a terminal fetches models.'
    : state.info.catalog.length
      ? 'Downloads into this computer\'s model store; the only thing hearth ever fetches from the network.'
      : 'Every catalog model is already here.';
  const mem = state.info.memory_available_bytes;
  const bw = state.info.bandwidth_bytes_per_s;
  $('machine').textContent = mem
    ? `This computer: ${bytes(mem)} of memory available${bw ? `, ${(bw / 1e9).toFixed(1)} GB/s memory bandwidth (predictions use it)` : ''}.`
    : '';
  renderModelNote();
}

function renderModelNote() {
  const note = $('model-note');
  const name = state.conv && state.conv.model;
  const m = name && modelInfo(name);
  note.classList.remove('warn');
  if (!state.info) return;
  if (!state.info.models.length) {
    note.textContent = 'No models on this server yet. Open Settings to download one, or run `hearth pull smollm2` in a terminal.';
    note.classList.add('warn');
  } else if (name && !m) {
    note.textContent = `This conversation used ${name}, which this server does not have: pick another model.`;
    note.classList.add('warn');
  } else if (m && m.verdict === 'does not fit') {
    note.textContent = `${m.name} needs ${bytes(m.memory_bytes)} and will not fit in the memory available; it may fail to load or swap.`;
    note.classList.add('warn');
  } else if (m && m.has_template === false) {
    note.textContent = `${m.name} has no chat template: it cannot chat. Pick another model.`;
    note.classList.add('warn');
  } else {
    note.textContent = '';
  }
  renderMeter();
}

$('model-select').addEventListener('change', async (e) => {
  state.conv.model = e.target.value;
  localStorage.setItem('hearth.model', e.target.value);
  state.used = null;
  renderModelNote();
  await persist();
  countContext();
  checkDocs();
});

// ---------- context meter ----------

function renderMeter() {
  const m = state.conv && modelInfo(state.conv.model);
  const meter = $('ctx-meter');
  const label = $('ctx-label');
  if (!m || !m.context) {
    meter.value = 0;
    label.textContent = '–';
    return;
  }
  const used = state.used ?? 0;
  meter.max = m.context;
  meter.low = Math.floor(m.context * 0.7);
  meter.high = Math.floor(m.context * 0.9);
  meter.value = Math.min(used, m.context);
  // the answer's last token takes no position until the next turn: a full context can read one over
  const full = state.used != null && used >= m.context;
  label.textContent = `${state.used == null ? '?' : count(Math.min(used, m.context))} / ${count(m.context)}${full ? ' · full' : ''}`;
  $('ctx').title = `Context: ${state.used == null ? 'not counted yet' : `${count(used)} tokens used`} of ${count(m.context)} this model holds per conversation`;
}

let countSeq = 0;
async function countContext() {
  const conv = state.conv;
  if (!conv || !modelInfo(conv.model)) return renderMeter();
  const msgs = requestMessages(conv);
  if (!msgs.length) {
    state.used = 0;
    return renderMeter();
  }
  const seq = ++countSeq;
  try {
    const r = await api.postJson('/ui/tokens', { model: conv.model, messages: msgs });
    if (seq === countSeq && state.conv === conv) {
      state.used = r.prompt_tokens;
      renderMeter();
    }
  } catch (e) {
    if (e.status === 401) askKey();
  }
}

// ---------- conversations ----------

/** Save a conversation (the open one by default; a new one only once it has a message). */
async function persist(c = state.conv) {
  if (!c || (c === state.conv && !state.saved && !c.messages.length)) return;
  c.updated = Date.now();
  try {
    await db.put(c);
    if (c === state.conv) state.saved = true;
  } catch (e) {
    failed(e);
  }
  await refreshList();
}

async function refreshList() {
  state.list = await db.all();
  renderList();
}

function renderList() {
  const ul = $('conv-list');
  ul.replaceChildren();
  for (const c of state.list) {
    const current = state.conv && c.id === state.conv.id;
    const li = el('li', { class: current ? 'current' : null, 'data-id': c.id });
    const open = el('button', { type: 'button', class: 'conv-open', 'aria-current': current ? 'true' : null, onclick: () => openConv(c.id) },
      el('span', { class: 't', text: c.title || NEW_TITLE }), el('span', { class: 'd', text: when(c.updated) }));
    const ren = el('button', { type: 'button', class: 'icon-btn', 'aria-label': `Rename “${c.title}”`, html: ICON.edit, onclick: () => rename(li, c) });
    const del = el('button', { type: 'button', class: 'icon-btn', 'aria-label': `Delete “${c.title}”`, html: ICON.trash, onclick: () => removeConv(c) });
    li.append(open, ren, del);
    ul.append(li);
  }
  $('conv-empty').hidden = state.list.length > 0;
}

function rename(li, c) {
  const input = el('input', { type: 'text', value: c.title, 'aria-label': 'New name' });
  li.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const t = input.value.trim();
    if (save && t) {
      const conv = state.conv && state.conv.id === c.id ? state.conv : await db.get(c.id);
      conv.title = t;
      if (conv === state.conv) await persist();
      else {
        await db.put(conv);
        await refreshList();
      }
    } else renderList();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') finish(true);
    if (e.key === 'Escape') {
      e.stopPropagation();
      finish(false);
    }
  });
  input.addEventListener('blur', () => finish(true));
}

async function removeConv(c) {
  if (!confirm(`Delete the conversation “${c.title}”? This cannot be undone (export it first to keep a copy).`)) return;
  await db.remove(c.id);
  if (state.conv && state.conv.id === c.id) {
    stop();
    newChat();
  }
  await refreshList();
}

function newChat() {
  stop();
  const model = (state.conv && modelInfo(state.conv.model) && state.conv.model) || pickDefaultModel();
  setConv(newConversation(model), false);
  closeOverlays();
  $('prompt').focus();
}

async function openConv(id) {
  if (state.busy) stop();
  const c = await db.get(id);
  if (!c) return refreshList();
  setConv(c, true);
  closeOverlays();
}

function setConv(c, saved) {
  state.conv = c;
  state.saved = saved;
  state.docs = [];
  state.used = null;
  if (!c.settings) c.settings = defaultSettings();
  if (!c.model) c.model = pickDefaultModel();
  if (state.info) renderModels();
  renderList();
  renderMessages();
  renderSettings();
  renderDocs();
  status('');
  countContext();
}

// ---------- messages ----------

function renderMessages() {
  const box = $('messages');
  box.replaceChildren();
  const msgs = state.conv.messages;
  $('welcome').hidden = msgs.length > 0;
  msgs.forEach((m, i) => box.append(messageEl(m, i)));
  scrollDown(true);
}

function docChip(d) {
  const s = d.fullChars && d.text.length < d.fullChars
    ? `first ${Math.max(1, Math.round((100 * d.text.length) / d.fullChars))}%`
    : `${count(d.text.length)} characters`;
  return el('li', { class: 'chip' }, el('span', { html: ICON.doc }), el('span', { class: 'n', text: d.name }), el('span', { class: 's', text: s }));
}

function messageEl(m, i) {
  const who = m.role === 'user' ? 'You' : m.role === 'assistant' ? 'Answer' : 'System';
  const art = el('article', { class: `msg ${m.role}`, 'aria-label': who, 'data-i': i });
  art.append(el('div', { class: 'who', text: who }));
  if (m.role === 'assistant') {
    const th = el('details', { class: 'thinking', hidden: true }, el('summary', { text: 'Thinking' }), el('div', { class: 'think-body' }));
    art.append(th, el('div', { class: 'bubble' }), el('div', { class: 'meta' }));
    fillAnswer(art, m, false);
  } else {
    if (m.docs && m.docs.length) art.append(el('ul', { class: 'docs', 'aria-label': 'Attached documents' }, ...m.docs.map(docChip)));
    const shown = m.docs ? m.text : m.content;
    if (shown) art.append(el('div', { class: 'bubble', text: shown }));
  }
  const actions = el('div', { class: 'actions' });
  actions.append(el('button', { type: 'button', text: 'Copy', onclick: () => copy(m.role === 'assistant' ? splitThinking(m.content).answer : m.content, 'Message copied') }));
  if (m.role === 'user') actions.append(el('button', { type: 'button', text: 'Edit', onclick: () => editMessage(art, i) }));
  if (m.role === 'assistant' && i === state.conv.messages.length - 1) {
    actions.append(el('button', { type: 'button', text: 'Regenerate', onclick: () => regenerate() }));
  }
  art.append(actions);
  return art;
}

/** Put an answer's text, thinking and numbers into its element. */
function fillAnswer(art, m, live) {
  const split = splitThinking(m.content);
  const thinking = [m.reasoning || '', split.thinking].filter(Boolean).join('\n');
  const th = art.querySelector('.thinking');
  th.hidden = !thinking;
  th.querySelector('.think-body').textContent = thinking;
  th.querySelector('summary').textContent = live && (split.open || (m.reasoning && !split.answer)) ? 'Thinking…' : 'Thinking';
  const bubble = art.querySelector('.bubble');
  if (live && !split.answer && !thinking) {
    bubble.innerHTML = '';
    bubble.append(el('span', { class: 'waiting', text: m.waiting || 'Reading the prompt…' }));
  } else {
    bubble.innerHTML = renderMarkdown(split.answer);
  }
  bubble.classList.toggle('cursor', live);
  art.setAttribute('aria-busy', live ? 'true' : 'false');
  const meta = art.querySelector('.meta');
  meta.replaceChildren();
  const s = m.stats;
  if (s) {
    if (s.tokens != null) meta.append(el('span', { text: `${s.approx ? '~' : ''}${count(s.tokens)} tokens` }));
    const t = tokS(s.tps);
    if (t) meta.append(el('span', { class: 'tps', text: t }));
    if (s.ttft != null) meta.append(el('span', { text: `first token after ${(s.ttft / 1000).toFixed(1)} s` }));
    if (s.stopped) meta.append(el('span', { class: 'stopped', text: 'stopped' }));
    if (s.finish === 'length') meta.append(el('span', { class: 'stopped', text: 'cut at the token limit or the context’s end' }));
    if (s.error) meta.append(el('span', { class: 'failed', role: 'alert', text: s.error }));
  }
}

function scrollDown(force) {
  const log = $('log');
  if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
}

async function copy(text, done) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard API (a page over plain http on another address): the old way
    const t = el('textarea', {});
    t.value = text;
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  status(done);
}

$('messages').addEventListener('click', (e) => {
  const b = e.target.closest('.copy-code');
  if (!b) return;
  const code = b.closest('.code').querySelector('pre code');
  copy(code.textContent, 'Code copied');
  b.textContent = 'Copied';
  setTimeout(() => (b.textContent = 'Copy'), 1500);
});

function editMessage(art, i) {
  if (state.busy) return;
  const m = state.conv.messages[i];
  const ta = el('textarea', { 'aria-label': 'Edit your message' });
  ta.value = m.docs ? m.text : m.content;
  const save = () => {
    const text = ta.value.trim();
    if (!text && !(m.docs && m.docs.length)) return;
    const edited = { ...m, text, content: m.docs ? composeContent(text, m.docs) : text };
    state.conv.messages = state.conv.messages.slice(0, i).concat([edited]);
    renderMessages();
    generate();
  };
  const box = el('div', { class: 'edit-box' }, ta,
    el('div', { class: 'row end' },
      el('button', { type: 'button', class: 'btn', text: 'Cancel', onclick: () => renderMessages() }),
      el('button', { type: 'button', class: 'btn primary', text: 'Send again', onclick: save })));
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      renderMessages();
    }
  });
  art.querySelector('.bubble')?.remove();
  art.querySelector('.actions').replaceWith(box);
  ta.focus();
}

function regenerate() {
  if (state.busy) return;
  const msgs = state.conv.messages;
  if (msgs.length && msgs[msgs.length - 1].role === 'assistant') msgs.pop();
  renderMessages();
  generate();
}

// ---------- sending and streaming ----------

function setBusy(b) {
  state.busy = b;
  $('send-btn').hidden = !!b;
  $('stop-btn').hidden = !b;
  if (!b) $('send-btn').disabled = false;
}

async function send() {
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

async function generate() {
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

function stop() {
  if (state.busy) state.busy.controller.abort();
}

// ---------- documents ----------

function renderDocs() {
  const ul = $('doc-chips');
  ul.replaceChildren();
  for (const d of state.docs) {
    const remove = el('button', { type: 'button', 'aria-label': `Remove ${d.name}`, html: ICON.x, onclick: () => dropDoc(d) });
    let s;
    if (d.status === 'reading') s = 'reading…';
    else if (d.status === 'failed') s = 'not attached';
    else if (d.fullChars && d.text.length < d.fullChars) s = `first ${count(d.tokens ?? 0)} tokens of ${count(d.fullTokens ?? 0)}`;
    else s = d.tokens != null ? `${count(d.tokens)} tokens` : `${count(d.text.length)} characters`;
    const li = el('li', { class: `doc-draft${d.status === 'failed' ? ' failed' : ''}` },
      el('span', { class: 'chip' }, el('span', { html: ICON.doc }), el('span', { class: 'n', text: d.name }), el('span', { class: 's', text: s }), remove));
    if (d.status === 'failed') li.append(el('p', { class: 'error', role: 'alert', text: d.error }));
    if (d.over) {
      const o = d.over;
      const box = el('div', { class: 'too-long', role: 'alert' });
      if (o.room > 0) {
        box.append(
          el('p', { text: `${d.name} is ${count(o.tokens)} tokens, more than this conversation has room for: about ${count(o.room)} tokens (the model holds ${count(o.context)}, ${count(o.reserve)} kept for the answer). Send only its beginning, or remove it.` }),
          el('div', { class: 'row' },
            el('button', { type: 'button', class: 'btn', text: `Use the first ${count(o.room)} tokens`, onclick: () => cutDoc(d) }),
            el('button', { type: 'button', class: 'btn', text: 'Remove', onclick: () => dropDoc(d) })),
        );
      } else {
        box.append(
          el('p', { text: `No room left for ${d.name}: this conversation already fills the model's context of ${count(o.context)} tokens. Start a new chat for it, or remove it.` }),
          el('div', { class: 'row' },
            el('button', { type: 'button', class: 'btn', text: 'New chat with it', onclick: () => moveDocToNewChat(d) }),
            el('button', { type: 'button', class: 'btn', text: 'Remove', onclick: () => dropDoc(d) })),
        );
      }
      li.append(box);
    }
    ul.append(li);
  }
}

function dropDoc(d) {
  state.docs = state.docs.filter((x) => x !== d);
  renderDocs();
  checkDocs();
  $('prompt').focus();
}

function moveDocToNewChat(d) {
  const keep = [d];
  newChat();
  state.docs = keep;
  d.over = null;
  renderDocs();
  checkDocs();
}

async function attach(files) {
  for (const f of files) {
    const d = { id: newId(), name: f.name, status: 'reading', text: '' };
    state.docs.push(d);
    renderDocs();
    const ext = (f.name.split('.').pop() || '').toLowerCase();
    if (!f.name.includes('.') || !DOC_EXT.includes(ext)) {
      Object.assign(d, { status: 'failed', error: `${f.name}: not a document the page reads; attach .txt, .md, .pdf, .docx or .html` });
    } else if (f.size > DOC_MAX) {
      Object.assign(d, { status: 'failed', error: `${f.name} is ${bytes(f.size)}; the page takes documents up to ${bytes(DOC_MAX)}` });
    } else {
      try {
        const data = api.base64(new Uint8Array(await f.arrayBuffer()));
        const r = await api.postJson('/ui/extract', { name: f.name, data });
        Object.assign(d, { status: 'ready', text: r.text, fullText: r.text, fullChars: r.text.length });
      } catch (e) {
        if (e.status === 401) askKey();
        Object.assign(d, { status: 'failed', error: e.message });
      }
    }
    renderDocs();
  }
  await checkDocs();
}

/** Whether the ready documents fit in the context with the conversation; marks those that do not. */
async function checkDocs() {
  const conv = state.conv;
  const model = conv.model;
  const docs = state.docs.filter((d) => d.status === 'ready');
  if (!docs.length || !modelInfo(model)) return;
  try {
    const base = await api.postJson('/ui/tokens', {
      model,
      messages: requestMessages(conv).concat([{ role: 'user', content: $('prompt').value || ' ' }]),
    });
    const ctx = base.context;
    let room = docBudget(ctx, base.prompt_tokens);
    for (const d of docs) {
      if (d.tokensFor !== `${model}\n${d.text.length}`) {
        const r = await api.postJson('/ui/tokens', { model, text: d.text });
        d.tokens = r.text_tokens;
        d.tokensFor = `${model}\n${d.text.length}`;
        if (d.text === d.fullText) d.fullTokens = r.text_tokens;
      }
      if (d.tokens <= room) {
        d.over = null;
        room -= d.tokens;
      } else {
        d.over = { tokens: d.tokens, room, context: ctx, reserve: answerReserve(ctx) };
        room = 0;
      }
    }
  } catch (e) {
    failed(e);
  }
  renderDocs();
}

async function cutDoc(d) {
  const o = d.over;
  try {
    const r = await api.postJson('/ui/tokens', { model: state.conv.model, text: d.fullText, fit: o.room });
    d.text = d.fullText.slice(0, r.fit_utf16);
    d.tokens = r.fit_tokens;
    d.tokensFor = `${state.conv.model}\n${d.text.length}`;
    d.over = null;
    status(`Only the first ${count(d.tokens)} tokens of ${d.name} will be sent; the message says so to the model.`);
  } catch (e) {
    failed(e);
  }
  renderDocs();
  checkDocs();
}

$('attach-btn').addEventListener('click', () => $('file-input').click());
$('file-input').addEventListener('change', (e) => {
  const files = [...e.target.files];
  e.target.value = '';
  attach(files);
});

let dragDepth = 0;
const main = $('main');
main.addEventListener('dragenter', (e) => {
  if (![...e.dataTransfer.types].includes('Files')) return;
  e.preventDefault();
  dragDepth += 1;
  $('drop').hidden = false;
});
main.addEventListener('dragover', (e) => {
  if ([...e.dataTransfer.types].includes('Files')) e.preventDefault();
});
main.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) $('drop').hidden = true;
});
main.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  $('drop').hidden = true;
  const files = [...(e.dataTransfer.files || [])];
  if (files.length) attach(files);
});

// ---------- composer and keys ----------

function autosize() {
  const t = $('prompt');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight + 2, window.innerHeight * 0.4)}px`;
}

$('prompt').addEventListener('input', autosize);
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  send();
});
$('stop-btn').addEventListener('click', stop);
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || e.defaultPrevented) return;
  if (state.busy) {
    e.preventDefault();
    stop();
  } else if (!$('settings').hidden) {
    closeSettings(true);
  } else if ($('sidebar').classList.contains('open')) {
    closeSidebar();
    $('open-side').focus();
  }
});

// ---------- panels ----------

function narrow() {
  return window.matchMedia('(max-width: 860px)').matches;
}

function closeSidebar() {
  $('sidebar').classList.remove('open');
  $('open-side').setAttribute('aria-expanded', 'false');
  if ($('settings').hidden) $('scrim').hidden = true;
}

function closeSettings(focusBack) {
  if ($('settings').hidden) return;
  $('settings').hidden = true;
  $('settings-btn').setAttribute('aria-expanded', 'false');
  if (!$('sidebar').classList.contains('open')) $('scrim').hidden = true;
  if (focusBack) $('settings-btn').focus();
}

/** After picking a conversation: on a phone, back to the chat. */
function closeOverlays() {
  closeSidebar();
  if (narrow()) closeSettings(false);
}

$('open-side').addEventListener('click', () => {
  $('sidebar').classList.add('open');
  $('open-side').setAttribute('aria-expanded', 'true');
  $('scrim').hidden = false;
  $('new-chat').focus();
});
$('close-side').addEventListener('click', () => {
  closeSidebar();
  $('open-side').focus();
});
$('scrim').addEventListener('click', () => {
  closeSidebar();
  closeSettings(false);
});
$('new-chat').addEventListener('click', newChat);
$('settings-btn').addEventListener('click', () => {
  if (!$('settings').hidden) return closeSettings(true);
  $('settings').hidden = false;
  $('settings-btn').setAttribute('aria-expanded', 'true');
  if (narrow()) $('scrim').hidden = false;
  $('system').focus();
});
$('close-settings').addEventListener('click', () => closeSettings(true));

function renderSettings() {
  const c = state.conv;
  $('system').value = c.system || '';
  const box = $('dials');
  box.replaceChildren();
  for (const d of DIALS) {
    const id = `dial-${d.key}`;
    const input = el('input', { id, type: 'number', min: d.min, max: d.max, step: d.step, inputmode: 'decimal', placeholder: d.def == null ? 'random' : String(d.def) });
    input.value = c.settings[d.key] ?? '';
    input.addEventListener('change', () => {
      const v = input.value === '' ? d.def : Number(input.value);
      c.settings[d.key] = Number.isFinite(v) ? Math.min(d.max, Math.max(d.min, v)) : d.def;
      input.value = c.settings[d.key] ?? '';
      persist();
    });
    box.append(el('div', {}, el('label', { for: id, text: d.label }), input, el('small', { text: d.help })));
  }
}

let systemTimer = 0;
$('system').addEventListener('input', () => {
  state.conv.system = $('system').value;
  clearTimeout(systemTimer);
  systemTimer = setTimeout(() => {
    persist();
    countContext();
  }, 400);
});
$('reset-dials').addEventListener('click', () => {
  state.conv.settings = defaultSettings();
  renderSettings();
  persist();
});
$('export-btn').addEventListener('click', () => {
  const blob = new Blob([`${JSON.stringify(toSaved(state.conv), null, 2)}\n`], { type: 'application/json' });
  const a = el('a', { href: URL.createObjectURL(blob), download: exportName(state.conv) });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
});
$('delete-btn').addEventListener('click', () => {
  if (!state.saved) return newChat();
  removeConv(state.conv);
});
$('import-btn').addEventListener('click', () => $('import-file').click());
$('import-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f) return;
  try {
    const convs = parseImport(await f.text());
    for (const c of convs) await db.put(c);
    await refreshList();
    setConv(convs[0], true);
    status(`Imported ${convs.length === 1 ? `“${convs[0].title}”` : `${convs.length} conversations`}.`);
  } catch (err) {
    status(`${f.name}: ${err.message}`, true);
  }
});

// ---------- pulling a model ----------

async function pull(name) {
  name = (name || '').trim();
  if (!name) return;
  const bar = $('pull-progress');
  const st = $('pull-status');
  const buttons = [$('pull-btn'), $('pull-name-btn')];
  buttons.forEach((b) => (b.disabled = true));
  st.classList.remove('error');
  bar.hidden = false;
  bar.removeAttribute('value');
  st.textContent = `Downloading ${name}…`;
  const before = new Set(state.info.models.map((m) => m.name));
  let error = null;
  try {
    for await (const line of api.pullStream(name)) {
      const p = pullProgress(line);
      if (p.error) error = p.error;
      if (p.fraction != null) bar.value = p.fraction;
      if (!p.finished) {
        st.textContent = p.total ? `${p.label}: ${bytes(p.done)} of ${bytes(p.total)}` : p.label;
      }
    }
  } catch (e) {
    error = e.message;
  }
  buttons.forEach((b) => (b.disabled = false));
  if (error) {
    bar.hidden = true;
    st.textContent = `Could not download ${name}: ${error}`;
    st.classList.add('error');
    return;
  }
  bar.value = 1;
  await loadModels();
  // the model the download added (its name may differ from what was asked: a URL, a bare name)
  const added = state.info.models.filter((m) => !before.has(m.name));
  const have = added.length === 1 ? added[0] : state.info.models.find((m) => m.name === name || m.name.startsWith(`${name}:`));
  st.textContent = have ? `${have.name} is ready.` : `${name} is ready.`;
  if (have) {
    state.conv.model = have.name;
    renderModels();
    persist();
    countContext();
  }
}

$('pull-btn').addEventListener('click', () => pull($('pull-select').value));
$('pull-name-btn').addEventListener('click', () => pull($('pull-name').value));
$('pull-name').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') pull($('pull-name').value);
});

// ---------- start ----------

/** The message box's hint fits the window: the keys on a wide one. */
function placeholder() {
  $('prompt').placeholder = narrow() ? 'Message' : 'Message (Enter sends, Shift+Enter for a new line)';
}
window.matchMedia('(max-width: 860px)').addEventListener('change', placeholder);

async function start() {
  placeholder();
  try {
    await loadModels();
  } catch (e) {
    if (e.status === 401) askKey();
    else failed(e);
  }
  try {
    await refreshList();
  } catch (e) {
    failed(e);
  }
  if (state.list.length) setConv(state.list[0], true);
  else setConv(newConversation(state.info ? pickDefaultModel() : null), false);
  autosize();
  $('prompt').focus();
}

start();
