// Unit tests of the dashboard's pure helpers (node:test). The TypeScript modules are bundled
// by esbuild in memory and imported from a data: URL, so no test framework is needed.
import {strict as assert} from 'node:assert';
import {test} from 'node:test';

import * as esbuild from 'esbuild';

async function load(entry) {
  const result = await esbuild.build({
    absWorkingDir: new URL('..', import.meta.url).pathname,
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    write: false,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: {'.css': 'empty'},
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

const csv = await load('src/csv.ts');

test('cells that a spreadsheet would run as a formula get a leading quote', () => {
  for (const [input, output] of [
    ['=SUM(A1:A2)', "'=SUM(A1:A2)"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@cmd', "'@cmd"],
    ['\tx', "'\tx"],
    ['\rx', '"\'\rx"'],
    ['=1,2', '"\'=1,2"'],
  ]) {
    assert.equal(csv.csvCell(input), output, JSON.stringify(input));
  }
});

test('ordinary cells are quoted only when RFC 4180 needs it', () => {
  assert.equal(csv.csvCell('Echo Dot'), 'Echo Dot');
  assert.equal(csv.csvCell('a,b'), '"a,b"');
  assert.equal(csv.csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csv.csvCell('two\nlines'), '"two\nlines"');
  assert.equal(csv.csvCell(' padded '), '" padded "');
  assert.equal(csv.csvCell(0), '0');
  assert.equal(csv.csvCell(null), '');
  assert.equal(csv.csvCell('a=b'), 'a=b');
});

test('toCsv writes a header and CRLF rows', () => {
  assert.equal(csv.toCsv(['store', 'count'], [['Berlin', 0], ['=x', 1]]),
               "store,count\r\nBerlin,0\r\n'=x,1\r\n");
});

test('upload errors split into line, column and reason', async () => {
  const uploads = await load('src/pages/uploads.tsx');
  assert.deepEqual(uploads.parseRowError('inventory-berlin.csv:12:20: count "1O" is not a whole number'),
                   {line: '12', column: '20', reason: 'count "1O" is not a whole number'});
  assert.deepEqual(uploads.parseRowError('a:b.csv:3:1: x: y'), {line: '3', column: '1', reason: 'x: y'});
  assert.deepEqual(uploads.parseRowError('no position'), {line: '', column: '', reason: 'no position'});
});

test('counts are out of stock at 0 and low at or below their threshold', async () => {
  const inventory = await load('src/pages/inventory.tsx');
  assert.equal(inventory.stockLevel({count: 0, threshold: null}), 'out');
  assert.equal(inventory.stockLevel({count: 0, threshold: 5}), 'out');
  assert.equal(inventory.stockLevel({count: 5, threshold: 5}), 'low');
  assert.equal(inventory.stockLevel({count: 6, threshold: 5}), 'ok');
  assert.equal(inventory.stockLevel({count: 3}), 'ok');
});

test('the out-of-stock series is read from points with a time and a number', async () => {
  const overview = await load('src/pages/overview.tsx');
  assert.deepEqual(overview.readSeries({points: [{at: '1970-01-01T00:01:00Z', out_of_stock: 2}, {at: 'bad', out_of_stock: 1}]}),
                   {times: [60], values: [2]});
  assert.deepEqual(overview.readSeries({}), {times: [], values: []});
});

test('a failed sign-in with SSO is explained on the login page', async () => {
  const route = await load('src/route.ts');
  assert.match(route.ssoErrorText('#/login?error=unauthenticated'), /^Sign-in with SSO failed: /);
  assert.match(route.ssoErrorText('#/login?error=permission_denied'), /local account/);
  assert.match(route.ssoErrorText('#/login?error=unavailable'), /could not be reached/);
  // An unknown code is named, stripped to its letters; nothing else in the URL is shown.
  assert.equal(route.ssoErrorText('#/login?error=%3Cb%3Ex_y'), 'Sign-in with SSO failed (bx_y).');
  assert.equal(route.ssoErrorText('#/login'), null);
  assert.equal(route.ssoErrorText('#/inventory'), null);
});

test('a server that lists its features hides the pages it does not serve', async () => {
  const api = await load('src/api.ts');
  // The embedded server sends no list: every page.
  api.setFeatures(undefined);
  assert.equal(api.hasFeature('uploads'), true);
  assert.equal(api.hasFeature('item'), true);
  // The api Lambda function serves the inventory only.
  api.setFeatures(['inventory']);
  assert.equal(api.hasFeature('inventory'), true);
  assert.equal(api.hasFeature('uploads'), false);
  assert.equal(api.hasFeature('events'), false);
  api.setFeatures(null);
  assert.equal(api.hasFeature('admin'), true);
});

test('a subscription\'s stores: a plain store list, all, or the policy as it is', async () => {
  const {policyLabel} = await load('src/pages/subscriptions.tsx');
  assert.equal(policyLabel({filter_policy: null}), 'all');
  assert.equal(policyLabel({filter_policy: {store: ['Berlin', 'Paris']}}), 'Berlin, Paris');
  assert.equal(policyLabel({filter_policy: {store: ['Berlin']}, filter_policy_scope: 'MessageAttributes'}), 'Berlin');
  assert.equal(policyLabel({filter_policy: {store: [{prefix: 'Ber'}]}}), 'filter: {"store":[{"prefix":"Ber"}]}');
  assert.equal(policyLabel({filter_policy: {store: ['Berlin'], item: ['Echo']}}),
               'filter: {"store":["Berlin"],"item":["Echo"]}');
  assert.equal(policyLabel({filter_policy: {store: ['Berlin']}, filter_policy_scope: 'MessageBody'}),
               'filter: {"store":["Berlin"]} on MessageBody');
});
