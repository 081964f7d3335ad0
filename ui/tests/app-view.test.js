import { test } from 'node:test';
import assert from 'node:assert/strict';

import { api } from '../ipc.js';
import {
  PAT_PAGE,
  pageText,
  checklist,
  createForm,
  patProblem,
  errorTarget,
  patFieldHint,
  offersAppCheck,
  hasAppCard,
  needsAppId,
  compareRows,
  codeParts,
  differenceLines,
  checkSummary,
  canRepair,
  repairLines,
  clearsToken,
  NEW_SECRET_WARNING,
} from '../lib/app-view.js';

const help = {
  page: 'https://account.smartthings.com/tokens',
  boxes: [
    { scope: 'r:apps:*', label: 'Applications: See all apps', why: 'read the app' },
    { scope: 'w:apps:*', label: 'Applications: Manage all apps', why: 'create the app' },
    { scope: 'r:installedapps:*', label: 'Installed Applications: See all installed apps', why: 'find the app' },
  ],
  display_name: 'ThingsTray (laptop)',
};

const REDIRECT = 'https://thingstray.invalid/callback';
const SCOPES = ['r:devices:*', 'x:devices:*', 'r:locations:*'];

function check(over = {}) {
  return {
    connection: 'home',
    app_id: 'a-1',
    app_name: 'thingstraylaptop-u',
    display_name: 'ThingsTray (laptop)',
    redirect_uri: REDIRECT,
    scopes: SCOPES,
    registered_redirect_uris: ['https://example.com/other'],
    registered_scopes: ['r:devices:*', 'r:locations:*', 'w:rules:*'],
    differences: [
      { code: 'redirect_uri_not_registered', message: `ThingsTray signs in with the redirect URI \`${REDIRECT}\`, which the app does not have; the app has \`https://example.com/other\`.` },
      { code: 'scope_not_allowed', message: 'ThingsTray asks for the scope `x:devices:*`, which the app does not allow; the sign-in page would answer invalid_scope.' },
    ],
    matches: false,
    ...over,
  };
}

test('the token page and its boxes come from pat_help, in its order', () => {
  assert.equal(pageText(help), 'account.smartthings.com/tokens');
  assert.equal(pageText(null), 'account.smartthings.com/tokens');
  assert.equal(PAT_PAGE, help.page);
  const boxes = checklist(help);
  assert.deepEqual(boxes.map((b) => b.scope), ['r:apps:*', 'w:apps:*', 'r:installedapps:*']);
  assert.equal(boxes[1].label, 'Applications: Manage all apps');
  assert.deepEqual(checklist(null), []);
});

test('the create form is what the core takes; empty means the default', () => {
  assert.deepEqual(createForm({ pat: ' tok ', name: '  ', apiUrl: ' http://127.0.0.1:9/v1 ', authUrl: '' }), {
    pat: ' tok ',
    display_name: '',
    api_url: 'http://127.0.0.1:9/v1',
    auth_url: '',
  });
  assert.equal(createForm({}).pat, '', 'nothing undefined reaches the core');
  assert.match(patProblem('   '), /Paste the personal access token/);
  assert.equal(patProblem('5f3c8e1a-9b2d-4c7e-8a6f-0d1e2f3a4b5c'), '', 'the rest is the core\'s to judge');
});

test('each error points at its field; the token errors at the token field', () => {
  for (const code of ['pat_malformed', 'pat_rejected', 'pat_missing_scope']) {
    assert.equal(errorTarget({ code, message: 'm' }), 'pat', code);
    assert.ok(patFieldHint({ code }).endsWith('paste it here.'), code);
  }
  assert.match(patFieldHint({ code: 'pat_rejected' }), /24 hours/);
  assert.match(patFieldHint({ code: 'pat_missing_scope' }), /every box/);
  assert.equal(errorTarget({ code: 'app_display_name_rejected', message: 'm' }), 'name');
  assert.equal(errorTarget({ code: 'invalid_setting', message: 'The setting `api_url` is not valid: it must be an https URL' }), 'addresses');
  assert.equal(errorTarget({ code: 'invalid_setting', message: 'The setting `connection` is not valid' }), null);
  for (const code of ['app_limit_reached', 'app_name_taken', 'app_settings_rejected', 'unreachable', 'app_not_saved']) {
    assert.equal(errorTarget({ code, message: 'm' }), null, code);
    assert.equal(patFieldHint({ code }), '');
  }
  assert.equal(errorTarget(null), null);
});

test('a refused sign-in offers the app check when the app is at fault', () => {
  assert.equal(offersAppCheck({ code: 'redirect_uri_mismatch', message: 'm' }), true);
  assert.equal(offersAppCheck({ code: 'sign_in_failed', message: 'SmartThings refused the sign-in: invalid_scope (sse)' }), true);
  assert.equal(offersAppCheck({ code: 'sign_in_failed', message: 'SmartThings refused the sign-in: server_error' }), false);
  assert.equal(offersAppCheck({ code: 'state_mismatch', message: 'invalid_scope' }), false);
  assert.equal(offersAppCheck(null), false);
});

test('an app ThingsTray cannot find by itself is asked for by its id', () => {
  assert.equal(needsAppId({ code: 'app_unknown', message: 'm' }), true);
  assert.equal(needsAppId({ code: 'app_not_found', message: 'm' }), false);
  assert.equal(needsAppId(null), false);
});

test('Settings shows an App card only for a connection with an OAuth-In app of its own', () => {
  assert.equal(hasAppCard({ name: 'home', owner: null }), true);
  assert.equal(hasAppCard({ name: 'laptop', owner: 'server' }), false, 'paired');
  assert.equal(hasAppCard({ name: 'connector', owner: null, schema: true }), false, 'ST Schema');
  assert.equal(hasAppCard({ name: 'connector', owner: null, kind: 'schema' }), false, 'ST Schema');
  assert.equal(hasAppCard(null), false);
});

test('the table puts each side beside the other and marks what is missing', () => {
  const [uri, scopes] = compareRows(check());
  assert.equal(uri.label, 'Redirect URI');
  assert.deepEqual(uri.ours, [{ text: REDIRECT, ok: false }]);
  assert.deepEqual(uri.theirs, [{ text: 'https://example.com/other', used: false }]);
  assert.deepEqual(scopes.ours.filter((s) => !s.ok).map((s) => s.text), ['x:devices:*']);
  assert.deepEqual(scopes.theirs.map((s) => s.used), [true, true, false], 'an extra scope is fine, just unused');
  const fixed = compareRows(check({ registered_redirect_uris: ['https://example.com/other', REDIRECT], registered_scopes: SCOPES, differences: [], matches: true }));
  assert.ok(fixed.every((r) => r.ours.every((o) => o.ok)));
  assert.deepEqual(fixed[0].theirs.map((t) => t.used), [false, true]);
  assert.deepEqual(compareRows(null), []);
});

test('each difference is its own line, its addresses as code', () => {
  const lines = differenceLines(check());
  assert.equal(lines.length, 2);
  assert.equal(lines[0].code, 'redirect_uri_not_registered');
  assert.deepEqual(lines[0].parts.filter((p) => p.code).map((p) => p.text), [REDIRECT, 'https://example.com/other']);
  assert.deepEqual(codeParts('a `b` c'), [{ text: 'a ', code: false }, { text: 'b', code: true }, { text: ' c', code: false }]);
  assert.deepEqual(codeParts('`x`'), [{ text: 'x', code: true }]);
});

test('the summary says whether SmartThings will take the sign-in, and Repair only when needed', () => {
  assert.match(checkSummary(check()), /^The app “ThingsTray \(laptop\)” differs .* \(2 differences\): SmartThings refuses the sign-in/);
  assert.match(checkSummary(check({ differences: [{ code: 'x', message: 'y' }] })), /\(1 difference\):/);
  const ok = check({ differences: [], matches: true });
  assert.match(checkSummary(ok), /has what ThingsTray sends: SmartThings accepts/);
  assert.equal(canRepair(check()), true);
  assert.equal(canRepair(ok), false);
  assert.equal(checkSummary(null), '');
});

test('after a repair: what changed, then sign in again', () => {
  const fixed = repairLines({ changed: ['fixed: ThingsTray signs in with the redirect URI `u`, which the app does not have'], new_secret: false, check: check() });
  assert.equal(fixed[0], 'Fixed: ThingsTray signs in with the redirect URI `u`, which the app does not have');
  assert.match(fixed.at(-1), /Sign in again/);
  const secret = repairLines({ changed: ['issued a new client id (c-2) and secret, saved; sign in again'], new_secret: true, check: check() });
  assert.match(secret[0], /^Issued a new client id/);
  assert.match(secret.at(-1), /sign-in has ended/);
  assert.deepEqual(repairLines({ changed: [], new_secret: false, check: check() }), ['Nothing needed repairing.']);
  assert.match(NEW_SECRET_WARNING, /ends every sign-in/);
});

test('the token is dropped after a change or a refused token, kept between Check and Repair', () => {
  assert.equal(clearsToken({ kind: 'check' }), false);
  assert.equal(clearsToken({ kind: 'repair' }), true);
  assert.equal(clearsToken({ kind: 'new-secret' }), true);
  assert.equal(clearsToken({ kind: 'check', error: { code: 'pat_rejected', message: 'm' } }), true);
  assert.equal(clearsToken({ kind: 'check', error: { code: 'unreachable', message: 'm' } }), false);
});

test('the app calls reach the Rust commands with their argument names', async () => {
  const calls = [];
  globalThis.window = { __TAURI_INTERNALS__: { invoke: async (cmd, args) => (calls.push([cmd, args]), null) } };
  try {
    await api.patHelp();
    await api.openPatPage();
    await api.createApp(createForm({ pat: 't', name: 'n', apiUrl: '', authUrl: '' }));
    await api.checkApp('home', 't');
    await api.repairApp('home', 't');
    await api.repairApp('home', 't', true);
    await api.checkApp('home', 't', 'app-1');
    assert.deepEqual(calls, [
      ['pat_help', {}],
      ['open_pat_page', {}],
      ['create_app', { form: { pat: 't', display_name: 'n', api_url: '', auth_url: '' } }],
      ['check_app', { connection: 'home', pat: 't', appId: null }],
      ['repair_app', { connection: 'home', pat: 't', newSecret: false, appId: null }],
      ['repair_app', { connection: 'home', pat: 't', newSecret: true, appId: null }],
      ['check_app', { connection: 'home', pat: 't', appId: 'app-1' }],
    ]);
  } finally {
    delete globalThis.window;
  }
});
