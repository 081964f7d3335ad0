import { test } from 'node:test';
import assert from 'node:assert/strict';

import { api } from '../ipc.js';
import { checkPort, checkConnectionName, serverStatusText, serverExample, secretText, rotateStep } from '../lib/settings-view.js';

test('ports from 1024 to 65535 only, whole numbers', () => {
  assert.deepEqual(checkPort('8765'), { port: 8765 });
  assert.deepEqual(checkPort(' 1024 '), { port: 1024 });
  assert.deepEqual(checkPort(65535), { port: 65535 });
  for (const bad of ['', '80', '1023', '65536', '8765.5', 'abc', '-1', '1e4', null, undefined]) {
    assert.match(checkPort(bad).problem, /1024 to 65535/, String(bad));
  }
});

test('connection names follow the core rule and must be free', () => {
  assert.equal(checkConnectionName('cabin', 'home', ['lake']), '');
  assert.equal(checkConnectionName(' Lake_House-2 ', 'home', []), '');
  assert.equal(checkConnectionName('home', 'home', ['home']), '', 'its own name is fine');
  assert.match(checkConnectionName('', 'home', []), /name/);
  assert.match(checkConnectionName('a/b', 'home', []), /letters, digits/);
  assert.match(checkConnectionName('two words', 'home', []), /letters, digits/);
  assert.match(checkConnectionName('x'.repeat(41), 'home', []), /40/);
  assert.match(checkConnectionName('token-server', 'home', []), /reserved/);
  assert.match(checkConnectionName('lake', 'home', ['lake']), /already called lake/);
});

test('the server line says where it runs, whom it serves, or why not', () => {
  const base = { enabled: true, port: 8765, running: true, url: 'http://127.0.0.1:8765', serving: 'home', error: null };
  assert.equal(serverStatusText(base), 'Running on http://127.0.0.1:8765 · hands out the token of home');
  assert.match(serverStatusText({ ...base, serving: null }), /no connection/);
  const busy = { ...base, running: false, url: null, error: { code: 'port_in_use', message: 'port 8765 is already in use' } };
  assert.equal(serverStatusText(busy), 'Not running: port 8765 is already in use');
  assert.equal(serverStatusText({ ...busy, enabled: false }), 'Off');
});

test('the secret shows only when revealed and the example never holds it', () => {
  assert.equal(secretText('abc', false), '•'.repeat(16));
  assert.equal(secretText('abc', true), 'abc');
  assert.equal(secretText('', true), '•'.repeat(16));
  assert.equal(serverExample(9000), `printf 'Authorization: Bearer %s\\n' "$THINGSTRAY_SECRET" | curl -H @- http://127.0.0.1:9000/v1/token`);
  assert.doesNotMatch(serverExample(9000), /curl[^|]*\$THINGSTRAY_SECRET/, 'the secret is not in curl\'s argv');
  assert.equal(rotateStep(false).armed, false);
  assert.match(rotateStep(true).text, /stop working/);
});

test('the settings calls reach the Rust commands with their argument names', async () => {
  const calls = [];
  globalThis.window = { __TAURI_INTERNALS__: { invoke: async (cmd, args) => (calls.push([cmd, args]), null) } };
  try {
    await api.renameConnection('home', 'cabin');
    await api.setTokenServer(true, 8765);
    await api.tokenServer();
    await api.copyServerSecret();
    await api.revealServerSecret();
    await api.rotateServerSecret();
    assert.deepEqual(calls, [
      ['rename_connection', { connection: 'home', name: 'cabin' }],
      ['set_token_server', { on: true, port: 8765 }],
      ['token_server', {}],
      ['copy_server_secret', {}],
      ['reveal_server_secret', {}],
      ['rotate_server_secret', {}],
    ]);
  } finally {
    delete globalThis.window;
  }
});
