// Dashboard figures of issue 5 ("Performance"): the size of the JavaScript and CSS gzipped
// (goal <= 150 KB) and the time from navigation to an interactive inventory page in headless
// Chromium on loopback (goal <= 500 ms).
//
//   node bench/web_tti.mjs [path/to/stockwatch] [runs]
//
// Starts `stockwatch serve` on a temporary data directory, loads samples/ into it, logs in
// once, then loads /#/inventory `runs` times (default 20) in a fresh page with a warm HTTP
// cache of the session, as a returning user would. "Interactive" is the moment the first
// inventory row is in the DOM (the page has fetched /api/v1/me, the stores and a page of
// items and rendered them, so every control works): it is taken in the page by a
// MutationObserver, with performance.now() measured from the start of the navigation.
// Needs /usr/bin/chromium and web/node_modules (playwright-core).
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, readdirSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {gzipSync} from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(join(root, 'web/package.json'));
const {chromium} = require('playwright-core');

const bin = process.argv[2] || join(root, 'build/release/src/stockwatch');
const runs = Number(process.argv[3] || 20);
const token = 'sw_bench_admin_token_0123456789abcdef';
const password = 'bench admin password 0123';

function startServer() {
  const data = mkdtempSync(join(tmpdir(), 'sw-tti-'));
  const proc = spawn(bin, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--s3-listen', 'off'], {
    env: {...process.env, STOCKWATCH_ADMIN_TOKEN: token, STOCKWATCH_ADMIN_PASSWORD: password},
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /stockwatch listening on \S*?:(\d+)/.exec(out);
      if (match) resolve({proc, url: `http://127.0.0.1:${match[1]}`});
    });
    proc.on('exit', (code) => reject(new Error(`stockwatch serve exited ${code}: ${out}`)));
  });
}

const {proc, url} = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const samples = join(root, 'samples');
  for (const name of readdirSync(samples).filter((f) => f.endsWith('.csv'))) {
    const response = await fetch(`${url}/api/v1/uploads/${name}`, {
      method: 'PUT', headers: {Authorization: `Bearer ${token}`}, body: readFileSync(join(samples, name)),
    });
    if (response.status !== 201) throw new Error(`upload ${name}: ${response.status}`);
  }

  // Sizes, as served: index.html names the bundles.
  const index = await (await fetch(`${url}/`)).text();
  let gzipped = 0;
  let raw = 0;
  for (const [, path] of index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
    const body = Buffer.from(await (await fetch(`${url}${path}`)).arrayBuffer());
    raw += body.length;
    gzipped += gzipSync(body, {level: 9}).length;
  }

  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  await context.addInitScript(() => {
    const observer = new MutationObserver(() => {
      if (document.querySelector('tbody tr[data-store]')) {
        window.__interactiveAt = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document, {childList: true, subtree: true});
  });
  const login = await context.newPage();
  await login.goto(`${url}/`);
  await login.getByLabel('User name').fill('admin');
  await login.getByLabel('Password').fill(password);
  await login.getByRole('button', {name: 'Sign in'}).click();
  await login.locator('tbody tr[data-store]').first().waitFor();
  await login.close();

  const times = [];
  for (let i = 0; i < runs; i++) {
    const page = await context.newPage();
    await page.goto(`${url}/#/inventory`);
    await page.waitForFunction(() => window.__interactiveAt !== undefined);
    times.push(await page.evaluate(() => window.__interactiveAt));
    await page.close();
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(`JS+CSS: ${raw} bytes, ${gzipped} bytes gzipped (goal <= 153600)`);
  console.log(`inventory page interactive (${runs} loads): min ${times[0].toFixed(0)} ms, ` +
              `median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms, ` +
              `max ${times[times.length - 1].toFixed(0)} ms (goal <= 500 ms)`);
} finally {
  await browser.close();
  proc.kill('SIGTERM');
}
