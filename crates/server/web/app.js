// hearth's chat page: the conversation list, the model picker, streaming
// answers, documents, settings. This module wires the page together and
// starts it; the state and the DOM helpers are in state.js, each part of the
// page in its own module (models, meter, convs, messages, send, docs,
// composer, panels, pull), the pure parts in lib/.

import * as api from './lib/api.js';
import { newConversation } from './lib/conv.js';
import { $, state, status, failed, askKey } from './state.js';
import { loadModels, pickDefaultModel, renderModels, wireModels } from './models.js';
import { countContext } from './meter.js';
import { refreshList, setConv } from './convs.js';
import { wireMessages } from './messages.js';
import { wireDocs } from './docs.js';
import { autosize, wireComposer } from './composer.js';
import { narrow, wirePanels } from './panels.js';
import { wirePull } from './pull.js';

// ---------- API key ----------

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

wireModels();
wireMessages();
wireDocs();
wireComposer();
wirePanels();
wirePull();

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
