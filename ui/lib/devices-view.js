// The device window's view logic, without the DOM: which sections and rows to show for a
// filter, what a control does, and when to poll. Tested with node --test.

export const FAVORITES = 'Favorites';

function matches(row, room, words) {
  const hay = `${row.label} ${room}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

/**
 * Sections to render: "Favorites" first, then each room (favorites are not repeated
 * there). `filter` matches device and room names, word by word; hidden devices only
 * with `showHidden`.
 */
export function sections(list, { filter = '', showHidden = false } = {}) {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const keep = (row, room) => (showHidden || !row.hidden) && matches(row, room, words);
  const favorites = [];
  const rooms = [];
  for (const room of list.rooms || []) {
    const rows = [];
    for (const row of room.devices) {
      if (!keep(row, room.name)) continue;
      (row.favorite ? favorites : rows).push(row);
    }
    if (rows.length) rooms.push({ title: room.name, rows });
  }
  favorites.sort((a, b) => a.label.localeCompare(b.label));
  return favorites.length ? [{ title: FAVORITES, rows: favorites }, ...rooms] : rooms;
}

/**
 * What the device list shows, as one comparable string. The window rebuilds the list
 * only when this changes: a poll or a status event that changes nothing must not
 * replace the rows under the user's pointer (a slider being dragged, a focused toggle).
 */
export function listKey({ connection, hasToken, secs, scenes }) {
  return JSON.stringify([connection, hasToken, secs, scenes]);
}

/** How many devices a filter leaves, for "3 of 34 devices". */
export function countShown(secs) {
  return secs.reduce((n, s) => n + s.rows.length, 0);
}

/** Which controls a row gets, and whether they can be used. */
export function controls(row, hasToken) {
  const usable = hasToken && row.online !== false;
  return {
    usable,
    toggle: row.can_switch,
    level: row.can_dim,
    colorTemperature: row.can_color_temperature,
    state: row.online === false ? 'offline' : row.switch === true ? 'on' : row.switch === false ? 'off' : 'unknown',
  };
}

/** The line under a device's name: offline; a switch's on/off and level; else what the
 *  device is doing, as the core's readings catalogue says it ("Open · 21 °C"). */
export function subtitle(row, c = controls(row, true)) {
  if (c.state === 'offline') return 'Offline';
  // On/off with the level only for a switch: a curtain's level is its position, and
  // its state line says more ("Open · 100 %").
  if (row.level != null && c.level && c.toggle) return `${row.switch ? 'On' : 'Off'} · ${row.level}%`;
  if (c.toggle) return row.switch ? 'On' : 'Off';
  return row.state ?? '';
}

/** Replaces one row (as read back after a command) in a device list, immutably. */
export function withRow(list, row) {
  return {
    ...list,
    rooms: list.rooms.map((r) => ({ ...r, devices: r.devices.map((d) => (d.id === row.id ? row : d)) })),
  };
}

/** Sets favorite/hidden on a row locally (the settings call returns only the settings). */
export function withFlag(list, id, flag, on) {
  return {
    ...list,
    rooms: list.rooms.map((r) => ({ ...r, devices: r.devices.map((d) => (d.id === id ? { ...d, [flag]: on } : d)) })),
  };
}

/** The shortest wait between two reads, whatever the core says (a guard, not a policy). */
export const MIN_POLL_MS = 1000;

/**
 * Polls `run` while `visible()` says the window is shown; stops scheduling while hidden
 * and resumes (at once) when shown again. When to read next is the core's decision:
 * `nextMs()` returns the last answer's `next_read_ms` (the poll interval, stretched to a
 * rate limit's reset); `intervalMs` is only the fallback when there is no answer (a failed
 * call, nobody signed in). Timers are injectable for tests. Returns { stop, kick,
 * visibilityChanged }.
 */
export function poller(run, intervalMs, { visible = () => true, nextMs = () => null, setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  let timer = null;
  let stopped = false;
  let running = false;
  const schedule = (ms) => {
    if (timer !== null) clearTimer(timer);
    timer = null;
    if (stopped || !visible()) return;
    timer = setTimer(tick, ms);
  };
  const tick = async () => {
    timer = null;
    if (stopped || !visible() || running) return;
    running = true;
    try {
      await run();
    } catch {
      // The window shows the error it got; keep polling.
    } finally {
      running = false;
    }
    const next = nextMs();
    schedule(Number.isFinite(next) ? Math.max(next, MIN_POLL_MS) : intervalMs);
  };
  return {
    stop() {
      stopped = true;
      if (timer !== null) clearTimer(timer);
      timer = null;
    },
    kick() {
      schedule(0);
    },
    visibilityChanged() {
      if (visible()) schedule(0);
      else if (timer !== null) {
        clearTimer(timer);
        timer = null;
      }
    },
    get scheduled() {
      return timer !== null;
    },
  };
}

/** Keyboard navigation between device rows: the next row index for a key, or null. */
export function nextIndex(key, index, count) {
  if (count === 0) return null;
  switch (key) {
    case 'ArrowDown':
      return Math.min(count - 1, index + 1);
    case 'ArrowUp':
      return Math.max(0, index - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
