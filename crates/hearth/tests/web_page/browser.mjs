// The chat page in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against a real `hearth serve` with a real model (started
// by web_page.rs, which passes everything in the environment):
//   HEARTH_URL    the server (http://127.0.0.1:PORT)
//   HEARTH_URL_KEYED, HEARTH_KEY   a second server started with --api-key
//   PLAYWRIGHT_DIR  where playwright-core is installed (scripts/setup-browser-test.sh)
//   MODEL         the model to chat with
//   PDF           a PDF to attach
//   GGUF          a model file the keyed server downloads through the page
//   OUT           where screenshots, the exported conversation and the request log go
// Every request the browser makes is intercepted: any to another origin is
// refused and fails the test. Prints one line per step; exits non-zero on
// the first failure.

import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, statSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL0 = env('HEARTH_URL').replace(/\/$/, '');
const KEYED = process.env.HEARTH_URL_KEYED ? process.env.HEARTH_URL_KEYED.replace(/\/$/, '') : null;
const MODEL = env('MODEL');
const PDF = env('PDF');
const OUT = env('OUT');
mkdirSync(OUT, { recursive: true });
const { chromium } = createRequire(join(env('PLAYWRIGHT_DIR'), 'package.json'))('playwright-core');

const origins = new Set([new URL(URL0).origin].concat(KEYED ? [new URL(KEYED).origin] : []));
const requests = [];
const outside = [];
const problems = [];
const chatBodies = [];

const t0 = Date.now();
let passed = 0;
async function step(name, f) {
  const t = Date.now();
  try {
    await f();
  } catch (e) {
    console.log(`FAIL ${name}: ${e.stack || e}`);
    try {
      console.log(`status line: ${await page.locator('#status').innerText()}`);
      await page.screenshot({ path: join(OUT, 'failed.png') });
      console.log(`screenshot: ${join(OUT, 'failed.png')}`);
    } catch {
      /* the page is gone */
    }
    throw e;
  }
  passed += 1;
  console.log(`ok   ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}

const profile = mkdtempSync(join(tmpdir(), 'hearth-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
  viewport: { width: 1280, height: 860 },
  acceptDownloads: true,
  colorScheme: 'light',
});
// The browser's network is the server's origin, nothing else.
await context.route('**/*', (route) => {
  const u = route.request().url();
  requests.push(`${route.request().method()} ${u}`);
  if (!u.startsWith('data:') && !u.startsWith('blob:') && !origins.has(new URL(u).origin)) {
    outside.push(u);
    return route.abort('blockedbyclient');
  }
  return route.continue();
});

const page = context.pages()[0] || (await context.newPage());
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  const t = m.text();
  // a refused request (an expected 4xx) is logged by the browser too; CSP violations and script errors are not fine
  if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(t)) {
    problems.push(`console error: ${t}`);
  }
});
page.on('dialog', (d) => d.accept());
page.on('request', (r) => {
  if (r.url().endsWith('/v1/chat/completions')) chatBodies.push(JSON.parse(r.postData()));
});

const lastAnswer = () => page.locator('#messages .msg.assistant').last();
const answerText = () => lastAnswer().locator('.bubble').innerText();
async function waitIdle(timeout = 90000) {
  await page.locator('#send-btn').waitFor({ state: 'visible', timeout });
}
/** Send a message and wait until its answer is complete (and saved). */
async function ask(text, timeout = 90000) {
  const n = await page.locator('#messages .msg.assistant').count();
  await sendMessage(text);
  await page.waitForFunction((k) => {
    const all = document.querySelectorAll('#messages .msg.assistant');
    return all.length > k && all[all.length - 1].getAttribute('aria-busy') === 'false';
  }, n, { timeout });
  await waitIdle(timeout);
}
async function setDial(key, value) {
  if (await page.locator('#settings').isHidden()) await page.click('#settings-btn');
  await page.fill(`#dial-${key}`, String(value));
  await page.locator(`#dial-${key}`).dispatchEvent('change');
}
async function closeSettings() {
  if (await page.locator('#settings').isVisible()) await page.click('#close-settings');
}
async function sendMessage(text) {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
}

try {
  await step('page loads from the binary with a strict CSP', async () => {
    const r = await page.goto(`${URL0}/`);
    check(r.status() === 200, `GET / answered ${r.status()}`);
    const csp = r.headers()['content-security-policy'] || '';
    check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'") && csp.includes("connect-src 'self'"), `CSP: ${csp}`);
    await page.locator(`#model-select option[value="${MODEL}"]`).waitFor({ state: 'attached', timeout: 30000 });
  });

  await step('model picker lists the model with its size and fit verdict', async () => {
    const label = await page.locator(`#model-select option[value="${MODEL}"]`).innerText();
    check(/ · \d+ MB · (fits|tight|will not fit)( · ~[\d.]+ tok\/s)?$/.test(label), `option text: ${label}`);
    await page.selectOption('#model-select', MODEL);
    await page.click('#settings-btn');
    const models = await page.locator('#model-list').innerText();
    check(models.includes(MODEL) && /needs \d+ MB at context/.test(models), `settings model list: ${models}`);
    const pull = await page.locator('#pull-note').innerText();
    check(/offline/.test(pull), `pull note (the server runs offline): ${pull}`);
    check(await page.locator('#pull-btn').isDisabled(), 'the download button is off while offline');
    check((await page.locator('#pull-select option').count()) > 0, 'the catalog is listed');
    await page.screenshot({ path: join(OUT, 'settings.png') });
    await page.click('#close-settings');
  });

  await step('every control has a label', async () => {
    const missing = await page.evaluate(() => {
      const out = [];
      for (const e of document.querySelectorAll('button, input, select, textarea, meter, progress')) {
        if (e.type === 'file' || e.closest('[hidden]')) continue;
        const name = (e.getAttribute('aria-label') || e.labels?.[0]?.textContent || e.textContent || '').trim();
        if (!name) out.push(e.outerHTML.slice(0, 80));
      }
      return out;
    });
    check(missing.length === 0, `unlabelled: ${missing.join(' | ')}`);
    // keyboard first: the page opens with the message box focused, Tab goes on to Send;
    // from the top, Tab walks the list, the header, then the message box
    await page.reload();
    await page.locator(`#model-select option[value="${MODEL}"]`).waitFor({ state: 'attached' });
    const focused = () => page.evaluate(() => document.activeElement.id || document.activeElement.className);
    check((await focused()) === 'prompt', `focused at load: ${await focused()}`);
    await page.keyboard.press('Tab');
    check((await focused()) === 'send-btn', `after Tab: ${await focused()}`);
    await page.evaluate(() => document.querySelector('.skip').focus());
    const order = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    const want = ['new-chat', 'import-btn', 'model-select', 'settings-btn', 'attach-btn', 'prompt', 'send-btn'];
    check(JSON.stringify(order.filter((x) => want.includes(x))) === JSON.stringify(want), `Tab order: ${order.join(', ')}`);
  });

  await step('an answer streams token by token, with tokens/s and the context meter', async () => {
    await setDial('temperature', 0);
    await setDial('max_tokens', 60);
    await closeSettings();
    await sendMessage('Write three sentences about the sea.');
    await page.locator('#stop-btn').waitFor({ state: 'visible', timeout: 10000 });
    const seen = new Set();
    const until = Date.now() + 90000;
    while (Date.now() < until) {
      const busy = await page.locator('#stop-btn').isVisible();
      const t = await answerText().catch(() => '');
      if (t && !t.startsWith('Reading the prompt')) seen.add(t);
      if (!busy) break;
      await page.waitForTimeout(40);
    }
    await waitIdle();
    const text = await answerText();
    check(text.trim().length > 10, `answer: ${text}`);
    check(seen.size >= 3, `the answer appeared in ${seen.size} steps, not streamed`);
    const meta = await lastAnswer().locator('.meta').innerText();
    check(/\d+ tokens/.test(meta) && /tok\/s/.test(meta), `meta: ${meta}`);
    const ctx = await page.locator('#ctx-label').innerText();
    check(/^[\d,]+ \/ 1,024$/.test(ctx) && !ctx.startsWith('0 '), `context label: ${ctx}`);
    const body = chatBodies.at(-1);
    check(body.stream === true && body.stream_options.include_usage === true && body.temperature === 0 && body.max_tokens === 60, `request: ${JSON.stringify(body)}`);
  });

  await step('Esc stops an answer, and the server stops generating it', async () => {
    await setDial('max_tokens', 0);
    await closeSettings();
    const answers = await page.locator('#messages .msg.assistant').count();
    await sendMessage('Tell a very long story about a lighthouse keeper, with many chapters.');
    await page.waitForFunction((n) => {
      const all = document.querySelectorAll('#messages .msg.assistant .bubble');
      const b = all[n];
      return all.length === n + 1 && b.innerText.length > 40 && !b.innerText.startsWith('Reading');
    }, answers, { timeout: 60000 });
    check(await page.locator('#stop-btn').isVisible(), 'the stop button shows while an answer streams');
    await page.keyboard.press('Escape');
    await waitIdle(10000);
    const meta = await lastAnswer().locator('.meta').innerText();
    check(/stopped/.test(meta), `meta after Esc: ${meta}`);
    // The server runs one sequence at a time (--parallel 1): had it kept
    // generating the stopped answer (up to the whole context), this one would wait.
    await setDial('max_tokens', 8);
    await closeSettings();
    const t = Date.now();
    await ask('Thanks!', 60000);
    const took = (Date.now() - t) / 1000;
    check(took < 30, `the next answer took ${took} s: the stopped one was still running?`);
    check((await page.locator('#messages .msg').count()) === 6, 'three turns');
  });

  const title = 'Write three sentences about the sea.';
  await step('after a reload the conversation is in the list and opens', async () => {
    await page.reload();
    await page.locator('#conv-list li').first().waitFor();
    const first = await page.locator('#conv-list li .t').first().innerText();
    check(first === title, `first conversation: ${first}`);
    await page.locator('#conv-list li .conv-open').first().click();
    await page.locator('#messages .msg').nth(5).waitFor();
    const sel = await page.locator('#model-select').inputValue();
    check(sel === MODEL, `model after reload: ${sel}`);
    const dial = await (async () => { await page.click('#settings-btn'); const v = await page.inputValue('#dial-max_tokens'); await page.click('#close-settings'); return v; })();
    check(dial === '8', `dial after reload: ${dial}`);
  });

  await step('a message is edited and the answer regenerated', async () => {
    await page.locator('#messages .msg.user').first().getByRole('button', { name: 'Edit' }).click();
    const box = page.locator('.edit-box textarea');
    await box.fill('Name one colour.');
    await box.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length === 2
      && document.querySelector('#messages .msg.assistant')?.getAttribute('aria-busy') === 'false');
    await waitIdle();
    check((await page.locator('#messages .msg').count()) === 2, 'the conversation was cut after the edited message');
    check((await page.locator('#messages .msg.user .bubble').innerText()) === 'Name one colour.', 'edited text shown');
    check(chatBodies.at(-1).messages.at(-1).content === 'Name one colour.', 'the edited message was sent');
    const before = chatBodies.length;
    await lastAnswer().getByRole('button', { name: 'Regenerate' }).click();
    await page.waitForFunction(() => document.querySelector('#messages .msg.assistant')?.getAttribute('aria-busy') === 'false');
    await waitIdle();
    check(chatBodies.length === before + 1, 'regenerate asked again');
    check((await page.locator('#messages .msg').count()) === 2, 'regenerate replaced the answer');
  });

  await step('a PDF is attached, read by the server and asked about', async () => {
    await page.click('#new-chat');
    await page.setInputFiles('#file-input', PDF);
    await page.locator('#doc-chips .chip', { hasText: 'tokens' }).waitFor({ timeout: 30000 });
    await ask('How many litres of paraffin were delivered?');
    const sent = chatBodies.at(-1).messages.at(-1).content;
    check(sent.startsWith('<document name="report.pdf">') && sent.includes('forty litres of paraffin') && sent.endsWith('How many litres of paraffin were delivered?'), `sent: ${sent.slice(0, 300)}`);
    check((await page.locator('#messages .msg.user .chip .n').innerText()) === 'report.pdf', 'the message shows its document');
    check((await answerText()).trim().length > 0, 'an answer came');
    await page.screenshot({ path: join(OUT, 'chat-desktop.png') });
  });

  await step('thinking shown folded; code highlighted, with a working copy button', async () => {
    // A canned reply in the server's SSE shape: thinking arrives as
    // delta.reasoning_content once the server separates it (the
    // structured-output work); the model here does not think.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(URL0).origin });
    const chunks = [
      { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { reasoning_content: 'The user wants ' }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { reasoning_content: 'a loop.' }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { content: 'Here:\n\n```python\nfor i in range(3):\n    print(i)\n```\n' }, finish_reason: null }] },
      { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      { choices: [], usage: { prompt_tokens: 20, completion_tokens: 12, total_tokens: 32 } },
    ];
    const body = `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')}data: [DONE]\n\n`;
    await page.route('**/v1/chat/completions', (r) => r.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body }), { times: 1 });
    await ask('Show a loop in Python.');
    const th = lastAnswer().locator('details.thinking');
    check(await th.isVisible(), 'thinking shown');
    check(!(await th.evaluate((d) => d.open)), 'thinking folded');
    const thought = await th.locator('.think-body').textContent();
    check(thought === 'The user wants a loop.', `thinking: ${thought}`);
    check((await lastAnswer().locator('code.language-python .hljs-keyword').count()) > 0, 'the code is highlighted');
    await lastAnswer().locator('.copy-code').click();
    await page.locator('#status', { hasText: 'Code copied' }).waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    check(clip === 'for i in range(3):\n    print(i)', `clipboard: ${JSON.stringify(clip)}`);
    await page.screenshot({ path: join(OUT, 'code-and-thinking.png') });
  });

  await step('a dropped document too long for the context is offered in part, never cut silently', async () => {
    const long = Array.from({ length: 1500 }, (_, i) => `Line ${i + 1}: the keeper trimmed the wick and wrote the weather down.`).join('\n');
    await page.evaluate((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'long.txt', { type: 'text/plain' }));
      const main = document.getElementById('main');
      main.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
      main.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
    }, long);
    const alert = page.locator('.too-long');
    await alert.waitFor({ timeout: 60000 });
    const say = await alert.innerText();
    check(/long\.txt is [\d,]+ tokens, more than this conversation has room for/.test(say), `notice: ${say}`);
    await page.screenshot({ path: join(OUT, 'document-too-long.png') });
    check(await page.locator('#send-btn').isVisible(), 'send button');
    await sendMessage('Summarise.');
    check((await page.locator('#status').innerText()).includes('does not fit'), 'sending is refused while the document does not fit');
    await alert.getByRole('button', { name: /^Use the first/ }).click();
    await page.locator('#doc-chips .chip', { hasText: /first [\d,]+ tokens of [\d,]+/ }).waitFor();
    const n = await page.locator('#messages .msg.assistant').count();
    await page.click('#send-btn');
    await page.waitForFunction((k) => document.querySelectorAll('#messages .msg.assistant').length > k, n);
    await waitIdle();
    const sent = chatBodies.at(-1).messages.at(-1).content;
    check(sent.includes('<document name="long.txt">') && sent.includes('(Only the beginning of long.txt is above'), `sent: ${sent.slice(-400)}`);
    check(!sent.includes('Line 1500:'), 'the cut text was sent, not all of it');
    const err = await lastAnswer().locator('.meta .failed').count();
    check(err === 0 && (await page.locator('#status.error').count()) === 0, 'the cut message fits');
  });

  await step('a file that is not a document is refused with a reason', async () => {
    await page.setInputFiles('#file-input', { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff]) });
    const err = await page.locator('#doc-chips .error').innerText();
    check(/photo\.jpg: not a document the page reads/.test(err), err);
    await page.getByRole('button', { name: 'Remove photo.jpg' }).click();
  });

  await step('export, import, rename and delete conversations', async () => {
    await page.click('#settings-btn');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-btn')]);
    const file = join(OUT, 'exported.json');
    await dl.saveAs(file);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    check(saved.format === 'hearth-conversation' && saved.version === 1 && saved.model === MODEL, `export: ${JSON.stringify(saved).slice(0, 200)}`);
    check(saved.messages.length === 6 && saved.messages[0].role === 'user' && saved.messages[0].content.startsWith('<document name="report.pdf">'), 'three turns exported, documents in the messages');
    await page.click('#close-settings');
    const before = await page.locator('#conv-list li').count();
    await page.setInputFiles('#import-file', file);
    await page.locator('#status', { hasText: 'Imported' }).waitFor();
    check((await page.locator('#conv-list li').count()) === before + 1, 'imported');
    const cur = page.locator('#conv-list li.current');
    await cur.getByRole('button', { name: /^Rename/ }).click();
    await page.locator('#conv-list li input').fill('Keeper log');
    await page.locator('#conv-list li input').press('Enter');
    await page.locator('#conv-list li.current .t', { hasText: 'Keeper log' }).waitFor();
    await page.locator('#conv-list li.current').getByRole('button', { name: /^Delete/ }).click();
    await page.waitForFunction((n) => document.querySelectorAll('#conv-list li').length === n, before);
  });

  await step('dark and phone-sized layouts', async () => {
    await page.locator('#conv-list li .conv-open').nth(0).click();
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(OUT, 'chat-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    check(await page.locator('#open-side').isVisible(), 'the list button shows on a phone');
    check(await page.locator('#sidebar').isHidden(), 'the list is folded away on a phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: join(OUT, 'chat-phone.png') });
    await page.click('#open-side');
    await page.locator('#sidebar').waitFor({ state: 'visible' });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, 'chat-phone-list.png') });
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  if (KEYED) {
    let p;
    await step('with --api-key the page asks for the key once and keeps it', async () => {
      p = await context.newPage();
      p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await p.goto(`${KEYED}/`);
      await p.locator('#key-dialog[open]').waitFor();
      await p.fill('#key-input', 'wrong-key');
      await p.press('#key-input', 'Enter');
      await p.locator('#key-error', { hasText: 'refused' }).waitFor();
      await p.fill('#key-input', env('HEARTH_KEY'));
      await p.press('#key-input', 'Enter');
      await p.locator('#key-dialog').waitFor({ state: 'hidden' });
      await p.locator(`#model-select option[value="${MODEL}"]`).waitFor({ state: 'attached' });
      await p.reload();
      await p.locator(`#model-select option[value="${MODEL}"]`).waitFor({ state: 'attached' });
      check(!(await p.locator('#key-dialog').evaluate((d) => d.open)), 'asked again after a reload');
    });

    await step('a model is downloaded through the page, with a progress bar', async () => {
      // a real pull by the (online) keyed server from a file server on this machine
      const gguf = env('GGUF');
      const size = statSync(gguf).size;
      const files = createServer((req, res) => {
        if (req.url !== '/pulled-smol.gguf') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
        if (req.method === 'HEAD') res.end();
        else createReadStream(gguf).pipe(res);
      });
      await new Promise((ok) => files.listen(0, '127.0.0.1', ok));
      try {
        await p.click('#settings-btn');
        check(!(await p.locator('#pull-btn').isDisabled()), 'the download button is on when online');
        await p.fill('#pull-name', `http://127.0.0.1:${files.address().port}/pulled-smol.gguf`);
        await p.click('#pull-name-btn');
        await p.locator('#pull-status', { hasText: 'is ready' }).waitFor({ timeout: 60000 });
        check((await p.locator('#pull-progress').evaluate((b) => b.value)) === 1, 'the progress bar is full');
        check((await p.locator('#model-select').inputValue()) === 'pulled-smol:latest', 'the new model is picked');
        check(await p.locator('#model-list', { hasText: 'pulled-smol:latest' }).isVisible(), 'the new model is listed');
        await p.locator('#pull-status').scrollIntoViewIfNeeded();
        await p.screenshot({ path: join(OUT, 'downloaded.png') });
      } finally {
        files.close();
      }
      await p.close();
    });
  }

  await step('no request left the server\'s origin; no script or CSP error', async () => {
    writeFileSync(join(OUT, 'requests.log'), `${requests.join('\n')}\n`);
    check(outside.length === 0, `requests to other origins: ${outside.join(', ')}`);
    check(requests.length > 10, `only ${requests.length} requests seen: is the interception working?`);
    check(problems.length === 0, problems.join('\n'));
  });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`browser: ${passed} passed, 0 failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
