// The page's shared state, its DOM helpers and the status line; every other
// module of the page imports these (this one imports none of them).

export const $ = (id) => document.getElementById(id);
export const el = (tag, attrs = {}, ...kids) => {
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
export const ICON = {
  edit: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M4 20h4L19 9l-4-4L4 16v4z"/></svg>',
  trash: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/></svg>',
  x: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M6 6l12 12M18 6L6 18"/></svg>',
  doc: '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M6 3h8l4 4v14H6zM14 3v4h4"/></svg>',
};

export const state = {
  info: null, // GET /ui/models
  list: [], // saved conversations, newest first
  conv: null, // the open conversation
  saved: false, // whether `conv` is in the database yet
  busy: null, // {controller} while an answer streams
  docs: [], // documents attached to the message being written
  used: null, // tokens the conversation takes (null: not counted)
};

// ---------- status and errors ----------

export function status(text, isError = false) {
  const s = $('status');
  s.textContent = text || '';
  s.classList.toggle('error', isError);
}

export function failed(e) {
  if (e && e.status === 401) {
    askKey();
    return;
  }
  status(e && e.message ? e.message : String(e), true);
}

/** The API key dialog (app.js handles its form). */
export function askKey(refused = false) {
  const d = $('key-dialog');
  $('key-error').textContent = refused ? 'The server refused that key.' : '';
  if (!d.open) d.showModal();
  $('key-input').focus();
}
