// The conversations: saving them, the list in the sidebar, opening one.

import * as db from './lib/db.js';
import { NEW_TITLE, defaultSettings, newConversation } from './lib/conv.js';
import { when } from './lib/fmt.js';
import { $, el, ICON, state, status, failed } from './state.js';
import { modelInfo, pickDefaultModel, renderModels } from './models.js';
import { countContext } from './meter.js';
import { renderMessages } from './messages.js';
import { stop } from './send.js';
import { renderDocs } from './docs.js';
import { closeOverlays, renderSettings } from './panels.js';

/** Save a conversation (the open one by default; a new one only once it has a message). */
export async function persist(c = state.conv) {
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

export async function refreshList() {
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

export async function removeConv(c) {
  if (!confirm(`Delete the conversation “${c.title}”? This cannot be undone (export it first to keep a copy).`)) return;
  await db.remove(c.id);
  if (state.conv && state.conv.id === c.id) {
    stop();
    newChat();
  }
  await refreshList();
}

export function newChat() {
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

export function setConv(c, saved) {
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
