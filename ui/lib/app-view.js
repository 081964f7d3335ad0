// The OAuth-In app, as the wizard ("Create the app for me", App settings) and Settings
// (each connection's App card) show it: pure view logic, tested with node --test. The
// calls are the core's (pat_help, create_app, check_app, repair_app over ipc.js); the
// personal access token is never kept here: pages read it from the field when a button is
// pressed and clear the field afterwards.

/** Where tokens are made, if pat_help could not be read. */
export const PAT_PAGE = 'https://account.smartthings.com/tokens';

/** The token page's address without its scheme, as a person reads it. */
export function pageText(help) {
  return String((help && help.page) || PAT_PAGE).replace(/^https:\/\//, '');
}

/** The boxes to tick, in the core's order: [{scope, label, why}]. */
export function checklist(help) {
  return ((help && help.boxes) || []).map((b) => ({ scope: String(b.scope), label: String(b.label || b.scope), why: String(b.why || '') }));
}

/** The wizard's create form as the core takes it (CreateAppForm); empty means "the default". */
export function createForm({ pat, name, apiUrl, authUrl }) {
  return {
    pat: String(pat ?? ''),
    display_name: String(name ?? '').trim(),
    api_url: String(apiUrl ?? '').trim(),
    auth_url: String(authUrl ?? '').trim(),
  };
}

/**
 * Why a button can't be pressed yet, said before any call ('' when it can): an empty
 * token field. Anything else about the token is the core's to judge (pat_malformed).
 */
export function patProblem(pasted) {
  return String(pasted ?? '').trim() ? '' : 'Paste the personal access token first.';
}

const PAT_CODES = ['pat_malformed', 'pat_rejected', 'pat_missing_scope'];

/**
 * Which field an error is about, so the page can mark it and put the focus there:
 * 'pat' (make or paste another token), 'name', 'addresses' (the Advanced box), or null.
 */
export function errorTarget(error) {
  const code = error && error.code;
  if (PAT_CODES.includes(code)) return 'pat';
  if (code === 'app_display_name_rejected') return 'name';
  if (code === 'invalid_setting' && /`(api_url|auth_url)`/.test(String(error.message))) return 'addresses';
  return null;
}

/** The short line under the token field that points at it; the full message is by the button. */
export function patFieldHint(error) {
  switch (error && error.code) {
    case 'pat_rejected':
      return 'SmartThings refused this token (tokens live 24 hours): make a new one and paste it here.';
    case 'pat_missing_scope':
      return 'This token lacks a box from the list: make a new one with every box ticked and paste it here.';
    case 'pat_malformed':
      return 'That does not look like a whole token: copy it again and paste it here.';
    default:
      return '';
  }
}

/**
 * Whether a refused sign-in is the app's fault, fixable in "Check the app's settings": the
 * redirect URI is not registered, or a scope is not allowed (invalid_scope).
 */
export function offersAppCheck(error) {
  if (!error) return false;
  if (error.code === 'redirect_uri_mismatch') return true;
  return error.code === 'sign_in_failed' && /invalid_scope/.test(String(error.message));
}

/**
 * Whether the panel must ask for the app's id: a connection set up with keys from the CLI
 * that never signed in cannot know which app is its own.
 */
export function needsAppId(error) {
  return Boolean(error && error.code === 'app_unknown');
}

/** Whether Settings shows an App card: not for a paired computer, nor an ST Schema connector. */
export function hasAppCard(connection) {
  if (!connection || connection.owner) return false;
  return !(connection.schema || connection.kind === 'schema' || connection.kind === 'paired');
}

/**
 * The side-by-side table: per row, what ThingsTray sends and what the app registers. Each
 * of ours is `ok` when the app has it; each of the app's is `used` when it is one of ours.
 */
export function compareRows(check) {
  if (!check) return [];
  const ours = (list, theirs) => list.map((text) => ({ text, ok: theirs.includes(text) }));
  const theirs = (list, mine) => list.map((text) => ({ text, used: mine.includes(text) }));
  const uris = check.registered_redirect_uris || [];
  const scopes = check.registered_scopes || [];
  const mineUri = check.redirect_uri ? [check.redirect_uri] : [];
  const mineScopes = check.scopes || [];
  return [
    { key: 'redirect', label: 'Redirect URI', ours: ours(mineUri, uris), theirs: theirs(uris, mineUri) },
    { key: 'scopes', label: 'Scopes', ours: ours(mineScopes, scopes), theirs: theirs(scopes, mineScopes) },
  ];
}

/** Splits a core message at its `backticks`: [{text, code}], so addresses show as code. */
export function codeParts(message) {
  return String(message ?? '')
    .split('`')
    .map((text, i) => ({ text, code: i % 2 === 1 }))
    .filter((p) => p.text !== '');
}

/** One line per difference, in the core's order, each split for display. */
export function differenceLines(check) {
  return ((check && check.differences) || []).map((d) => ({ code: d.code, parts: codeParts(d.message) }));
}

/** The line above the table. */
export function checkSummary(check) {
  if (!check) return '';
  const name = check.display_name || check.app_name || check.app_id;
  if (check.matches) return `The app “${name}” has what ThingsTray sends: SmartThings accepts the sign-in.`;
  const n = (check.differences || []).length;
  return `The app “${name}” differs from what ThingsTray sends (${n} difference${n === 1 ? '' : 's'}): SmartThings refuses the sign-in until it is repaired.`;
}

/** Repair is offered only when there is something to repair. */
export function canRepair(check) {
  return Boolean(check && !check.matches);
}

/** What a repair did, one line each, then what to do next. */
export function repairLines(repaired) {
  if (!repaired) return [];
  const lines = (repaired.changed || []).map((c) => String(c).replace(/^fixed: /, 'Fixed: ').replace(/^issued/, 'Issued'));
  if (!lines.length) lines.push('Nothing needed repairing.');
  if (repaired.new_secret) lines.push('This connection\'s sign-in has ended with the old secret: sign in again.');
  else if (repaired.changed && repaired.changed.length) lines.push('Sign in again to use the repaired app.');
  return lines;
}

/** A new secret ends every sign-in of the app: the button asks first, saying so. */
export const NEW_SECRET_WARNING =
  'A new client secret ends every sign-in of this app, here and on any other computer or program using it. ThingsTray saves the new secret in the keychain; then sign in again.';

/** When the token field is emptied after a call: after a change, or when the token itself was refused. */
export function clearsToken(outcome) {
  if (outcome.error) return errorTarget(outcome.error) === 'pat';
  return outcome.kind !== 'check';
}
