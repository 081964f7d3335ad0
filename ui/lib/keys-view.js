// The device window's keyboard path, without the DOM (issue 29): the window opens with
// focus in the filter; arrows move between rows (ArrowDown from the filter enters the
// list, ArrowUp from the first row goes back); Enter or Space toggles a row's switch, or
// opens its controls when it has none; Escape cancels a confirmation, then clears the
// filter, then closes; `/` goes to the filter; 1-9 run the shortcuts (favourites, then
// scenes). devices.js performs what `keyAction` decides. Tested with node --test.

import { FAVORITES, nextIndex } from './devices-view.js';

/** The most number-key shortcuts: 1 to 9. */
export const MAX_SHORTCUTS = 9;

/**
 * What a key does. `ctx`:
 * - `where`: 'filter' (the filter box), 'row' (a device row itself), 'control' (an input,
 *   select or slider inside a row: its own keys win), or 'other' (a button, the page);
 * - `row`, `rows`: the focused row's index (-1 when none) and how many rows are shown;
 * - `pending`: a confirmation is being asked; `filter`: the filter's text;
 * - `hasSwitch`: the focused row has a usable switch; `shortcuts`: how many there are;
 * - `modifiers`: Ctrl, Alt or Meta is held (those combinations are the system's).
 * Returns `{ do, index? }` or null (the key is left to the browser).
 */
export function keyAction(key, ctx) {
  if (ctx.modifiers) return null;
  if (key === 'Escape') {
    if (ctx.pending) return { do: 'cancel' };
    if (ctx.filter) return { do: 'clear-filter' };
    return { do: 'close' };
  }
  if (ctx.where === 'filter') {
    // Typing stays typing; only these leave the box for the list.
    return (key === 'ArrowDown' || key === 'Enter') && ctx.rows > 0 ? { do: 'focus-row', index: 0 } : null;
  }
  if (ctx.where === 'control') return null;
  if (key === '/') return { do: 'focus-filter' };
  if (/^[1-9]$/.test(key)) {
    const index = Number(key) - 1;
    return index < ctx.shortcuts ? { do: 'shortcut', index } : null;
  }
  if (ctx.where !== 'row' || ctx.row < 0) return null;
  if (key === 'ArrowUp' && ctx.row === 0) return { do: 'focus-filter' };
  const next = nextIndex(key, ctx.row, ctx.rows);
  if (next !== null) return { do: 'focus-row', index: next };
  if (key === 'Enter' || key === ' ') return ctx.hasSwitch ? { do: 'toggle' } : { do: 'open-controls' };
  return null;
}

/**
 * The number-key shortcuts, in order: the favourites as the window lists them, then the
 * scenes; at most nine. Each is `{ key: '1', kind: 'device' | 'scene', id, label }`.
 */
export function shortcutTargets(secs, scenes = []) {
  const favorites = (secs.find((s) => s.title === FAVORITES) || { rows: [] }).rows;
  const all = [
    ...favorites.map((r) => ({ kind: 'device', id: r.id, label: r.label })),
    ...scenes.map((s) => ({ kind: 'scene', id: s.id, label: s.name })),
  ];
  return all.slice(0, MAX_SHORTCUTS).map((t, i) => ({ key: String(i + 1), ...t }));
}

/** What a screen reader says for a row: its name and what it is doing. */
export function rowLabel(row, subtitle) {
  return subtitle ? `${row.label}, ${subtitle}` : row.label;
}
