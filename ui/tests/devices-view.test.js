import { test } from 'node:test';
import assert from 'node:assert/strict';

import { sections, countShown, controls, listKey, withRow, withFlag, poller, nextIndex, subtitle, FAVORITES, MIN_POLL_MS } from '../lib/devices-view.js';

const row = (id, label, extra = {}) => ({
  id,
  label,
  online: true,
  switch: false,
  level: null,
  color_temperature: null,
  can_switch: true,
  can_dim: false,
  can_color_temperature: false,
  favorite: false,
  hidden: false,
  ...extra,
});

const list = {
  connection: 'home',
  rooms: [
    { name: 'Bedroom', devices: [row('1', 'Bed lamp', { favorite: true }), row('2', 'Curtain', { can_switch: false })] },
    { name: 'Kitchen', devices: [row('3', 'Kitchen lights'), row('4', 'Fridge', { hidden: true })] },
    { name: 'No room', devices: [row('5', 'Attic fan', { favorite: true })] },
  ],
};

test('favorites come first and are not repeated in their rooms', () => {
  const s = sections(list);
  assert.deepEqual(
    s.map((x) => [x.title, x.rows.map((r) => r.id)]),
    [
      [FAVORITES, ['5', '1']],
      ['Bedroom', ['2']],
      ['Kitchen', ['3']],
    ],
  );
  assert.equal(countShown(s), 4);
});

test('hidden devices only on request', () => {
  const s = sections(list, { showHidden: true });
  assert.deepEqual(s.find((x) => x.title === 'Kitchen').rows.map((r) => r.id), ['3', '4']);
});

test('the filter matches device and room names, word by word', () => {
  assert.deepEqual(sections(list, { filter: 'kitchen' }).map((x) => x.title), ['Kitchen']);
  assert.deepEqual(sections(list, { filter: 'bed LAMP' }).flatMap((x) => x.rows.map((r) => r.id)), ['1']);
  assert.deepEqual(sections(list, { filter: 'nothing like it' }), []);
});

test('controls follow capabilities, health and the token', () => {
  assert.deepEqual(controls(row('1', 'x', { can_dim: true, switch: true }), true), {
    usable: true,
    toggle: true,
    level: true,
    colorTemperature: false,
    state: 'on',
  });
  assert.equal(controls(row('1', 'x', { online: false }), true).usable, false);
  assert.equal(controls(row('1', 'x', { online: false }), true).state, 'offline');
  assert.equal(controls(row('1', 'x', { online: null, switch: null }), true).state, 'unknown');
  assert.equal(controls(row('1', 'x'), false).usable, false);
});

test('a read-back row replaces the old one without touching the rest', () => {
  const next = withRow(list, row('3', 'Kitchen lights', { switch: true }));
  assert.equal(next.rooms[1].devices[0].switch, true);
  assert.equal(list.rooms[1].devices[0].switch, false);
  const fav = withFlag(list, '3', 'favorite', true);
  assert.equal(sections(fav)[0].rows.some((r) => r.id === '3'), true);
});

test('the list key changes with what is shown, and only then', () => {
  const key = (l, extra = {}) => listKey({ connection: 'home', hasToken: true, secs: sections(l), scenes: [], ...extra });
  // A poll that reads the same devices (a new read_at, a new object) keeps the rows.
  assert.equal(key({ ...list, read_at: 2 }), key({ ...list, read_at: 1 }));
  assert.notEqual(key(withRow(list, row('3', 'Kitchen lights', { switch: true }))), key(list));
  assert.notEqual(key(withFlag(list, '2', 'favorite', true)), key(list));
  assert.notEqual(key(list, { hasToken: false }), key(list));
  assert.notEqual(key(list, { connection: 'cabin' }), key(list));
  assert.notEqual(key(list, { scenes: [{ id: 's', name: 'Night' }] }), key(list));
});

function fakeTimers() {
  const timers = new Map();
  let id = 0;
  return {
    setTimer: (fn, ms) => {
      timers.set(++id, { fn, ms });
      return id;
    },
    clearTimer: (i) => timers.delete(i),
    pending: () => [...timers.values()],
    async fire() {
      const [[i, t]] = timers;
      timers.delete(i);
      await t.fn();
    },
  };
}

test('polls while shown, never while hidden, and resumes at once', async () => {
  let shown = true;
  let runs = 0;
  const t = fakeTimers();
  const p = poller(async () => runs++, 30000, { visible: () => shown, ...t });
  p.kick();
  assert.equal(t.pending()[0].ms, 0);
  await t.fire();
  assert.equal(runs, 1);
  assert.equal(t.pending()[0].ms, 30000);
  shown = false;
  p.visibilityChanged();
  assert.equal(t.pending().length, 0, 'nothing scheduled while hidden');
  shown = true;
  p.visibilityChanged();
  assert.equal(t.pending()[0].ms, 0);
  await t.fire();
  assert.equal(runs, 2);
  p.stop();
  assert.equal(t.pending().length, 0);
  p.kick();
  assert.equal(t.pending().length, 0, 'a stopped poller stays stopped');
});

test('a failing read keeps the poller going', async () => {
  const t = fakeTimers();
  const p = poller(async () => {
    throw { code: 'unreachable', message: 'x' };
  }, 1000, t);
  p.kick();
  await t.fire();
  assert.equal(t.pending()[0].ms, 1000);
  p.stop();
});

test('the core decides when to read next; the interval is only the fallback', async () => {
  const t = fakeTimers();
  let answer = { next_read_ms: 600000 };
  const p = poller(async () => {}, 30000, { nextMs: () => answer && answer.next_read_ms, ...t });
  p.kick();
  await t.fire();
  assert.equal(t.pending()[0].ms, 600000, 'a rate limit stretches the wait to its reset');
  answer = { next_read_ms: 0 };
  await t.fire();
  assert.equal(t.pending()[0].ms, MIN_POLL_MS, 'never a tight loop');
  answer = { next_read_ms: null };
  await t.fire();
  assert.equal(t.pending()[0].ms, 30000, 'no answer: the configured interval');
  answer = null;
  await t.fire();
  assert.equal(t.pending()[0].ms, 30000);
  p.stop();
});

test('arrow keys move between rows', () => {
  assert.equal(nextIndex('ArrowDown', 0, 3), 1);
  assert.equal(nextIndex('ArrowDown', 2, 3), 2);
  assert.equal(nextIndex('ArrowUp', 0, 3), 0);
  assert.equal(nextIndex('End', 0, 3), 2);
  assert.equal(nextIndex('Home', 2, 3), 0);
  assert.equal(nextIndex('x', 0, 3), null);
  assert.equal(nextIndex('ArrowDown', 0, 0), null);
});

test('the line under a name: offline, the switch and level, else what the device is doing', () => {
  const base = { online: true, can_switch: false, can_dim: false, can_color_temperature: false, switch: null, level: null, state: null };
  assert.equal(subtitle({ ...base, state: 'Open · 21 °C' }), 'Open · 21 °C', 'a sensor says what it reads');
  assert.equal(subtitle({ ...base }), '', 'nothing known, nothing said');
  assert.equal(subtitle({ ...base, can_dim: true, level: 100, switch: null, state: 'Open · 100 %' }), 'Open · 100 %', 'a curtain is not Off');
  assert.equal(subtitle({ ...base, online: false, state: 'Open' }), 'Offline');
  assert.equal(subtitle({ ...base, can_switch: true, switch: true, state: 'On · 12 W' }), 'On');
  assert.equal(subtitle({ ...base, can_switch: true, can_dim: true, switch: false, level: 40 }), 'Off · 40%');
});
