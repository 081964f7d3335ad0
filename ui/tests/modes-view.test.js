import { test } from 'node:test';
import assert from 'node:assert/strict';

import { modeButtons, shouldSet, withModes, afterChangeText } from '../lib/modes-view.js';

const mode = (id, label) => ({ id, name: label, label });
const modes = (current = 0, extra = {}) => {
  const all = [mode('m-home', 'Home'), mode('m-away', 'Away'), mode('m-night', 'Night')];
  return { current: current === null ? null : all[current], modes: all, setting: false, ...extra };
};

test('no modes known: the group is hidden', () => {
  assert.equal(modeButtons(null).hidden, true);
  assert.equal(modeButtons(undefined).hidden, true);
  assert.equal(modeButtons({ current: null, modes: [], setting: false }).hidden, true);
  assert.deepEqual(modeButtons(null).buttons, []);
});

test('one button per mode, the current one pressed and named in the label', () => {
  const v = modeButtons(modes(1));
  assert.equal(v.hidden, false);
  assert.equal(v.label, 'Location mode: Away');
  assert.deepEqual(
    v.buttons.map((b) => [b.label, b.current, b.disabled, b.testid]),
    [
      ['Home', false, false, 'mode-m-home'],
      ['Away', true, false, 'mode-m-away'],
      ['Night', false, false, 'mode-m-night'],
    ],
  );
  assert.match(v.buttons[2].title, /Change the location's mode to Night/);
});

test('disabled while this window or the tray changes it, and without a token', () => {
  assert.ok(modeButtons(modes(0), { busy: true }).buttons.every((b) => b.disabled));
  assert.equal(modeButtons(modes(0), { busy: true }).busy, true);
  assert.ok(modeButtons(modes(0, { setting: true })).buttons.every((b) => b.disabled));
  assert.ok(modeButtons(modes(0), { hasToken: false }).buttons.every((b) => b.disabled));
  const unknown = modeButtons(modes(null));
  assert.equal(unknown.label, 'Location mode (current one unknown)');
  assert.ok(unknown.buttons.every((b) => !b.current && !b.disabled));
});

test('only another known mode is sent, and never while a change is on its way', () => {
  assert.equal(shouldSet(modes(0), 'm-away'), true);
  assert.equal(shouldSet(modes(0), 'm-home'), false, 'already the mode');
  assert.equal(shouldSet(modes(0), 'm-other'), false, 'not a mode of this location');
  assert.equal(shouldSet(modes(0), 'm-away', { busy: true }), false);
  assert.equal(shouldSet(modes(0, { setting: true }), 'm-away'), false);
  assert.equal(shouldSet(null, 'm-away'), false);
  assert.equal(shouldSet(modes(null), 'm-home'), true);
});

test('the answer replaces the list’s modes and says what SmartThings reports', () => {
  const list = { connection: 'home', modes: modes(0), rooms: [] };
  const after = withModes(list, modes(1));
  assert.equal(after.modes.current.label, 'Away');
  assert.equal(list.modes.current.label, 'Home', 'the old list is not changed');
  assert.equal(withModes(null, modes(1)), null);
  assert.deepEqual(afterChangeText('m-away', modes(1)), { text: 'Mode: Away.', kind: 'info' });
  assert.deepEqual(afterChangeText('m-away', modes(0)), {
    text: 'SmartThings still reports Home, not Away; check again shortly.',
    kind: 'error',
  });
});
