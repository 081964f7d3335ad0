import { test } from 'node:test';
import assert from 'node:assert/strict';

import { controlView, controlViews, valueText, clamp, request, confirmQuestion, ask, answer, changedText, RECENT_S } from '../lib/controls-view.js';

// Controls as the core serialises them (DeviceRow.controls).
const base = { value: null, unit: null, min: null, max: null, step: null, choices: [] };
const lock = {
  ...base,
  kind: 'buttons',
  key: 'lock',
  capability: 'lock',
  label: 'Lock',
  value: 'locked',
  commands: [
    { command: 'lock', label: 'Lock', confirm: false },
    { command: 'unlock', label: 'Unlock', confirm: true },
  ],
};
const heat = {
  ...base,
  kind: 'slider',
  key: 'heat',
  capability: 'thermostatHeatingSetpoint',
  label: 'Heat to',
  value: 20.5,
  unit: 'C',
  min: 5,
  max: 35,
  step: 0.5,
  commands: [{ command: 'setHeatingSetpoint', label: 'Set', confirm: false }],
};
const mode = {
  ...base,
  kind: 'select',
  key: 'mode',
  capability: 'thermostatMode',
  label: 'Mode',
  value: 'heat',
  choices: ['off', 'heat', 'auto'],
  commands: [{ command: 'setThermostatMode', label: 'Set', confirm: false }],
};
const colour = {
  ...base,
  kind: 'colour',
  key: 'colour',
  capability: 'colorControl',
  label: 'Colour',
  value: { hue: 60.8, saturation: 60 },
  min: 0,
  max: 100,
  step: 1,
  commands: [{ command: 'setColor', label: 'Set', confirm: false }],
};
const level = { ...base, kind: 'slider', key: 'level', capability: 'switchLevel', label: 'Level', value: 40, min: 0, max: 100, step: 1, commands: [{ command: 'setLevel', label: 'Set', confirm: false }] };
const row = { id: 'd1', label: 'Front Door', online: true, controls: [{ ...base, kind: 'toggle', key: 'switch', capability: 'switch', label: 'Power', commands: [] }, lock, heat] };

test('buttons: one per command, the current state marked, test ids per command', () => {
  const v = controlView(row, lock, true);
  assert.equal(v.testid, 'lock-d1');
  assert.deepEqual(
    v.buttons.map((b) => [b.testid, b.label, b.current, b.confirm]),
    [
      ['lock-d1-lock', 'Lock', true, false],
      ['lock-d1-unlock', 'Unlock', false, true],
    ],
  );
  assert.equal(v.valueText, 'Locked');
  assert.equal(controlView(row, lock, false).disabled, true, 'offline or signed out: greyed');
});

test('a lock of unknown state says Unknown and marks no button as current', () => {
  const v = controlView(row, { ...lock, value: null }, true);
  assert.equal(v.valueText, 'Unknown');
  assert.equal(v.unknown, true);
  assert.ok(v.buttons.every((b) => !b.current));
});

test('sliders show their value in the payload unit, with SmartThings defaults when it gives none', () => {
  assert.equal(valueText(heat), '20.5 °C');
  assert.equal(valueText({ ...heat, value: 71, unit: 'F' }), '71 °F');
  assert.equal(valueText(level), '40%');
  assert.equal(valueText({ ...level, key: 'ct', value: 2700 }), '2700 K');
  const v = controlView(row, heat, true);
  assert.deepEqual([v.min, v.max, v.step, v.value, v.unit], [5, 35, 0.5, 20.5, ' °C']);
});

test('clamping keeps a value within the range and on the step', () => {
  assert.equal(clamp(heat, 40), 35);
  assert.equal(clamp(heat, -3), 5);
  assert.equal(clamp(heat, 21.3), 21.5);
  assert.equal(clamp(heat, 'x'), 5);
  assert.equal(clamp(level, 37), 37);
  assert.deepEqual(request(heat, 'setHeatingSetpoint', 99), { capability: 'thermostatHeatingSetpoint', command: 'setHeatingSetpoint', args: [35], confirmed: false });
});

test('selects list the choices the device reported, the current one selected', () => {
  const v = controlView(row, mode, true);
  assert.deepEqual(v.choices.map((c) => [c.value, c.label, c.selected]), [['off', 'Off', false], ['heat', 'Heat', true], ['auto', 'Auto', false]]);
  assert.deepEqual(request(mode, 'setThermostatMode', 'auto').args, ['auto']);
  const unlisted = controlView(row, { ...mode, value: 'emergency heat' }, true).choices;
  assert.deepEqual(unlisted[0], { value: 'emergency heat', label: 'Emergency heat', selected: true, disabled: true }, 'the mode it is in, even unlisted');
  assert.ok(unlisted.slice(1).every((c) => !c.selected && !c.disabled));
});

test('colour: hue and saturation 0-100, sent together', () => {
  const v = controlView(row, colour, true);
  assert.deepEqual([v.hue, v.saturation], [61, 60]);
  assert.deepEqual(request(colour, 'setColor', { hue: 120, saturation: 50 }).args, [{ hue: 100, saturation: 50 }]);
  assert.equal(valueText(colour), 'Hue 61 · Saturation 60');
});

test('unlock asks "Unlock Front Door?" first; locking is sent at once', () => {
  assert.equal(confirmQuestion(row, lock, 'unlock'), 'Unlock Front Door?');
  assert.equal(confirmQuestion(row, lock, 'lock'), null);
  const now = ask(row, lock, 'lock');
  assert.equal(now.pending, null);
  assert.deepEqual(now.send, { capability: 'lock', command: 'lock', args: [], confirmed: false });

  const asked = ask(row, lock, 'unlock');
  assert.equal(asked.send, null, 'nothing sent before the answer');
  assert.equal(asked.pending.question, 'Unlock Front Door?');
  assert.equal(asked.pending.action, 'Unlock', 'the answer button says what it does');
  assert.deepEqual(answer(asked.pending, false), { pending: null, send: null }, 'cancel sends nothing');
  assert.deepEqual(answer(asked.pending, true).send, { capability: 'lock', command: 'unlock', args: [], confirmed: true });
});

test('toggles sit apart from the other controls, which keep the core order', () => {
  const { toggles, rest } = controlViews(row, true);
  assert.deepEqual(toggles.map((v) => v.key), ['switch']);
  assert.deepEqual(rest.map((v) => v.key), ['lock', 'heat']);
  assert.deepEqual(controlViews({ id: 'x', label: 'x' }, true), { toggles: [], rest: [] }, 'a row without controls');
});

test('a reading reported recently is pointed out, an old one is not', () => {
  const now = 1_000_000;
  assert.equal(changedText({ changed_at: now - 20 }, now), 'changed just now');
  assert.equal(changedText({ changed_at: now - 125 }, now), 'changed 2 min ago');
  assert.equal(changedText({ changed_at: now - RECENT_S - 1 }, now), null);
  assert.equal(changedText({ changed_at: null }, now), null);
});
