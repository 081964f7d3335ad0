// The settings window's view logic: quick checks before a call (the core checks again
// and has the last word), and the token server's wording. Pure functions, tested with
// node --test. Nothing here stores anything: the server secret lives only in the DOM
// while it is shown.

export const MIN_PORT = 1024;
export const MAX_PORT = 65535;

/** `{port}` for a usable port, else `{problem}` (same range as the core: 1024–65535). */
export function checkPort(value) {
  const text = String(value ?? '').trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < MIN_PORT || port > MAX_PORT) {
    return { problem: `Pick a port from ${MIN_PORT} to ${MAX_PORT}.` };
  }
  return { port };
}

/**
 * Why `name` can't be the new name of connection `current`, or '' when it can. `taken`:
 * the other connections' names. The core's rule: 1–40 letters, digits, - and _.
 */
export function checkConnectionName(name, current, taken) {
  const n = String(name ?? '').trim();
  if (!n) return 'Give it a name.';
  if (n.length > 40 || !/^[A-Za-z0-9_-]+$/.test(n)) return 'Use up to 40 letters, digits, - and _.';
  if (n === 'token-server') return '`token-server` is reserved.';
  if (n !== current && taken.includes(n)) return `Another connection is already called ${n}.`;
  return '';
}

/** One line about the server, for the settings window. */
export function serverStatusText(st) {
  if (st.running) {
    const serving = st.serving ? ` · hands out the token of ${st.serving}` : ' · no connection to serve yet';
    return `Running on ${st.url}${serving}`;
  }
  if (st.enabled && st.error) return `Not running: ${st.error.message}`;
  return 'Off';
}

/** The curl line a script would use. The secret stays a shell variable and reaches curl
 *  through a pipe (printf is a shell builtin): never in argv, which any local user reads. */
export function serverExample(port) {
  return `printf 'Authorization: Bearer %s\\n' "$THINGSTRAY_SECRET" | curl -H @- http://127.0.0.1:${port}/v1/token`;
}

/** What the secret field shows: the secret only while revealed. */
export function secretText(secret, revealed) {
  return revealed && secret ? secret : '•'.repeat(16);
}

/** The rotate button asks twice: scripts holding the old secret stop working. */
export function rotateStep(armed) {
  return armed
    ? { text: 'Click again: scripts using the old secret will stop working', armed: true }
    : { text: 'New secret…', armed: false };
}
