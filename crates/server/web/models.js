// The models: the picker at the top, the list and the download catalog in
// Settings, the note under the picker.

import * as api from './lib/api.js';
import { bytes, count, tokS, verdictLabel, modelLine } from './lib/fmt.js';
import { $, el, state } from './state.js';
import { renderMeter, countContext } from './meter.js';
import { persist } from './convs.js';
import { checkDocs } from './docs.js';

export function modelInfo(name) {
  return state.info && state.info.models.find((m) => m.name === name);
}

export async function loadModels() {
  const info = await api.getJson('/ui/models');
  state.info = info;
  renderModels();
  return info;
}

export function pickDefaultModel() {
  const ms = (state.info && state.info.models) || [];
  const last = localStorage.getItem('hearth.model');
  if (last && ms.some((m) => m.name === last)) return last;
  const good = ms.find((m) => !m.error && m.has_template !== false && m.verdict !== 'does not fit');
  return (good || ms[0] || {}).name || null;
}

export function renderModels() {
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

export function wireModels() {
  $('model-select').addEventListener('change', async (e) => {
    state.conv.model = e.target.value;
    localStorage.setItem('hearth.model', e.target.value);
    state.used = null;
    renderModelNote();
    await persist();
    countContext();
    checkDocs();
  });
}
