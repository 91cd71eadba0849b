// node --test: answers rendered as HTML (lib/markdown.js) — Markdown, code
// highlighting, and nothing an answer could use to run script or load anything.
import test from 'node:test';
import assert from 'node:assert/strict';
import { renderMarkdown, escapeHtml, fenceLanguage } from '../lib/markdown.js';

test('markdown and highlighted code blocks with a copy button', () => {
  const h = renderMarkdown('# Title\n\nSome **bold** and `code`.\n\n```rust\nfn main() { let x = 1; }\n```\n');
  assert.match(h, /<h1>Title<\/h1>/);
  assert.match(h, /<strong>bold<\/strong>/);
  assert.match(h, /<code>code<\/code>/);
  assert.match(h, /<div class="code"><div class="code-head"><span class="code-lang">rust<\/span><button type="button" class="copy-code"/);
  assert.match(h, /<code class="hljs language-rust"><span class="hljs-keyword">fn<\/span>/);
  // an unknown language is escaped text, not highlighted
  const u = renderMarkdown('```nosuchlang\n<b>x</b>\n```');
  assert.match(u, /<code class="hljs">&lt;b&gt;x&lt;\/b&gt;/);
  assert.equal(fenceLanguage('Python {title}'), 'python');
  assert.equal(fenceLanguage(''), null);
});

test('raw HTML in an answer is shown, never run', () => {
  for (const evil of ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '<iframe src="https://example.com"></iframe>', 'a <b onclick="x()">b</b>']) {
    const h = renderMarkdown(evil);
    assert.doesNotMatch(h, /<(script|img|iframe|b)[\s>]/i, evil);
    assert.match(h, /&lt;/, evil);
  }
});

test('links only to http(s)/mailto; images never load', () => {
  assert.match(renderMarkdown('[site](https://example.com)'), /<a href="https:\/\/example.com" target="_blank" rel="noopener noreferrer">site<\/a>/);
  const js = renderMarkdown('[click](javascript:alert(1))');
  assert.doesNotMatch(js, /<a /);
  assert.match(js, /click/);
  const img = renderMarkdown('![cat](https://example.com/cat.png)');
  assert.doesNotMatch(img, /<img/);
  assert.match(img, /\[image: cat\]/);
  assert.doesNotMatch(renderMarkdown('![x](data:image/png;base64,AAAA)'), /<img|<a /);
});

test('escapeHtml', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
