import { test } from 'node:test';
import assert from 'node:assert/strict';

import { keyAction, shortcutTargets, rowLabel, MAX_SHORTCUTS } from '../lib/keys-view.js';
import { FAVORITES } from '../lib/devices-view.js';

const at = (where, extra = {}) => ({ where, row: -1, rows: 5, pending: false, filter: '', hasSwitch: false, shortcuts: 0, modifiers: false, ...extra });

test('escape cancels a confirmation, then clears the filter, then closes', () => {
  assert.deepEqual(keyAction('Escape', at('row', { row: 2, pending: true, filter: 'lamp' })), { do: 'cancel' });
  assert.deepEqual(keyAction('Escape', at('filter', { filter: 'lamp' })), { do: 'clear-filter' });
  assert.deepEqual(keyAction('Escape', at('filter')), { do: 'close' });
  assert.deepEqual(keyAction('Escape', at('control')), { do: 'close' }, 'Escape works from anywhere');
});

test('typing in the filter stays typing; ArrowDown or Enter enters the list', () => {
  for (const k of ['a', '1', '/', ' ', 'ArrowUp', 'Home']) assert.equal(keyAction(k, at('filter')), null, k);
  assert.deepEqual(keyAction('ArrowDown', at('filter')), { do: 'focus-row', index: 0 });
  assert.deepEqual(keyAction('Enter', at('filter')), { do: 'focus-row', index: 0 });
  assert.equal(keyAction('ArrowDown', at('filter', { rows: 0 })), null, 'nothing to enter when the filter matches nothing');
});

test('arrows move between rows, and up from the first row returns to the filter', () => {
  assert.deepEqual(keyAction('ArrowDown', at('row', { row: 1 })), { do: 'focus-row', index: 2 });
  assert.deepEqual(keyAction('ArrowDown', at('row', { row: 4 })), { do: 'focus-row', index: 4 });
  assert.deepEqual(keyAction('ArrowUp', at('row', { row: 3 })), { do: 'focus-row', index: 2 });
  assert.deepEqual(keyAction('ArrowUp', at('row', { row: 0 })), { do: 'focus-filter' });
  assert.deepEqual(keyAction('End', at('row', { row: 0 })), { do: 'focus-row', index: 4 });
});

test('enter or space toggles a switch, else opens the controls', () => {
  for (const k of ['Enter', ' ']) {
    assert.deepEqual(keyAction(k, at('row', { row: 0, hasSwitch: true })), { do: 'toggle' }, k);
    assert.deepEqual(keyAction(k, at('row', { row: 0 })), { do: 'open-controls' }, k);
  }
});

test("a control inside a row keeps its own keys (a slider's arrows, a select's letters)", () => {
  for (const k of ['ArrowUp', 'ArrowDown', 'Enter', ' ', '3', '/']) assert.equal(keyAction(k, at('control', { shortcuts: 5 })), null, k);
});

test('number keys run the shortcuts there are, never with a modifier', () => {
  assert.deepEqual(keyAction('1', at('row', { row: 0, shortcuts: 2 })), { do: 'shortcut', index: 0 });
  assert.deepEqual(keyAction('2', at('other', { shortcuts: 2 })), { do: 'shortcut', index: 1 });
  assert.equal(keyAction('3', at('other', { shortcuts: 2 })), null);
  assert.equal(keyAction('0', at('other', { shortcuts: 9 })), null);
  assert.equal(keyAction('1', at('other', { shortcuts: 2, modifiers: true })), null);
  assert.deepEqual(keyAction('/', at('other')), { do: 'focus-filter' });
});

test('shortcuts are the favourites in window order, then the scenes, nine at most', () => {
  const secs = [
    { title: FAVORITES, rows: [{ id: 'a', label: 'Attic fan' }, { id: 'b', label: 'Bed lamp' }] },
    { title: 'Kitchen', rows: [{ id: 'k', label: 'Kitchen lights' }] },
  ];
  const scenes = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, name: `Scene ${i}` }));
  const t = shortcutTargets(secs, scenes);
  assert.equal(t.length, MAX_SHORTCUTS);
  assert.deepEqual(t[0], { key: '1', kind: 'device', id: 'a', label: 'Attic fan' });
  assert.deepEqual(t[2], { key: '3', kind: 'scene', id: 's0', label: 'Scene 0' });
  assert.equal(t[8].id, 's6');
  assert.ok(!t.some((x) => x.id === 'k'), 'a device that is not a favourite has no number');
  assert.deepEqual(shortcutTargets([{ title: 'Kitchen', rows: [] }]), []);
});

test('a row reads as its name and what it is doing', () => {
  assert.equal(rowLabel({ label: 'Bed lamp' }, 'On · 40%'), 'Bed lamp, On · 40%');
  assert.equal(rowLabel({ label: 'Bed lamp' }, ''), 'Bed lamp');
});
