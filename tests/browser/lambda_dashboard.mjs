// The dashboard in AWS mode in Debian's Chromium: the `api` Lambda function behind a Function
// URL stand-in, signing in with the Cognito hosted UI's stand-in (which signs in the user the
// test chose). Run by tests/integration/test_lambda_dashboard.py; exits non-zero on the
// first failed check.
//
// Environment: SW_URL (the Function URL front), SW_PROVIDER_URL (the hosted UI's stand-in,
// told which user signs in next), SW_ARTIFACTS (screenshots), CHROMIUM.
import {strict as assert} from 'node:assert';

import {launchChromium, openPage, snapshot, step, url} from './common.mjs';

const browser = await launchChromium();
const problems = [];
try {
  const {page} = await openPage(browser, problems);

  step('the login page offers the pool\'s sign-in only: no password form');
  await page.goto(`${url}/`);
  const sso = page.getByRole('link', {name: 'Sign in with SSO'});
  await sso.waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0);
  await snapshot(page, 'lambda-login');

  step('sign in through the hosted UI: back on the dashboard as the pool\'s manager of Berlin');
  await sso.click();
  await page.getByTestId('user-name').waitFor();
  assert.equal(await page.getByTestId('user-name').textContent(), 'carol');
  assert.equal(await page.getByTestId('user-role').textContent(), 'manager');
  await page.getByRole('heading', {name: 'Inventory', exact: true}).waitFor();

  step('only the pages the function serves are offered');
  const nav = await page.getByRole('navigation', {name: 'Main'}).getByRole('link').allTextContents();
  assert.deepEqual(nav, ['Inventory', 'Subscriptions']);

  step('Berlin\'s inventory from the table: Echo Plus out of stock, no other store');
  const echoPlus = page.locator('tr[data-store="Berlin"][data-item="Echo Plus"] td.count-out');
  await echoPlus.waitFor();
  assert.match(await echoPlus.textContent(), /^0\s*out of stock$/);
  assert.equal(await page.locator('tbody tr[data-store]:not([data-store="Berlin"])').count(), 0);
  // No item page here: the item names are text, not links.
  assert.equal(await page.locator('tr[data-store="Berlin"][data-item="Echo Plus"] a').count(), 0);
  await snapshot(page, 'lambda-inventory');

  step('subscribe a phone to Berlin\'s out-of-stock alerts (an SNS subscription), then remove it');
  await page.getByRole('link', {name: 'Subscriptions', exact: true}).click();
  await page.getByRole('heading', {name: 'Subscriptions', exact: true}).waitFor();
  assert.equal(await page.getByLabel('Digest').count(), 0, 'no digest option over SNS');
  await page.getByLabel('Endpoint (mailto:, https://, +E.164)').fill('+15555550142');
  await page.getByLabel('Only alerts of store').selectOption('Berlin');
  await page.getByRole('button', {name: 'Subscribe'}).click();
  const subscribed = page.locator('tbody tr').filter({hasText: '+15555550142'});
  await subscribed.waitFor();
  assert.match(await subscribed.textContent(), /sms: \+15555550142.*confirmed.*Berlin/);
  await snapshot(page, 'lambda-subscriptions');
  await subscribed.getByRole('button', {name: /^Delete/}).click();
  await subscribed.waitFor({state: 'detached'});

  step('a page the function does not serve says so');
  await page.goto(`${url}/#/uploads`);
  await page.getByRole('heading', {name: 'Not available'}).waitFor();

  step('log out: back to the login page, and the API answers 401');
  await page.getByRole('button', {name: 'Log out'}).click();
  await sso.waitFor();
  assert.equal(await page.evaluate(async () => (await fetch('/api/v1/me')).status), 401);

  step('sign in as the pool\'s admin: the admin page holds the thresholds only');
  const chosen = await fetch(`${process.env.SW_PROVIDER_URL}/_test/user`, {method: 'POST', body: 'alice'});
  assert.equal(chosen.status, 204);
  await sso.click();
  await page.getByTestId('user-name').waitFor();
  assert.equal(await page.getByTestId('user-name').textContent(), 'alice');
  await page.getByRole('link', {name: 'Admin', exact: true}).click();
  await page.getByRole('heading', {name: 'Thresholds', exact: true}).waitFor();
  assert.equal(await page.getByRole('heading', {name: 'Users', exact: true}).count(), 0);

  step('set a threshold for Berlin\'s Echo Dots: the inventory shows them low');
  await page.locator('#th-store').fill('Berlin');
  await page.locator('#th-item').fill('Echo Dot');
  await page.locator('#th-value').fill('15');
  await page.getByRole('button', {name: 'Save threshold'}).click();
  await page.getByText('Threshold saved.').waitFor();
  const row = page.locator('tbody tr').filter({hasText: 'Echo Dot'});
  await row.waitFor();
  assert.match(await row.textContent(), /Berlin.*Echo Dot.*15/);
  await snapshot(page, 'lambda-thresholds');
  await page.getByRole('link', {name: 'Inventory', exact: true}).click();
  const dot = page.locator('tr[data-store="Berlin"][data-item="Echo Dot"] td.count-low');
  await dot.waitFor();
  assert.match(await dot.textContent(), /^12\s*low$/);

  step('remove it again');
  await page.getByRole('link', {name: 'Admin', exact: true}).click();
  await row.getByRole('button', {name: 'Remove'}).click();
  await page.getByText('Threshold removed.').waitFor();
  await row.waitFor({state: 'detached'});
  assert.deepEqual(problems, [], 'console errors');
  console.log('browser: lambda dashboard passed');
} finally {
  await browser.close();
}
