// End-to-end test of the dashboard in Debian's Chromium (playwright-core and axe-core from
// web/node_modules). Run by tests/integration/test_browser.py against a real `stockwatch
// serve` that holds the six sample files; exits non-zero on the first failed check.
//
// Environment: SW_URL (the server), SW_ADMIN_USER/SW_ADMIN_PASSWORD,
// SW_VIEWER_USER/SW_VIEWER_PASSWORD, SW_RESTOCK_FILE (a CSV that sets Berlin's Echo Plus to
// 5), SW_ARTIFACTS (screenshots are written there), CHROMIUM (default /usr/bin/chromium).
import {strict as assert} from 'node:assert';
import {readFileSync} from 'node:fs';
import {createServer} from 'node:http';

import {env, kTimeout, launchChromium, openPage, snapshot, step, url, watch} from './common.mjs';

const kSampleStores = ['Berlin', 'Calcutta', 'Karachi', 'Pusan', 'Shanghai', 'Springfield'];

async function login(page, name, password) {
  await page.goto(`${url}/`);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByTestId('user-name').waitFor({timeout: kTimeout});
}

async function logout(page) {
  await page.getByRole('button', {name: 'Log out'}).click();
  await page.getByRole('button', {name: 'Sign in'}).waitFor({timeout: kTimeout});
}

function row(page, store, item) {
  return page.locator(`tr[data-store="${store}"][data-item="${item}"]`);
}

const browser = await launchChromium();
const problems = [];
try {
  const {context, page} = await openPage(browser, problems);

  step('the login page');
  await page.goto(`${url}/`);
  await page.getByRole('button', {name: 'Sign in'}).waitFor();
  await snapshot(page, 'login');
  await page.getByLabel('User name').fill(env('SW_ADMIN_USER'));
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByText('wrong user name or password').waitFor();

  step('log in as admin');
  await login(page, env('SW_ADMIN_USER'), env('SW_ADMIN_PASSWORD'));
  assert.equal(await page.getByTestId('user-role').textContent(), 'admin');
  await page.getByRole('heading', {name: 'Inventory', exact: true}).waitFor();

  step('the six sample stores');
  await page.locator('#inv-store option').nth(kSampleStores.length).waitFor({state: 'attached'});
  const options = await page.locator('#inv-store option').allTextContents();
  assert.deepEqual(options, ['All stores', ...kSampleStores]);

  step('Berlin: Echo Plus at 0, marked out of stock');
  await page.getByLabel('Store').selectOption('Berlin');
  // The all-stores rows include Berlin's: wait for the others to go, not for Berlin's to come.
  await page.locator('tbody tr[data-store]:not([data-store="Berlin"])').first()
      .waitFor({state: 'detached'});
  await row(page, 'Berlin', 'Echo Dot').waitFor();
  assert.equal(await page.locator('tbody tr[data-store]:not([data-store="Berlin"])').count(), 0);
  const echoPlus = row(page, 'Berlin', 'Echo Plus').locator('td.count-out');
  await echoPlus.waitFor();
  assert.match(await echoPlus.textContent(), /^0\s*out of stock$/);
  await snapshot(page, 'inventory');

  step('upload a file on the Uploads page; the inventory (another tab) changes without a reload');
  const watcher = await context.newPage();
  watch(watcher, problems);
  watcher.setDefaultTimeout(kTimeout);
  await watcher.goto(`${url}/#/inventory`);
  await watcher.getByLabel('Store').selectOption('Berlin');
  await row(watcher, 'Berlin', 'Echo Plus').locator('td.count-out').waitFor();
  await watcher.evaluate(() => { window.notReloaded = true; });
  await page.getByRole('link', {name: 'Uploads', exact: true}).click();
  await page.getByRole('heading', {name: 'Uploads', exact: true}).waitFor();
  await page.locator('#upload-files').setInputFiles(env('SW_RESTOCK_FILE'));
  await page.getByText('uploaded', {exact: true}).waitFor();
  await page.locator('tbody tr').filter({hasText: 'berlin-restock.csv'})
      .locator('.status-loaded').waitFor();
  await snapshot(page, 'uploads');
  const restocked = row(watcher, 'Berlin', 'Echo Plus').locator('td.count-ok');
  await restocked.waitFor();
  assert.equal((await restocked.textContent()).trim(), '5');
  assert.equal(await watcher.evaluate(() => window.notReloaded), true, 'the inventory tab reloaded');
  await watcher.close();

  step('an item\'s history');
  await page.getByRole('link', {name: 'Inventory', exact: true}).click();
  await page.getByLabel('Store').selectOption('Berlin');
  await row(page, 'Berlin', 'Echo Plus').getByRole('link', {name: 'Echo Plus', exact: true}).click();
  await page.getByRole('heading', {name: /Echo Plus/}).waitFor();
  const history = page.getByRole('table', {name: 'History'}).locator('tbody tr');
  await history.nth(1).waitFor();
  assert.equal(await history.count(), 2);
  await page.getByText('NoStock').first().waitFor();
  await snapshot(page, 'item');

  step('create a subscription');
  await page.getByRole('link', {name: 'Subscriptions', exact: true}).click();
  await page.getByLabel('Endpoint (mailto:, https://, +E.164)').fill('mailto:ops@example.com');
  await page.getByLabel('Only alerts of store').selectOption('Berlin');
  await page.getByRole('button', {name: 'Subscribe'}).click();
  const subscription = page.locator('tbody tr').filter({hasText: 'ops@example.com'});
  await subscription.waitFor();
  assert.match(await subscription.textContent(), /pending confirmation/);
  assert.match(await subscription.textContent(), /Berlin/);
  await snapshot(page, 'subscriptions');

  step('send a test message to a confirmed webhook subscription');
  // A webhook receiver in this process (the server allows loopback targets in this test).
  const received = [];
  const sink = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      received.push({type: request.headers['x-stockwatch-message-type'], body: JSON.parse(body)});
      response.writeHead(200).end();
    });
  });
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const hook = `http://127.0.0.1:${sink.address().port}/hook`;
  const hookId = await page.evaluate(async (endpoint) => {
    const me = await (await fetch('/api/v1/me')).json();
    const created = await fetch('/api/v1/subscriptions', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
        body: JSON.stringify({topic: 'LowStock', endpoint, confirmed: true})});
    return (await created.json()).id;
  }, hook);
  await page.reload();
  await page.locator('tbody tr').filter({hasText: hook}).waitFor();
  // A pending subscription offers no test.
  assert.equal(await subscription.getByRole('button', {name: /^Send test/}).count(), 0);
  await page.getByRole('button', {name: `Send test message to subscription ${hookId}`}).click();
  await page.getByText(new RegExp(`^Test message to subscription ${hookId} \\(delivery \\d+\\): delivered\\.$`)).waitFor();
  assert.equal(received.length, 1);
  assert.equal(received[0].type, 'TestMessage');
  assert.equal(received[0].body.kind, 'test');
  assert.equal(received[0].body.Subject, 'stockwatch test message');
  assert.equal(received[0].body.topic, 'LowStock');
  await snapshot(page, 'subscriptions-test');
  sink.close();

  step('the other pages');
  await page.getByRole('link', {name: 'Alerts', exact: true}).click();
  await page.getByRole('list', {name: 'Alert timeline'}).getByText('Berlin is out of stock of Echo Plus').waitFor();
  await snapshot(page, 'alerts');
  await page.getByRole('link', {name: 'Overview', exact: true}).click();
  for (const store of kSampleStores) await page.getByRole('cell', {name: store, exact: true}).waitFor();
  await snapshot(page, 'overview');
  await page.getByRole('link', {name: 'Berlin', exact: true}).click();
  await row(page, 'Berlin', 'Echo Plus').waitFor();
  assert.equal(await page.getByLabel('Store').inputValue(), 'Berlin');
  await page.getByRole('link', {name: 'Admin', exact: true}).click();
  await page.getByRole('heading', {name: 'Users and roles', exact: true}).waitFor();
  await page.getByRole('cell', {name: env('SW_VIEWER_USER'), exact: true}).waitFor();
  step('the settings in force, secrets hidden');
  await page.getByRole('heading', {name: 'Settings', exact: true}).waitFor();
  const listen = page.locator('tr[data-setting="server.listen"]');
  await listen.waitFor();
  assert.match(await listen.textContent(), /127\.0\.0\.1:\d+.*127\.0\.0\.1:8080.*flag.*STOCKWATCH_SERVER_LISTEN/);
  // Secrets say only whether they are set (the admin token comes from STOCKWATCH_ADMIN_TOKEN,
  // not from the setting).
  assert.match(await page.locator('tr[data-setting="server.admin_token"]').textContent(), /not set/);
  assert.match(await page.locator('tr[data-setting="smtp.password"]').textContent(), /not set/);
  assert.ok(await page.locator('tr[data-setting]').count() > 50);
  await snapshot(page, 'admin');

  step('CSV export cannot run formulas from uploaded names');
  await page.getByRole('link', {name: 'Uploads', exact: true}).click();
  await page.locator('#upload-files').setInputFiles({
    name: 'formula.csv', mimeType: 'text/csv',
    buffer: Buffer.from('store,item,count\n"=SUM(1,2)",@cmd,1\n"=SUM(1,2)",+x,2\n"=SUM(1,2)",-y,3\n'),
  });
  await page.locator('tbody tr').filter({hasText: 'formula.csv'}).locator('.status-loaded').waitFor();
  await page.getByRole('link', {name: 'Inventory', exact: true}).click();
  await page.getByLabel('Store').selectOption('=SUM(1,2)');
  await row(page, '=SUM(1,2)', '@cmd').waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', {name: 'Export CSV'}).click(),
  ]);
  const exported = readFileSync(await download.path(), 'utf8').split('\r\n');
  assert.equal(exported[0], 'store,item,count,threshold,updated_at');
  for (const expected of ['"\'=SUM(1,2)",\'@cmd,1,', '"\'=SUM(1,2)",\'+x,2,', '"\'=SUM(1,2)",\'-y,3,']) {
    assert.ok(exported.some((line) => line.startsWith(expected)), `${expected} in ${exported.join('|')}`);
  }
  await logout(page);

  step('a viewer reaches no admin page and changes nothing');
  await login(page, env('SW_VIEWER_USER'), env('SW_VIEWER_PASSWORD'));
  assert.equal(await page.getByTestId('user-role').textContent(), 'viewer');
  assert.equal(await page.getByRole('link', {name: 'Admin', exact: true}).count(), 0);
  await page.goto(`${url}/#/admin`);
  await page.getByText('Only an admin may see this page.').waitFor();
  assert.equal(await page.getByRole('heading', {name: 'Users and roles', exact: true}).count(), 0);
  await snapshot(page, 'viewer-admin');
  await page.goto(`${url}/#/uploads`);
  await page.getByRole('heading', {name: 'Recent uploads', exact: true}).waitFor();
  assert.equal(await page.locator('#upload-files').count(), 0);
  await page.goto(`${url}/#/subscriptions`);
  await page.getByRole('heading', {name: 'Subscriptions', exact: true}).waitFor();
  assert.equal(await page.getByRole('button', {name: 'Subscribe'}).count(), 0);
  // The server refuses what the page does not offer, even with a valid CSRF token.
  const refused = await page.evaluate(async () => {
    const me = await (await fetch('/api/v1/me')).json();
    const headers = {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token};
    const threshold = await fetch('/api/v1/thresholds', {method: 'PUT', headers,
        body: JSON.stringify({store: 'Berlin', item: 'Echo Dot', value: 3})});
    const users = await fetch('/api/v1/users');
    return [threshold.status, users.status];
  });
  assert.deepEqual(refused, [403, 403]);

  step('a viewer makes a personal API token, reads with it, and revokes it');
  await page.goto(`${url}/#/account`);
  await page.getByRole('heading', {name: 'API tokens', exact: true}).waitFor();
  await page.getByLabel('Token name').fill('nightly report');
  await page.getByRole('button', {name: 'Create token'}).click();
  const token = (await page.getByTestId('new-token').textContent()).trim();
  assert.ok(token.length >= 32, `token ${token}`);
  await page.locator('tr[data-token="nightly report"]').waitFor();
  await snapshot(page, 'account');
  // Without the cookie (a script): the token reads as the viewer, and may not write.
  const asScript = async (method, path, body) => (await fetch(`${url}${path}`, {method,
      headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: body && JSON.stringify(body)})).status;
  assert.equal(await asScript('GET', '/api/v1/stores'), 200);
  assert.equal(await asScript('PUT', '/api/v1/thresholds', {store: 'Berlin', item: 'Echo Dot', value: 3}), 403);
  await page.getByRole('button', {name: 'Revoke nightly report'}).click();
  await page.locator('tr[data-token="nightly report"]').waitFor({state: 'detached'});
  assert.equal(await asScript('GET', '/api/v1/stores'), 401);
  await logout(page);

  step('logged out: the API answers 401 again');
  assert.equal(await page.evaluate(async () => (await fetch('/api/v1/me')).status), 401);
  assert.deepEqual(problems, [], 'console errors');
  console.log('browser: 1 passed, 0 failed');
} finally {
  await browser.close();
}
