// Markdown to HTML for answers: marked (GitHub-flavoured Markdown) and
// highlight.js for code blocks, both vendored. A model's answer is not
// trusted: raw HTML in it is shown as text, links go only to http(s) and
// mailto, and images are never loaded (shown as links), so an answer can
// neither run script nor make the page fetch anything. No DOM needed
// (unit-tested with node --test).

import { Marked } from '../vendor/marked.esm.js';
import hljs from '../vendor/highlight.min.js';

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

/** The language named by a fence (```rust), if highlight.js knows it. */
export function fenceLanguage(lang) {
  const l = ((lang || '').match(/^\S*/)[0] || '').toLowerCase();
  return l && hljs.getLanguage(l) ? l : null;
}

function link(href, inner, title) {
  const t = title ? ` title="${escapeHtml(title)}"` : '';
  return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer"${t}>${inner}</a>`;
}

const md = new Marked().use({
  gfm: true,
  breaks: true,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }) {
      const l = fenceLanguage(lang);
      const shown = (lang || '').match(/^\S*/)[0] || 'text';
      const body = l ? hljs.highlight(text, { language: l, ignoreIllegals: true }).value : escapeHtml(text);
      return (
        `<div class="code"><div class="code-head"><span class="code-lang">${escapeHtml(shown)}</span>` +
        `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
        `<pre><code class="hljs${l ? ` language-${l}` : ''}">${body}</code></pre></div>\n`
      );
    },
    link({ href, title, tokens }) {
      const inner = this.parser.parseInline(tokens);
      return SAFE_URL.test(href || '') ? link(href, inner, title) : inner;
    },
    image({ href, title, text }) {
      const label = escapeHtml(text || href || 'image');
      return SAFE_URL.test(href || '') ? link(href, `[image: ${label}]`, title) : `[image: ${label}]`;
    },
  },
});

/** An answer (Markdown) as HTML that is safe to put in the page. */
export function renderMarkdown(src) {
  return md.parse(src || '');
}
