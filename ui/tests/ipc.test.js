import { test } from 'node:test';
import assert from 'node:assert/strict';

import { api, toError } from '../ipc.js';

test('errors keep the core shape and anything else is normalised to it', () => {
  assert.deepEqual(toError({ code: 'state_mismatch', message: 'm' }), { code: 'state_mismatch', message: 'm' });
  assert.deepEqual(toError('switch_device not allowed on window "wizard"'), {
    code: 'ipc',
    message: 'switch_device not allowed on window "wizard"',
  });
  assert.deepEqual(toError(new Error('boom')), { code: 'ipc', message: 'boom' });
});

test('outside the app every call fails with {code, message}', async () => {
  await assert.rejects(api.connections(), (e) => e.code === 'no_ipc' && typeof e.message === 'string');
});

test('calls go to the Rust commands with their argument names', async () => {
  const calls = [];
  globalThis.window = { __TAURI_INTERNALS__: { invoke: async (cmd, args) => (calls.push([cmd, args]), 'ok') } };
  try {
    await api.switchDevice('home', 'lamp', true);
    await api.setPollInterval(60);
    await api.checkSetup({ client_id: 'a', client_secret: 'b', redirect_uri: 'c' });
    assert.deepEqual(calls, [
      ['switch_device', { connection: 'home', device: 'lamp', on: true }],
      ['set_poll_interval', { seconds: 60 }],
      ['check_setup', { form: { client_id: 'a', client_secret: 'b', redirect_uri: 'c' } }],
    ]);
  } finally {
    delete globalThis.window;
  }
});
