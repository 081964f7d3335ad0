import { test } from 'node:test';
import assert from 'node:assert/strict';

import { initial, reduce, visibleProblems, canContinue, doneText, cleanPaste } from '../lib/wizard-view.js';

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
