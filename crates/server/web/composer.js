// The message box and the page's keys.

import { $, state } from './state.js';
import { send, stop } from './send.js';
import { closeSidebar, closeSettings } from './panels.js';

export function autosize() {
  const t = $('prompt');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight + 2, window.innerHeight * 0.4)}px`;
}

export function wireComposer() {
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
}
