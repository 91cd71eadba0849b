// The context meter: how much of the model's context the conversation takes.

import * as api from './lib/api.js';
import { requestMessages } from './lib/conv.js';
import { count } from './lib/fmt.js';
import { $, state, askKey } from './state.js';
import { modelInfo } from './models.js';

export function renderMeter() {
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
export async function countContext() {
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
