// Documents attached to the message being written: reading them (through
// /ui/extract), fitting them in the context, dropping files on the page.

import * as api from './lib/api.js';
import { newId, requestMessages, answerReserve, docBudget } from './lib/conv.js';
import { bytes, count } from './lib/fmt.js';
import { $, el, ICON, state, status, failed, askKey } from './state.js';
import { modelInfo } from './models.js';
import { newChat } from './convs.js';

const DOC_EXT = ['txt', 'text', 'md', 'markdown', 'pdf', 'docx', 'html', 'htm', 'xhtml'];
const DOC_MAX = 32 << 20;

export function renderDocs() {
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
export async function checkDocs() {
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

export function wireDocs() {
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
}
