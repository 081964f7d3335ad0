// The device window's location mode (issue 29), without the DOM: the header's segmented
// buttons (one per mode, the current one pressed), and what to say after a change.
// `modes` is the core's ModeView as the device list carries it: {current, modes, setting},
// or null while no mode is known (not read yet, or a sign-in that may not read them).
// Buttons, not a <select>: arrowing through a closed select would change the mode at each
// key, and a mode (Away, Night) sets off the home's automations. Tested with node --test.

/**
 * What the mode group shows. `hasToken`: the connection can be used; `busy`: this window
 * is changing the mode (the core's `setting` says the tray is).
 * Returns { hidden, busy, label, buttons: [{ id, label, current, disabled, testid, title }] }.
 */
export function modeButtons(modes, { hasToken = true, busy = false } = {}) {
  if (!modes || !Array.isArray(modes.modes) || modes.modes.length === 0) {
    return { hidden: true, busy: false, label: 'Location mode', buttons: [] };
  }
  const current = modes.current ? modes.current.id : null;
  const waiting = Boolean(busy || modes.setting);
  const disabled = !hasToken || waiting;
  const label = modes.current ? `Location mode: ${modes.current.label}` : 'Location mode (current one unknown)';
  const buttons = modes.modes.map((m) => ({
    id: m.id,
    label: m.label,
    current: m.id === current,
    disabled,
    testid: `mode-${m.id}`,
    title: m.id === current ? `${m.label} is the location's mode now` : `Change the location's mode to ${m.label}`,
  }));
  return { hidden: false, busy: waiting, label, buttons };
}

/** Whether a click on mode `id` should be sent: not the current one, not while waiting. */
export function shouldSet(modes, id, { busy = false } = {}) {
  if (!modes || busy || modes.setting) return false;
  const known = (modes.modes || []).some((m) => m.id === id);
  return known && !(modes.current && modes.current.id === id);
}

/** The device list with the modes the core answered after a change (the mode read back). */
export function withModes(list, modes) {
  return list ? { ...list, modes } : list;
}

/**
 * What to say after a change: the mode SmartThings reports now, and whether it is the one
 * asked for. Returns { text, kind: 'info' | 'error' }.
 */
export function afterChangeText(askedId, modes) {
  const asked = ((modes && modes.modes) || []).find((m) => m.id === askedId);
  const now = modes && modes.current;
  if (now && now.id === askedId) return { text: `Mode: ${now.label}.`, kind: 'info' };
  const wanted = asked ? asked.label : askedId;
  const reported = now ? now.label : 'no mode';
  return { text: `SmartThings still reports ${reported}, not ${wanted}; check again shortly.`, kind: 'error' };
}
