// The setup wizard's view logic: steps, which problems to show for which field, and
// what the step buttons may do. The checks themselves are the core's (check_setup over
// IPC); this only decides presentation. Tested with node --test.

export const STEPS = ['create', 'credentials', 'sign-in', 'app-settings', 'done'];
/**
 * The three marks at the top: entering the keys (the CLI way) is part of creating the
 * app, and checking the app's settings part of signing in.
 */
export const MARKS = ['create', 'sign-in', 'done'];
const MARK_OF = { create: 'create', credentials: 'create', 'sign-in': 'sign-in', 'app-settings': 'sign-in', done: 'done' };

/** `{current, done}` for one mark when the wizard is at `step`. */
export function markState(mark, step) {
  const at = MARKS.indexOf(MARK_OF[step] || 'create');
  const i = MARKS.indexOf(mark);
  return { current: i === at, done: i < at };
}
/** Fields that must be filled in; the "Advanced" addresses may stay empty (SmartThings). */
export const REQUIRED = ['client_id', 'client_secret', 'redirect_uri'];
export const FIELDS = [...REQUIRED, 'api_url', 'auth_url'];

export function initial() {
  return {
    step: 'create',
    form: { client_id: '', client_secret: '', redirect_uri: 'https://thingstray.invalid/callback', api_url: '', auth_url: '' },
    touched: Object.fromEntries(FIELDS.map((f) => [f, false])),
    problems: [],
    busy: false,
    error: null,
    signedIn: null,
    demo: false,
    // The redirect URI of the sign-in under way (from start_setup or start_demo).
    redirectUri: null,
    // The connection being set up (from start_setup or create_app), for "Check the app's settings".
    connection: null,
    // How the app came to be: 'create' (ThingsTray made it), 'cli' (keys entered) or 'demo'.
    path: null,
    // The refusal that led to "Check the app's settings", shown there.
    reason: null,
  };
}

/** The problems that stop the form; a warning (`warning: true`) never does. */
export function blocking(problems) {
  return problems.filter((p) => !p.warning);
}

/** Errors to show per field: only for fields the user has touched (or all, on submit). */
export function visibleProblems(state, all = false) {
  const out = {};
  for (const p of blocking(state.problems)) {
    if (all || state.touched[p.field]) out[p.field] = p.message;
  }
  return out;
}

/** Warnings to show per field, under the same rule; a field with an error shows that instead. */
export function visibleWarnings(state, all = false) {
  const errors = visibleProblems(state, all);
  const out = {};
  for (const p of state.problems) {
    if (p.warning && !errors[p.field] && (all || state.touched[p.field])) out[p.field] = p.message;
  }
  return out;
}

export function canContinue(state) {
  switch (state.step) {
    case 'create':
      return true;
    case 'credentials':
      return !state.busy && blocking(state.problems).length === 0 && REQUIRED.every((f) => state.form[f].trim() !== '');
    default:
      return false;
  }
}

export function reduce(state, action) {
  switch (action.type) {
    case 'edit':
      return {
        ...state,
        form: { ...state.form, [action.field]: action.value },
        touched: { ...state.touched, [action.field]: true },
        error: null,
      };
    case 'problems':
      return { ...state, problems: action.problems };
    case 'go':
      if (!STEPS.includes(action.step)) return state;
      return { ...state, step: action.step, error: null };
    case 'busy':
      return { ...state, busy: action.busy };
    case 'error':
      return { ...state, busy: false, error: action.error };
    case 'started':
      return {
        ...state,
        redirectUri: action.redirectUri,
        connection: action.connection ?? state.connection,
        path: action.path ?? state.path,
      };
    case 'demo':
      return { ...state, demo: true, path: 'demo', step: 'sign-in', busy: false, error: null };
    case 'check-app':
      // The refused sign-in that led here stays on the page as the reason.
      return { ...state, step: 'app-settings', reason: state.error, error: null, busy: false };
    case 'signed-in':
      return { ...state, step: 'done', busy: false, error: null, signedIn: action.signedIn };
    default:
      return state;
  }
}

/**
 * Whether the sign-in step offers "Check the app's settings": after a refusal that is the
 * app's (offersAppCheck), or always, quietly, for an app made with the CLI, whose redirect
 * URI and scopes were typed by hand. Never for the demo, nor before a connection exists.
 */
export function appCheckOffer(state, offersAppCheck) {
  if (state.demo || !state.connection) return 'none';
  if (offersAppCheck(state.error)) return 'after-error';
  return state.path === 'cli' ? 'quiet' : 'none';
}

/** The line on the last page: "Demo Home · 34 devices". */
export function doneText(signedIn) {
  if (!signedIn) return '';
  const place = signedIn.location_name || signedIn.connection;
  const n = signedIn.device_count;
  return `${place} · ${n} device${n === 1 ? '' : 's'}`;
}

/** Trims what people paste: spaces, quotes, a trailing newline. */
export function cleanPaste(text) {
  return String(text).trim().replace(/^["'<]+|["'>]+$/g, '');
}

/**
 * What "Use my browser instead" leads to with this redirect URI, said as it is: SmartThings
 * sends the browser to the redirect URI, and only a `thingstray://` link or a page that
 * forwards to one (docs/callback.html) comes back to ThingsTray by itself.
 */
export function browserHint(redirectUri) {
  let url = null;
  try {
    url = new URL(String(redirectUri || '').trim());
  } catch {
    url = null;
  }
  if (url && url.protocol === 'thingstray:') {
    return 'After you sign in, the browser hands the answer to ThingsTray through a thingstray:// link (it may ask whether to open ThingsTray). If nothing happens, paste the address it was sent to below.';
  }
  if (url && /(^|\.)invalid$/.test(url.hostname)) {
    return `After you sign in, the browser ends on an error page such as “This site can’t be reached” (Chrome, Edge) or “Hmm. We’re having trouble finding that site.” (Firefox): ${url.hostname} never exists, so this is expected. Copy the whole address from its address bar (${url.origin}${url.pathname}?code=…&state=…) and paste it below.`;
  }
  return 'After you sign in, the browser goes to your redirect URI. If that page is your copy of ThingsTray\'s callback page (docs/callback.html), it sends you back to ThingsTray; otherwise copy the address the browser ends on and paste it below.';
}
