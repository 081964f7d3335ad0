// The device window's controls, without the DOM: what each of a row's `controls` (the
// core's controls catalogue) looks like, what a click sends, clamping, and the
// confirmation step ("Unlock Front Door?"). The DOM code has one renderer per control
// KIND (toggle, buttons, slider, select, colour) and no per-capability code: a new
// capability is taught in the core's catalogue only. Tested with node --test.

/** The state a button leads to, to mark the one that matches the device's state. */
const RESULT_OF = {
  lock: 'locked',
  unlock: 'unlocked',
  open: 'open',
  close: 'closed',
  play: 'playing',
  pause: 'paused',
  stop: 'stopped',
  mute: 'muted',
  unmute: 'unmuted',
  on: 'on',
  off: 'off',
};

/** Units SmartThings defines for a control and devices often leave out of the payload. */
const DEFAULT_UNIT = { level: '%', 'shade-level': '%', volume: '%', ct: 'K' };

/** A reading changed within this many seconds is pointed out. */
export const RECENT_S = 15 * 60;

/** "°C" for C and F (as the tray writes temperatures), the unit as sent otherwise. */
export function unitText(control) {
  const u = control.unit || DEFAULT_UNIT[control.key] || '';
  if (u === 'C' || u === 'F') return ` °${u}`;
  if (u === '%' || u === '') return u;
  return ` ${u}`;
}

function words(s) {
  const t = String(s);
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** What the control shows as its current value: never a guess ("Unknown" when null). */
export function valueText(control) {
  const v = control.value;
  if (v == null) return 'Unknown';
  if (control.kind === 'colour') return `Hue ${Math.round(v.hue)} · Saturation ${Math.round(v.saturation)}`;
  if (typeof v === 'number') return `${Number.isInteger(v) ? v : v.toFixed(1)}${unitText(control)}`;
  return words(v);
}

/** A number snapped to the control's step and kept within its range. */
export function clamp(control, n) {
  const min = control.min ?? -Infinity;
  const max = control.max ?? Infinity;
  let x = Number(n);
  if (!Number.isFinite(x)) x = Number.isFinite(min) ? min : 0;
  if (control.step && Number.isFinite(min)) x = min + Math.round((x - min) / control.step) * control.step;
  x = Math.min(max, Math.max(min, x));
  // 20.500000001 from floating steps: keep what a person would type.
  return Math.round(x * 1000) / 1000;
}

/**
 * The view of one control of a row: test ids, labels, what each button does, and the
 * slider's or select's current position. `usable` false greys it (offline, signed out).
 */
export function controlView(row, control, usable) {
  const base = `${control.key}-${row.id}`;
  const view = {
    kind: control.kind,
    key: control.key,
    testid: base,
    label: control.label,
    aria: `${row.label} ${control.label.toLowerCase()}`,
    valueText: valueText(control),
    unknown: control.value == null,
    disabled: !usable,
  };
  if (control.kind === 'buttons' || control.kind === 'toggle') {
    view.buttons = control.commands.map((a) => ({
      command: a.command,
      label: a.label,
      confirm: a.confirm,
      testid: `${base}-${a.command}`,
      current: control.value != null && RESULT_OF[a.command] === control.value,
    }));
  }
  if (control.kind === 'slider') {
    view.min = control.min;
    view.max = control.max;
    view.step = control.step;
    view.value = control.value == null ? null : clamp(control, control.value);
    view.unit = unitText(control);
  }
  if (control.kind === 'select') {
    view.choices = control.choices.map((c) => ({ value: c, label: words(c), selected: c === control.value, disabled: false }));
    // A device may be in a mode it does not list (the ecobee fixture: "heat" with
    // off/cool/auxheatonly/auto): show the truth, selected but not choosable.
    if (typeof control.value === 'string' && !control.choices.includes(control.value)) {
      view.choices.unshift({ value: control.value, label: words(control.value), selected: true, disabled: true });
    }
  }
  if (control.kind === 'colour') {
    const v = control.value || { hue: 0, saturation: 0 };
    view.hue = clamp(control, v.hue);
    view.saturation = clamp(control, v.saturation);
  }
  return view;
}

/** Every control of a row, in the core's order, toggles apart (they sit by the name). */
export function controlViews(row, usable) {
  const all = (row.controls || []).map((c) => controlView(row, c, usable));
  return { toggles: all.filter((v) => v.kind === 'toggle'), rest: all.filter((v) => v.kind !== 'toggle') };
}

/**
 * What the window sends for a control: `{capability, command, args, confirmed}`, the
 * arguments shaped by the control's kind. A slider's value is clamped first (the core
 * refuses out-of-range values anyway; clamping keeps a typed value useful).
 */
export function request(control, command, input, confirmed = false) {
  const req = { capability: control.capability, command, args: [], confirmed };
  if (control.kind === 'slider') req.args = [clamp(control, input)];
  if (control.kind === 'select') req.args = [String(input)];
  if (control.kind === 'colour') req.args = [{ hue: clamp(control, input.hue), saturation: clamp(control, input.saturation) }];
  return req;
}

/** "Unlock Front Door?" for a command that asks first; null for one that does not. */
export function confirmQuestion(row, control, command) {
  const action = control.commands.find((a) => a.command === command);
  if (!action || !action.confirm) return null;
  return `${action.label} ${row.label}?`;
}

/**
 * The confirmation step as a tiny state machine, so the DOM only draws it: `ask` starts
 * it (or sends at once when no confirmation is needed), `answer(yes)` ends it.
 * Returns `{pending, send}`: `send` is the request to make now, if any.
 */
export function ask(row, control, command, input) {
  const question = confirmQuestion(row, control, command);
  if (question) {
    const action = control.commands.find((a) => a.command === command).label;
    return { pending: { device: row.id, question, action, req: request(control, command, input, true) }, send: null };
  }
  return { pending: null, send: request(control, command, input, false) };
}

export function answer(pending, yes) {
  return { pending: null, send: yes && pending ? pending.req : null };
}

/** "changed 2 min ago" for a reading reported within RECENT_S, else null. */
export function changedText(row, nowSeconds) {
  if (!row.changed_at) return null;
  const ago = nowSeconds - row.changed_at;
  if (ago < 0 || ago > RECENT_S) return null;
  if (ago < 60) return 'changed just now';
  return `changed ${Math.floor(ago / 60)} min ago`;
}
