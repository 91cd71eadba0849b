// The sidebar and the Settings panel: opening and closing them, the
// conversation's system prompt and dials, export, import, delete.

import * as db from './lib/db.js';
import { DIALS, defaultSettings, toSaved, exportName, parseImport } from './lib/conv.js';
import { $, el, state, status } from './state.js';
import { countContext } from './meter.js';
import { persist, refreshList, removeConv, newChat, setConv } from './convs.js';

export function narrow() {
  return window.matchMedia('(max-width: 860px)').matches;
}

export function closeSidebar() {
  $('sidebar').classList.remove('open');
  $('open-side').setAttribute('aria-expanded', 'false');
  if ($('settings').hidden) $('scrim').hidden = true;
}

export function closeSettings(focusBack) {
  if ($('settings').hidden) return;
  $('settings').hidden = true;
  $('settings-btn').setAttribute('aria-expanded', 'false');
  if (!$('sidebar').classList.contains('open')) $('scrim').hidden = true;
  if (focusBack) $('settings-btn').focus();
}

/** After picking a conversation: on a phone, back to the chat. */
export function closeOverlays() {
  closeSidebar();
  if (narrow()) closeSettings(false);
}

export function renderSettings() {
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

export function wirePanels() {
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
}
