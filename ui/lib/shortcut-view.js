// Settings -> Keyboard, without the DOM (issue 29): while "Record" listens, a key press
// becomes an accelerator spelled as the core keeps it ("CommandOrControl+Shift+T"), and
// the shortcut is shown in the platform's words. The core checks again and the system has
// the last word (another app may hold the combination). settings-shortcut.js performs what
// `recordKey` decides. Tested with node --test.

/** Keys that only modify: pressed alone, recording goes on. */
const MODIFIER_KEYS = new Set(['Shift', 'Control', 'Alt', 'AltGraph', 'Meta', 'OS', 'Super', 'Hyper', 'Fn', 'FnLock', 'CapsLock']);

/** KeyboardEvent.code values the shortcut plugin knows by the same name. */
const NAMED = new Set([
  'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Space', 'Enter', 'Tab', 'Backspace', 'Delete',
  'Insert', 'Home', 'End', 'PageUp', 'PageDown', 'Minus', 'Equal', 'BracketLeft', 'BracketRight',
  'Backslash', 'Semicolon', 'Quote', 'Backquote', 'Comma', 'Period', 'Slash', 'Pause', 'PrintScreen',
  'ScrollLock', 'NumLock', 'MediaPlayPause', 'MediaStop', 'MediaTrackNext', 'MediaTrackPrevious',
  'AudioVolumeUp', 'AudioVolumeDown', 'AudioVolumeMute',
]);

const F_KEY = /^F([1-9]|1\d|2[0-4])$/;

/**
 * The accelerator's key for a KeyboardEvent `code` (the key's place, whatever the layout:
 * the place is what the system grabs), or null for one the shortcut plugin does not know.
 */
export function keyName(code) {
  const c = String(code || '');
  let m = /^Key([A-Z])$/.exec(c);
  if (m) return m[1];
  m = /^Digit([0-9])$/.exec(c);
  if (m) return m[1];
  if (F_KEY.test(c) || NAMED.has(c)) return c;
  if (/^Numpad([0-9]|Add|Decimal|Divide|Enter|Equal|Multiply|Subtract)$/.test(c)) return c;
  return null;
}

/** Keys no app types with, which may be a shortcut alone or with Shift only (the core's rule). */
export function standsAlone(key) {
  return F_KEY.test(key) || ['Pause', 'PrintScreen', 'ScrollLock'].includes(key) || /^(Media|AudioVolume)/.test(key);
}

/**
 * What a keydown does while recording. `ev`: {key, code, ctrlKey, altKey, shiftKey, metaKey};
 * `mac`: ⌘ is the main modifier there (CommandOrControl), Ctrl elsewhere.
 * Returns {do: 'cancel'} (Escape), {do: 'wait'} (a modifier alone: keep listening),
 * {do: 'problem', message} (keep listening) or {do: 'set', accelerator}.
 */
export function recordKey(ev, { mac = false } = {}) {
  if (ev.key === 'Escape' || ev.code === 'Escape') return { do: 'cancel' };
  if (MODIFIER_KEYS.has(ev.key) || /^(Shift|Control|Alt|Meta|OS)(Left|Right)$/.test(ev.code || '')) return { do: 'wait' };
  const key = keyName(ev.code);
  if (!key) {
    return { do: 'problem', message: `${ev.key || ev.code || 'That key'} can't be part of a shortcut: use a letter, a digit, F1–F24 or an arrow.` };
  }
  const mods = [];
  if (mac) {
    if (ev.metaKey) mods.push('CommandOrControl');
    if (ev.ctrlKey) mods.push('Control');
  } else {
    if (ev.ctrlKey) mods.push('CommandOrControl');
    if (ev.metaKey) mods.push('Super');
  }
  if (ev.altKey) mods.push('Alt');
  if (ev.shiftKey) mods.push('Shift');
  if (!standsAlone(key) && !mods.some((m) => m !== 'Shift')) {
    const main = mac ? '⌘' : 'Ctrl';
    return { do: 'problem', message: `${key} alone would be taken from every other app: hold ${main} or ${mac ? '⌥' : 'Alt'} with it.` };
  }
  return { do: 'set', accelerator: [...mods, key].join('+') };
}

const MAC_NAMES = { CommandOrControl: '⌘', Super: '⌘', Control: '⌃', Alt: '⌥', Shift: '⇧' };
const PC_NAMES = { CommandOrControl: 'Ctrl', Control: 'Ctrl', Super: 'Super', Alt: 'Alt', Shift: 'Shift' };

/** The shortcut as the platform writes it ("Ctrl+Shift+T", "⌘⇧T"), or "Off". */
export function shortcutText(accelerator, { mac = false } = {}) {
  if (!accelerator) return 'Off';
  const parts = accelerator.split('+');
  const key = parts.pop();
  const names = mac ? MAC_NAMES : PC_NAMES;
  const mods = [...new Set(parts.map((m) => names[m] || m))];
  return mac ? [...mods, key].join('') : [...mods, key].join('+');
}
