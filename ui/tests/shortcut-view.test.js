import { test } from 'node:test';
import assert from 'node:assert/strict';

import { recordKey, keyName, standsAlone, shortcutText } from '../lib/shortcut-view.js';

/** A keydown as the browser reports it: `code` is the key's place, `key` what it types. */
const press = (code, mods = {}, key = code) => ({ code, key, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...mods });
const ctrl = { ctrlKey: true };

test('Ctrl+Shift+T becomes the portable accelerator; letters are upper-cased', () => {
  assert.deepEqual(recordKey(press('KeyT', { ctrlKey: true, shiftKey: true }, 'T')), { do: 'set', accelerator: 'CommandOrControl+Shift+T' });
  assert.deepEqual(recordKey(press('KeyA', ctrl, 'a')), { do: 'set', accelerator: 'CommandOrControl+A' });
  // The key's place counts, not what the layout types there (AZERTY's A is KeyQ).
  assert.deepEqual(recordKey(press('KeyQ', { altKey: true, ctrlKey: true }, 'a')), { do: 'set', accelerator: 'CommandOrControl+Alt+Q' });
  assert.deepEqual(recordKey(press('KeyD', { metaKey: true, altKey: true }, 'd')), { do: 'set', accelerator: 'Super+Alt+D' });
});

test('on macOS ⌘ is CommandOrControl and Ctrl is Control', () => {
  const mac = { mac: true };
  assert.deepEqual(recordKey(press('KeyT', { metaKey: true, shiftKey: true }, 't'), mac), { do: 'set', accelerator: 'CommandOrControl+Shift+T' });
  assert.deepEqual(recordKey(press('KeyT', { ctrlKey: true, metaKey: true }, 't'), mac), { do: 'set', accelerator: 'CommandOrControl+Control+T' });
  assert.deepEqual(recordKey(press('KeyT', { ctrlKey: true }, 't'), mac), { do: 'set', accelerator: 'Control+T' });
});

test('digits, F-keys, arrows and named keys', () => {
  assert.deepEqual(recordKey(press('Digit1', ctrl, '1')), { do: 'set', accelerator: 'CommandOrControl+1' });
  assert.deepEqual(recordKey(press('Digit0', { ctrlKey: true, shiftKey: true }, ')')), { do: 'set', accelerator: 'CommandOrControl+Shift+0' });
  assert.deepEqual(recordKey(press('F5', ctrl)), { do: 'set', accelerator: 'CommandOrControl+F5' });
  assert.deepEqual(recordKey(press('ArrowUp', { altKey: true })), { do: 'set', accelerator: 'Alt+ArrowUp' });
  assert.deepEqual(recordKey(press('Space', ctrl, ' ')), { do: 'set', accelerator: 'CommandOrControl+Space' });
  assert.deepEqual(recordKey(press('Numpad7', ctrl, '7')), { do: 'set', accelerator: 'CommandOrControl+Numpad7' });
  for (const [code, name] of [['KeyZ', 'Z'], ['Digit9', '9'], ['F24', 'F24'], ['ArrowLeft', 'ArrowLeft'], ['Slash', 'Slash']]) {
    assert.equal(keyName(code), name, code);
  }
  for (const code of ['F25', 'F0', 'IntlBackslash', 'ContextMenu', '', undefined, 'Keya']) assert.equal(keyName(code), null, String(code));
});

test('F-keys and media keys may stand alone; typing keys need Ctrl, Alt or ⌘', () => {
  assert.deepEqual(recordKey(press('F9')), { do: 'set', accelerator: 'F9' });
  assert.deepEqual(recordKey(press('F12', { shiftKey: true })), { do: 'set', accelerator: 'Shift+F12' });
  assert.deepEqual(recordKey(press('MediaPlayPause')), { do: 'set', accelerator: 'MediaPlayPause' });
  for (const ev of [press('KeyT', {}, 't'), press('KeyT', { shiftKey: true }, 'T'), press('Digit1', {}, '1'), press('ArrowUp')]) {
    const r = recordKey(ev);
    assert.equal(r.do, 'problem', ev.code);
    assert.match(r.message, /every other app: hold Ctrl or Alt/);
  }
  assert.match(recordKey(press('KeyT', {}, 't'), { mac: true }).message, /hold ⌘ or ⌥/);
  assert.ok(standsAlone('F1') && standsAlone('AudioVolumeMute') && !standsAlone('T') && !standsAlone('F25'));
});

test('a modifier alone keeps listening; Escape cancels; an unknown key says so', () => {
  for (const [code, key] of [['ShiftLeft', 'Shift'], ['ControlRight', 'Control'], ['AltLeft', 'Alt'], ['MetaLeft', 'Meta'], ['AltRight', 'AltGraph'], ['CapsLock', 'CapsLock']]) {
    assert.deepEqual(recordKey(press(code, { ctrlKey: key === 'Control', shiftKey: key === 'Shift' }, key)), { do: 'wait' }, code);
  }
  assert.deepEqual(recordKey(press('Escape', {}, 'Escape')), { do: 'cancel' });
  assert.deepEqual(recordKey(press('Escape', ctrl, 'Escape')), { do: 'cancel' }, 'with modifiers too');
  const r = recordKey(press('ContextMenu', ctrl, 'ContextMenu'));
  assert.equal(r.do, 'problem');
  assert.match(r.message, /ContextMenu can't be part of a shortcut/);
});

test('the shortcut is shown in the platform words, or Off', () => {
  assert.equal(shortcutText(null), 'Off');
  assert.equal(shortcutText(''), 'Off');
  assert.equal(shortcutText('CommandOrControl+Shift+T'), 'Ctrl+Shift+T');
  assert.equal(shortcutText('CommandOrControl+Control+T'), 'Ctrl+T');
  assert.equal(shortcutText('Super+Alt+ArrowUp'), 'Super+Alt+ArrowUp');
  assert.equal(shortcutText('CommandOrControl+Shift+T', { mac: true }), '⌘⇧T');
  assert.equal(shortcutText('Control+Alt+F5', { mac: true }), '⌃⌥F5');
  assert.equal(shortcutText('F9'), 'F9');
});
