// The messages of the open conversation: showing them (answers as Markdown,
// their thinking and numbers), copying, editing, regenerating.

import { renderMarkdown } from './lib/markdown.js';
import { splitThinking } from './lib/stream.js';
import { composeContent } from './lib/conv.js';
import { count, tokS } from './lib/fmt.js';
import { $, el, ICON, state, status } from './state.js';
import { generate } from './send.js';

export function renderMessages() {
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

export function messageEl(m, i) {
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
export function fillAnswer(art, m, live) {
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

export function scrollDown(force) {
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

export function wireMessages() {
  $('messages').addEventListener('click', (e) => {
    const b = e.target.closest('.copy-code');
    if (!b) return;
    const code = b.closest('.code').querySelector('pre code');
    copy(code.textContent, 'Code copied');
    b.textContent = 'Copied';
    setTimeout(() => (b.textContent = 'Copy'), 1500);
  });
}
