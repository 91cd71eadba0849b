// Downloading a model from Settings (POST /api/pull, its progress).

import * as api from './lib/api.js';
import { pullProgress } from './lib/stream.js';
import { bytes } from './lib/fmt.js';
import { $, state } from './state.js';
import { loadModels, renderModels } from './models.js';
import { countContext } from './meter.js';
import { persist } from './convs.js';

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

export function wirePull() {
  $('pull-btn').addEventListener('click', () => pull($('pull-select').value));
  $('pull-name-btn').addEventListener('click', () => pull($('pull-name').value));
  $('pull-name').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') pull($('pull-name').value);
  });
}
