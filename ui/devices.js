// The device window: DOM glue only. Data comes from ipc.js; decisions from lib/.
import { api, listen } from './ipc.js';
import { sections, countShown, controls, listKey, withRow, withFlag, poller, subtitle } from './lib/devices-view.js';
import { keyAction, shortcutTargets, rowLabel } from './lib/keys-view.js';
import { copiedText, readText, slug } from './lib/format.js';
import { controlViews, ask, answer, changedText } from './lib/controls-view.js';
import { modeGroup } from './devices-modes.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const now = () => Math.floor(Date.now() / 1000);

const view = {
  info: null,
  summaries: [],
  connection: null,
  list: null,
  filter: '',
  showHidden: false,
  hasToken: false,
  // The confirmation being asked in the window ("Unlock Front Door?"), if any.
  pending: null,
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

// What the rows on screen were built from (see listKey); null forces a rebuild.
let shownKey = null;
// The number-key shortcuts on screen (lib/keys-view.js), and each one's number by id.
let shortcuts = [];
let shortcutKey = {};

let toastTimer = null;
function toast(text, kind = 'info') {
  const t = $('toast');
  t.textContent = text;
  t.dataset.kind = kind;
  t.classList.remove('hidden');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.add('hidden'), kind === 'error' ? 8000 : 3000);
}

// The location mode's buttons in the header (devices-modes.js).
const renderModes = modeGroup({ $, el, toast, view });

function summary() {
  return view.summaries.find((s) => s.name === view.connection);
}

function renderHeader() {
  const s = summary();
  const select = $('connection');
  select.classList.toggle('hidden', view.summaries.length < 2);
  select.replaceChildren(...view.summaries.map((c) => el('option', { value: c.name, selected: c.name === view.connection, text: c.title })));
  if (!s) {
    $('location').textContent = 'ThingsTray';
    $('status-line').textContent = 'Nothing set up yet.';
    return;
  }
  view.hasToken = s.has_token;
  $('location').textContent = s.title;
  $('status-line').textContent = s.status_line;
  $('status-dot').dataset.state = s.status.state;
  $('copy-token').disabled = !s.has_token;
  const needs = !s.has_token;
  $('sign-in-needed').classList.toggle('hidden', !needs);
  $('sign-in-reason').textContent = s.status_detail || 'Sign in to see your devices.';
  // A paired connection's fix is on its owner or a new invite (the reason says which):
  // a sign-in here would only be refused.
  $('sign-in-again').classList.toggle('hidden', Boolean(s.owner));
}

function renderFooter() {
  const parts = [];
  if (view.list) parts.push(readText(view.list.read_at, now()));
  if (view.list && view.list.error) parts.push(`last read failed: ${view.list.error.message}`);
  if (view.info && view.info.demo) parts.push('Demo: simulator in-process, throwaway settings (tokens in a file there, not the keychain)');
  $('footer').textContent = parts.join(' · ');
}

async function act(input, work, revert) {
  input.setAttribute('aria-busy', 'true');
  input.disabled = true;
  try {
    const row = await work();
    view.list = withRow(view.list, row);
  } catch (e) {
    revert();
    toast(e.message, 'error');
  } finally {
    input.removeAttribute('aria-busy');
    // The control was changed by hand (busy, reverted): rebuild even if the data did not.
    shownKey = null;
    render();
  }
}

/** A row's on/off choice (favorite, bell, hidden): saved, then drawn. */
function flagButton(row, flag, save, attrs) {
  return el('button', {
    ...attrs,
    'aria-pressed': String(Boolean(row[flag])),
    onclick: async () => {
      try {
        await save(!row[flag]);
        view.list = withFlag(view.list, row.id, flag, !row[flag]);
        render();
      } catch (e) {
        toast(e.message, 'error');
      }
    },
  });
}

/** A bell drawn in SVG: the window's fonts may have no bell glyph. */
function bellIcon() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M8 1.5a4.5 4.5 0 0 0-4.5 4.5v3L2 11.5h12L12.5 9V6A4.5 4.5 0 0 0 8 1.5zM6.2 13a1.8 1.8 0 0 0 3.6 0z');
  svg.append(path);
  return svg;
}

/** A click on a device's alert: that connection, unfiltered, the device's row focused
 * (from what the app has cached: the click sends SmartThings nothing). */
async function showDevice(target) {
  if (!target || !target.device) return;
  view.filter = $('filter').value = '';
  await readSummaries().catch(() => {});
  if (view.summaries.some((s) => s.name === target.connection)) view.connection = target.connection;
  view.list = await api.cachedDevices(view.connection).catch(() => view.list);
  render();
  const row = $(`device-${target.device}`);
  if (row) {
    row.scrollIntoView({ block: 'center' });
    row.focus();
  }
}

function deviceRow(row) {
  const c = controls(row, view.hasToken);
  const conn = view.connection;
  const id = row.id;
  const sub = subtitle(row, c);
  const fav = flagButton(row, 'favorite', (on) => api.setFavorite(conn, id, on), {
    class: 'fav',
    'data-testid': `favorite-${id}`,
    'aria-label': row.favorite ? `Remove ${row.label} from favorites` : `Add ${row.label} to favorites`,
    title: 'Favorite',
    text: row.favorite ? '★' : '☆',
  });
  const bell = flagButton(row, 'alerts', (on) => api.setAlerts(conn, id, on), {
    class: 'bell',
    'data-testid': `bell-${id}`,
    'aria-label': row.alerts ? `Stop notifications about ${row.label}` : `Notify me about ${row.label}`,
    title: row.alerts ? 'Notifications on' : 'Notifications off',
  });
  bell.append(bellIcon());
  const changed = changedText(row, now());
  const name = el(
    'div',
    { class: 'name' },
    el('div', { text: row.label }),
    sub ? el('div', { class: 'sub', text: sub }) : null,
    changed ? el('div', { class: 'changed', 'data-testid': `changed-${id}`, text: changed }) : null,
  );
  const send = (input, req, revert = () => {}) =>
    act(input, () => api.deviceCommand(conn, id, req.capability, req.command, req.args, req.confirmed), revert);
  // A click: sent at once, or held for the confirmation drawn under the row.
  const start = (input, control, command, value, revert) => {
    const step = ask(row, control, command, value);
    if (step.pending) {
      view.pending = step.pending;
      shownKey = null;
      render();
    } else send(input, step.send, revert);
  };
  const { toggles, rest } = controlViews(row, c.usable);
  const byKey = Object.fromEntries((row.controls || []).map((k) => [k.key, k]));
  const toggle = el('div', { class: 'toggle' }, ...toggles.map((v) => RENDER.toggle(v, byKey[v.key], start)));
  toggle.append(
    bell,
    flagButton(row, 'hidden', (on) => api.setHidden(conn, id, on), {
      class: 'more',
      'data-testid': `hide-${id}`,
      title: row.hidden ? 'Show in the tray and here' : 'Hide from the tray and here',
      text: row.hidden ? 'Unhide' : 'Hide',
    }),
  );
  const panel = el('div', { class: 'controls' }, ...rest.map((v) => RENDER[v.kind](v, byKey[v.key], start)));
  const pending = view.pending && view.pending.device === id ? view.pending : null;
  if (pending) {
    const yes = el('button', {
      class: 'primary',
      'data-testid': `confirm-${id}`,
      text: pending.action,
      onclick: () => {
        const step = answer(pending, true);
        view.pending = step.pending;
        send(yes, step.send);
      },
    });
    const no = el('button', {
      'data-testid': `cancel-${id}`,
      text: 'Cancel',
      onclick: () => {
        view.pending = answer(pending, false).pending;
        shownKey = null;
        render();
      },
    });
    panel.append(
      el('div', { class: 'confirm', role: 'alertdialog', 'aria-label': pending.question }, el('span', { 'data-testid': `confirm-text-${id}`, text: pending.question }), yes, no),
    );
  }
  return el(
    'div',
    {
      class: changed ? 'device recent' : 'device',
      role: 'listitem',
      tabindex: '0',
      'aria-label': rowLabel(row, sub),
      'aria-keyshortcuts': shortcutKey[id] || null,
      title: shortcutKey[id] ? `Press ${shortcutKey[id]} to ${c.toggle ? 'switch it' : 'go here'}` : null,
      'data-testid': `device-${id}`,
      'data-state': c.state,
      'data-label': row.label,
    },
    fav,
    name,
    toggle,
    panel.childElementCount ? panel : null,
  );
}

// One renderer per control KIND; each gets the view (lib/controls-view.js), the core's
// control, and `start(input, control, command, value, revert)`, which sends or asks first.
const RENDER = {
  toggle(v, control, start) {
    const on = control.value === 'on';
    const sw = el('input', { type: 'checkbox', class: 'switch', role: 'switch', 'data-testid': v.testid, 'aria-label': `${v.aria} on or off`, checked: on, disabled: v.disabled });
    sw.addEventListener('change', () => {
      const want = sw.checked;
      // Show the confirmed state only: back to the old state until SmartThings says.
      sw.checked = !want;
      start(sw, control, want ? 'on' : 'off', null, () => (sw.checked = on));
    });
    return sw;
  },
  buttons(v, control, start) {
    const buttons = v.buttons.map((b) => {
      const btn = el('button', { type: 'button', 'data-testid': b.testid, 'aria-pressed': String(b.current), disabled: v.disabled, text: b.label });
      btn.addEventListener('click', () => start(btn, control, b.command, null));
      return btn;
    });
    return line(v, el('div', { class: 'buttons', role: 'group', 'aria-label': v.aria }, ...buttons));
  },
  slider(v, control, start) {
    const input = el('input', { type: 'range', min: v.min, max: v.max, step: v.step, value: v.value ?? v.min, 'data-testid': v.testid, 'aria-label': v.aria, disabled: v.disabled });
    const out = line(v, input);
    input.addEventListener('input', () => (out.lastChild.textContent = `${input.value}${v.unit}`));
    input.addEventListener('change', () => start(input, control, control.commands[0].command, Number(input.value), () => (input.value = v.value ?? v.min)));
    return out;
  },
  select(v, control, start) {
    const options = v.choices.map((c) => el('option', { value: c.value, selected: c.selected, disabled: c.disabled, text: c.label }));
    const select = el('select', { 'data-testid': v.testid, 'aria-label': v.aria, disabled: v.disabled }, ...options);
    if (v.unknown) select.prepend(el('option', { value: '', selected: true, disabled: true, text: 'Unknown' }));
    select.addEventListener('change', () => start(select, control, control.commands[0].command, select.value));
    return line(v, select);
  },
  colour(v, control, start) {
    const range = (part, value) =>
      el('input', { type: 'range', min: 0, max: 100, step: 1, value, 'data-testid': `${v.testid}-${part}`, 'aria-label': `${v.aria} ${part}`, disabled: v.disabled });
    const hue = range('hue', v.hue);
    const sat = range('saturation', v.saturation);
    const swatch = el('span', { class: 'swatch', 'data-testid': `${v.testid}-value` });
    const paint = () => (swatch.style.background = `hsl(${Number(hue.value) * 3.6}, ${sat.value}%, 50%)`);
    paint();
    for (const input of [hue, sat]) {
      input.addEventListener('input', paint);
      input.addEventListener('change', () => start(input, control, 'setColor', { hue: Number(hue.value), saturation: Number(sat.value) }));
    }
    return line(v, el('div', { class: 'colour' }, hue, sat), swatch);
  },
};

/** One control's line: its name, the input, and what the device reports now. */
function line(v, input, last = null) {
  const value = last || el('span', { 'data-testid': `${v.testid}-value`, class: v.unknown ? 'unknown' : null, text: v.valueText });
  return el('div', { class: 'control', 'data-kind': v.kind }, el('span', { text: v.label }), input, value);
}

function render() {
  renderHeader();
  renderModes();
  renderFooter();
  const list = view.list;
  const rooms = $('rooms');
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.testid : null;
  if (!list) {
    rooms.replaceChildren();
    shownKey = null;
    return;
  }
  const secs = sections(list, { filter: view.filter, showHidden: view.showHidden });
  $('empty').classList.toggle('hidden', countShown(secs) > 0 || !list.read_at);
  const scenes = list.scenes || [];
  $('scenes-section').classList.toggle('hidden', scenes.length === 0 || !view.hasToken);
  const key = listKey({ connection: view.connection, hasToken: view.hasToken, secs, scenes });
  if (key === shownKey) return;
  shownKey = key;
  shortcuts = view.hasToken ? shortcutTargets(secs, scenes) : [];
  shortcutKey = Object.fromEntries(shortcuts.map((t) => [t.id, t.key]));
  rooms.replaceChildren(
    ...secs.map((s) =>
      el('section', { 'data-testid': `room-${slug(s.title)}`, 'aria-label': s.title }, el('h2', { text: s.title }), ...s.rows.map(deviceRow)),
    ),
  );
  $('scenes').replaceChildren(
    ...scenes.map((s) =>
      el('button', {
        'data-testid': `scene-${s.id}`,
        'aria-keyshortcuts': shortcutKey[s.id] || null,
        title: shortcutKey[s.id] ? `Press ${shortcutKey[s.id]}` : null,
        text: shortcutKey[s.id] ? `${shortcutKey[s.id]} · ${s.name}` : s.name,
        onclick: async () => {
          try {
            await api.runScene(view.connection, s.id);
            toast(`${s.name} ran.`);
          } catch (e) {
            toast(e.message, 'error');
          }
        },
      }),
    ),
  );
  if (focused) {
    const again = document.querySelector(`[data-testid="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

async function readSummaries() {
  view.summaries = await api.connections();
  if (!view.summaries.some((s) => s.name === view.connection)) view.connection = view.summaries[0] ? view.summaries[0].name : null;
}

async function readDevices() {
  await readSummaries();
  if (!view.connection || !summary().has_token) {
    render();
    return;
  }
  view.list = await api.devices(view.connection);
  render();
}

async function onChanged() {
  // Something changed in the app (status, a tray click): re-read what is cached, no network.
  try {
    await readSummaries();
    if (view.connection) view.list = await api.cachedDevices(view.connection);
    render();
  } catch {
    /* the next poll tells */
  }
}

/** Performs what lib/keys-view.js decided for a key. */
function doKey(act, rows, sw) {
  switch (act.do) {
    case 'cancel':
      view.pending = null;
      shownKey = null;
      render();
      break;
    case 'clear-filter':
      $('filter').value = view.filter = '';
      render();
      break;
    case 'close':
      api.closeWindow().catch(() => {});
      break;
    case 'focus-filter':
      $('filter').focus();
      break;
    case 'focus-row':
      rows[act.index].focus();
      break;
    case 'toggle':
      sw.click();
      break;
    case 'open-controls': {
      const first = document.activeElement.querySelector('.controls input:not([disabled]), .controls select:not([disabled]), .controls button:not([disabled])');
      if (first) first.focus();
      break;
    }
    case 'shortcut': {
      const t = shortcuts[act.index];
      const target = $(t.kind === 'scene' ? `scene-${t.id}` : `device-${t.id}`);
      if (!target) break;
      const toggle = t.kind === 'device' && target.querySelector('input.switch:not([disabled])');
      if (t.kind === 'scene') target.click();
      else if (toggle) toggle.click();
      else target.focus();
      break;
    }
  }
}

function wire(poll) {
  $('filter').addEventListener('input', (e) => {
    view.filter = e.target.value;
    render();
  });
  $('show-hidden').addEventListener('change', (e) => {
    view.showHidden = e.target.checked;
    render();
  });
  $('connection').addEventListener('change', (e) => {
    view.connection = e.target.value;
    view.list = null;
    poll.kick();
  });
  $('copy-token').addEventListener('click', async () => {
    try {
      const copied = await api.copyToken(view.connection);
      $('copy-result').textContent = copiedText(copied, now());
    } catch (e) {
      $('copy-result').textContent = e.message;
    }
  });
  $('sign-in-again').addEventListener('click', async () => {
    try {
      await api.signInAgain(view.connection);
      await api.openSignInWindow();
    } catch (e) {
      toast(e.message, 'error');
    }
  });
  $('open-settings').addEventListener('click', () => api.openWindow('settings').catch((e) => toast(e.message, 'error')));
  document.addEventListener('keydown', (e) => {
    const rows = [...document.querySelectorAll('.device')];
    const active = document.activeElement;
    const row = rows.indexOf(active);
    const inRow = rows.findIndex((r) => r !== active && r.contains(active));
    const where = active === $('filter') ? 'filter' : row >= 0 ? 'row' : inRow >= 0 && active.matches('input, select, textarea') ? 'control' : 'other';
    const focused = row >= 0 ? rows[row] : null;
    const sw = focused && focused.querySelector('input.switch');
    const act = keyAction(e.key, {
      where,
      row,
      rows: rows.length,
      pending: Boolean(view.pending),
      filter: view.filter,
      hasSwitch: Boolean(sw && !sw.disabled),
      shortcuts: shortcuts.length,
      modifiers: e.ctrlKey || e.altKey || e.metaKey,
    });
    if (!act) return;
    e.preventDefault();
    doKey(act, rows, sw);
  });
  document.addEventListener('visibilitychange', () => poll.visibilityChanged());
  window.addEventListener('pagehide', () => poll.stop());
}

async function main() {
  try {
    view.info = await api.appInfo();
    const settings = await api.settings().catch(() => ({ poll_interval_s: 30 }));
    // When to read next comes with each answer (the core's policy); the setting is the
    // fallback for when there is no answer.
    const poll = poller(() => readDevices().catch((e) => toast(e.message, 'error')), settings.poll_interval_s * 1000, {
      visible: () => !document.hidden,
      nextMs: () => (view.list && view.list.connection === view.connection ? view.list.next_read_ms : null),
    });
    wire(poll);
    // The keyboard path starts in the filter: type to find, ArrowDown to the list.
    $('filter').focus();
    await listen('changed', onChanged);
    await listen('show_device', showDevice);
    // Opened by a click on an alert: the shell set where to go before this page ran.
    await showDevice(window.__THINGSTRAY_SHOW__);
    poll.kick();
  } catch (e) {
    toast(e.message, 'error');
  }
}

main();
