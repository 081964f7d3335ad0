import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

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
    await api.setGlobalShortcut('CommandOrControl+Shift+T');
    await api.setGlobalShortcut('');
    assert.deepEqual(calls, [
      ['switch_device', { connection: 'home', device: 'lamp', on: true }],
      ['set_poll_interval', { seconds: 60 }],
      ['check_setup', { form: { client_id: 'a', client_secret: 'b', redirect_uri: 'c' } }],
      ['set_global_shortcut', { shortcut: 'CommandOrControl+Shift+T' }],
      ['set_global_shortcut', { shortcut: null }],
    ]);
  } finally {
    delete globalThis.window;
  }
});

test('every api call goes to a command in the one list (src-tauri/build.rs)', async () => {
  const build = readFileSync(new URL('../../src-tauri/build.rs', import.meta.url), 'utf8');
  const list = build.slice(build.indexOf('const COMMANDS'), build.indexOf('];'));
  const listed = new Set([...list.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]));
  assert.ok(listed.size >= 30, `read ${listed.size} commands from build.rs`);
  const called = new Set();
  globalThis.window = { __TAURI_INTERNALS__: { invoke: async (cmd) => (called.add(cmd), null) } };
  try {
    for (const fn of Object.values(api)) await fn('x', 'y', true);
  } finally {
    delete globalThis.window;
  }
  const commands = [...called].filter((c) => !c.startsWith('plugin:'));
  assert.deepEqual(commands.filter((c) => !listed.has(c)), [], 'called but not listed in build.rs');
  assert.deepEqual([...listed].filter((c) => !called.has(c)), [], 'listed in build.rs but no api function calls it');
});
