import { test } from 'node:test';
import assert from 'node:assert/strict';

import { initial, reduce, visibleProblems, visibleWarnings, blocking, canContinue, doneText, cleanPaste, browserHint } from '../lib/wizard-view.js';

const problems = [
  { field: 'client_id', message: 'looks like a UUID' },
  { field: 'client_secret', message: 'it is empty' },
];

test('problems show only for touched fields, all on submit', () => {
  let s = reduce(initial(), { type: 'problems', problems });
  assert.deepEqual(visibleProblems(s), {});
  s = reduce(s, { type: 'edit', field: 'client_id', value: 'abc' });
  assert.deepEqual(visibleProblems(s), { client_id: 'looks like a UUID' });
  assert.deepEqual(Object.keys(visibleProblems(s, true)), ['client_id', 'client_secret']);
});

test('continue needs every field filled and no problem left', () => {
  let s = reduce(initial(), { type: 'go', step: 'credentials' });
  assert.equal(canContinue(s), false);
  s = reduce(s, { type: 'edit', field: 'client_id', value: '8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14' });
  s = reduce(s, { type: 'edit', field: 'client_secret', value: 'secret' });
  s = reduce(s, { type: 'problems', problems: [] });
  assert.equal(canContinue(s), true);
  assert.equal(canContinue(reduce(s, { type: 'busy', busy: true })), false);
  assert.equal(canContinue(reduce(s, { type: 'problems', problems })), false);
});

test('steps move forward and errors clear on edit', () => {
  let s = reduce(initial(), { type: 'go', step: 'nowhere' });
  assert.equal(s.step, 'create');
  s = reduce(s, { type: 'error', error: { code: 'x', message: 'y' } });
  assert.equal(s.error.code, 'x');
  s = reduce(s, { type: 'edit', field: 'client_id', value: 'a' });
  assert.equal(s.error, null);
  s = reduce(s, { type: 'demo' });
  assert.equal(s.step, 'sign-in');
  assert.equal(s.demo, true);
  s = reduce(s, { type: 'signed-in', signedIn: { connection: 'demo', location_name: 'Demo Home', device_count: 34 } });
  assert.equal(s.step, 'done');
  assert.equal(doneText(s.signedIn), 'Demo Home · 34 devices');
  assert.equal(doneText({ connection: 'home', location_name: null, device_count: 1 }), 'home · 1 device');
});

test('pasted addresses are cleaned', () => {
  assert.equal(cleanPaste('  "https://thingstray.invalid/callback?code=a&state=b"\n'), 'https://thingstray.invalid/callback?code=a&state=b');
  assert.equal(cleanPaste('<abc>'), 'abc');
});

test('the advanced addresses are optional: empty ones do not block the step', () => {
  let s = reduce(initial(), { type: 'go', step: 'credentials' });
  for (const [field, value] of [['client_id', '8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14'], ['client_secret', 'x']]) {
    s = reduce(s, { type: 'edit', field, value });
  }
  assert.equal(s.form.api_url, '');
  assert.equal(canContinue(s), true);
  s = reduce(s, { type: 'edit', field: 'client_secret', value: ' ' });
  assert.equal(canContinue(s), false);
});

test('a redirect URI warning shows under its field but never blocks Save', () => {
  const warning = {
    field: 'redirect_uri',
    warning: true,
    message: '`smartthings apps:create` could not have registered `thingstray://oauth/callback`: …',
  };
  let s = reduce(initial(), { type: 'go', step: 'credentials' });
  s = reduce(s, { type: 'edit', field: 'client_id', value: '8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14' });
  s = reduce(s, { type: 'edit', field: 'client_secret', value: 'secret' });
  s = reduce(s, { type: 'edit', field: 'redirect_uri', value: 'thingstray://oauth/callback' });
  s = reduce(s, { type: 'problems', problems: [warning] });
  assert.deepEqual(visibleProblems(s), {}, 'not shown as an error');
  assert.deepEqual(visibleWarnings(s), { redirect_uri: warning.message });
  assert.deepEqual(blocking(s.problems), []);
  assert.equal(canContinue(s), true);
  // An error on another field still blocks; one on the same field replaces the warning.
  assert.equal(canContinue(reduce(s, { type: 'problems', problems: [warning, problems[0]] })), false);
  const both = reduce(s, { type: 'problems', problems: [warning, { field: 'redirect_uri', message: 'not a URL' }] });
  assert.deepEqual(visibleWarnings(both), {});
  assert.deepEqual(visibleProblems(both), { redirect_uri: 'not a URL' });
  // Untouched fields show nothing until submit.
  const fresh = reduce(initial(), { type: 'problems', problems: [warning] });
  assert.deepEqual(visibleWarnings(fresh), {});
  assert.deepEqual(visibleWarnings(fresh, true), { redirect_uri: warning.message });
});

test('the browser path is described as it really goes for each redirect URI', () => {
  const invalid = browserHint('https://thingstray.invalid/callback');
  assert.match(invalid, /ends on an error page/);
  assert.match(invalid, /“This site can’t be reached”/);
  assert.match(invalid, /thingstray\.invalid never exists/);
  assert.match(invalid, /Copy the whole address from its address bar \(https:\/\/thingstray\.invalid\/callback\?code=…&state=…\) and paste it below/);
  assert.doesNotMatch(invalid, /thingstray:\/\//);

  const link = browserHint('thingstray://oauth/callback');
  assert.match(link, /thingstray:\/\/ link/);

  const hosted = browserHint('https://me.github.io/thingstray/callback.html');
  assert.match(hosted, /docs\/callback\.html/);
  assert.match(hosted, /paste it below/);
  assert.equal(browserHint('not a url'), hosted);
});

test('the sign-in under way decides the browser hint, the form is the fallback', () => {
  let s = initial();
  assert.equal(s.redirectUri, null);
  assert.equal(s.form.redirect_uri, 'https://thingstray.invalid/callback');
  s = reduce(s, { type: 'started', redirectUri: 'thingstray://oauth/callback' });
  assert.equal(s.redirectUri, 'thingstray://oauth/callback');
});

test('three marks: the keys belong to creating the app, the app check to signing in', async () => {
  const { markState, MARKS, STEPS } = await import('../lib/wizard-view.js');
  assert.deepEqual(MARKS, ['create', 'sign-in', 'done']);
  const at = (step) => MARKS.map((m) => (markState(m, step).current ? 'now' : markState(m, step).done ? 'done' : '-'));
  assert.deepEqual(at('create'), ['now', '-', '-']);
  assert.deepEqual(at('credentials'), ['now', '-', '-']);
  assert.deepEqual(at('sign-in'), ['done', 'now', '-']);
  assert.deepEqual(at('app-settings'), ['done', 'now', '-']);
  assert.deepEqual(at('done'), ['done', 'done', 'now']);
  assert.ok(STEPS.includes('app-settings'));
});

test('a refused sign-in leads to the app check, which keeps the refusal as its reason', async () => {
  const { appCheckOffer } = await import('../lib/wizard-view.js');
  const { offersAppCheck } = await import('../lib/app-view.js');
  let s = reduce(initial(), { type: 'started', redirectUri: 'https://thingstray.invalid/callback', connection: 'home', path: 'create' });
  s = reduce(s, { type: 'go', step: 'sign-in' });
  assert.equal(s.connection, 'home');
  assert.equal(appCheckOffer(s, offersAppCheck), 'none', 'an app ThingsTray made is right');
  const refusal = { code: 'redirect_uri_mismatch', message: 'The redirect URI is not registered' };
  s = reduce(s, { type: 'error', error: refusal });
  assert.equal(appCheckOffer(s, offersAppCheck), 'after-error');
  s = reduce(s, { type: 'check-app' });
  assert.equal(s.step, 'app-settings');
  assert.deepEqual(s.reason, refusal);
  assert.equal(s.error, null);
  // The CLI way: offered quietly from the start; the demo: never.
  const cli = reduce(initial(), { type: 'started', redirectUri: 'x', connection: 'home', path: 'cli' });
  assert.equal(appCheckOffer(cli, offersAppCheck), 'quiet');
  assert.equal(reduce(cli, { type: 'started', redirectUri: 'y' }).path, 'cli', 'a later start keeps what it does not say');
  const demo = reduce(reduce(initial(), { type: 'started', redirectUri: 'x', connection: 'demo' }), { type: 'demo' });
  assert.equal(appCheckOffer(reduce(demo, { type: 'error', error: refusal }), offersAppCheck), 'none');
  assert.equal(appCheckOffer(reduce(initial(), { type: 'error', error: refusal }), offersAppCheck), 'none', 'no connection yet');
});
