// What the browser tests share (dashboard.mjs, lambda_dashboard.mjs): playwright-core and
// axe-core from web/node_modules, the environment, the accessibility check and screenshots,
// the console watch, and Debian's Chromium launched headless.
import {strict as assert} from 'node:assert';
import {mkdirSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join} from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
export const {chromium} = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
export const url = env('SW_URL');
export const artifacts = env('SW_ARTIFACTS');
mkdirSync(artifacts, {recursive: true});

export const kTimeout = 15_000;

export function step(text) {
  console.log(`browser: ${text}`);
}

// axe-core in the page (evaluated over the DevTools protocol, which the page's CSP does not
// govern): zero serious or critical violations.
export async function checkAccessibility(page, name) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {resultTypes: ['violations']});
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
  });
  assert.deepEqual(violations, [], `${name}: accessibility violations`);
}

export async function snapshot(page, name) {
  await checkAccessibility(page, name);
  await page.screenshot({path: join(artifacts, `${name}.png`), fullPage: true});
}

// Fails the test on any console error (a CSP violation included) or uncaught exception.
export function watch(page, problems) {
  page.on('console', (msg) => {
    // 401 and 403 are answers the test provokes; the Overview page shows "not available"
    // for a server without the out-of-stock statistics route.
    if (msg.type() === 'error' && !/status of 40[13]/.test(msg.text()) &&
        !msg.location().url.includes('/api/v1/stats/')) {
      problems.push(`${msg.text()} (${msg.location().url})`);
    }
  });
  page.on('pageerror', (error) => problems.push(String(error)));
}

// Debian's Chromium, headless.
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// A fresh browser context (1280x800) and a page in it, watched for console errors into
// `problems`, with the tests' timeout.
export async function openPage(browser, problems) {
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  const page = await context.newPage();
  watch(page, problems);
  page.setDefaultTimeout(kTimeout);
  return {context, page};
}
