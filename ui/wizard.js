// The setup wizard: DOM glue only. Checks come from the core (check_setup); steps from lib/.
import { api, listen } from './ipc.js';
import { checklistElement, tokenPageLinks, appCheckPanel, showMessage } from './app-check.js';
import { createForm, patProblem, errorTarget, patFieldHint, offersAppCheck } from './lib/app-view.js';
import { cleanInvite, inviteProblem } from './lib/share-view.js';
import {
  initial,
  reduce,
  visibleProblems,
  visibleWarnings,
  blocking,
  canContinue,
  doneText,
  cleanPaste,
  browserHint,
  markState,
  appCheckOffer,
  FIELDS,
} from './lib/wizard-view.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
let state = initial();
let checkTimer = null;
/** pat_help's answer: the token page, its boxes, the default app name. */
let patHelp = null;
/** The connection the App settings panel was made for (made again for another). */
let panelFor = null;

function dispatch(action) {
  state = reduce(state, action);
  render();
}

function render() {
  document.querySelectorAll('.steps li').forEach((li) => {
    const m = markState(li.dataset.step, state.step);
    li.classList.toggle('done', m.done);
    if (m.current) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  });
  document.querySelectorAll('[data-step-panel]').forEach((p) => p.classList.toggle('hidden', p.dataset.stepPanel !== state.step));
  const shown = visibleProblems(state);
  const warned = visibleWarnings(state);
  for (const field of FIELDS) {
    const box = $(`problem-${field}`);
    box.textContent = shown[field] || warned[field] || '';
    box.classList.toggle('warning', !shown[field] && Boolean(warned[field]));
    document.getElementById(field).setAttribute('aria-invalid', String(Boolean(shown[field])));
  }
  $('browser-hint').textContent = browserHint(state.redirectUri || state.form.redirect_uri);
  $('save-credentials').disabled = !canContinue(state);
  const err = state.error ? state.error.message : '';
  // Core messages quote addresses and commands in `backticks`: shown as code.
  showMessage($('create-error'), state.step === 'create' ? err : '');
  showMessage($('credentials-error'), state.step === 'credentials' ? err : '');
  showMessage($('sign-in-error'), state.step === 'sign-in' ? err : '');
  $('demo-notice').classList.toggle('hidden', !state.demo);
  $('done-summary').textContent = doneText(state.signedIn);
  $('start-at-login').disabled = state.demo;
  $('create-app').disabled = state.busy;
  // "Check the app's settings": after a refusal that is the app's, or quietly for an app
  // made with the CLI.
  const offer = appCheckOffer(state, offersAppCheck);
  $('app-check-offer').classList.toggle('hidden', offer === 'none');
  $('app-check-offer').classList.toggle('quiet', offer === 'quiet');
  $('app-check-offer-text').textContent =
    offer === 'after-error'
      ? "The app SmartThings holds does not accept this sign-in. ThingsTray can compare it with what it sends and repair it."
      : "If the sign-in page refuses the redirect URI or a scope, the app's settings differ from what you entered.";
  const reason = state.reason ? state.reason.message : '';
  $('app-settings-reason').textContent = reason;
  $('app-settings-reason').classList.toggle('hidden', !reason);
}

function focusStep() {
  const panel = document.querySelector(`[data-step-panel="${state.step}"]`);
  const target = panel && panel.querySelector('input, button.primary, button');
  if (target) target.focus();
}

function go(step) {
  dispatch({ type: 'go', step });
  focusStep();
}

function checkSoon() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(async () => {
    try {
      dispatch({ type: 'problems', problems: await api.checkSetup(state.form) });
    } catch (e) {
      dispatch({ type: 'error', error: e });
    }
  }, 150);
}

async function renderAnswers() {
  const { answers, redirect_choices } = await api.setupAnswers();
  const rows = answers.map((a, i) => {
    const tr = document.createElement('tr');
    const q = document.createElement('td');
    q.textContent = a.prompt;
    const v = document.createElement('td');
    const code = document.createElement('code');
    code.textContent = a.answer;
    v.append(code);
    if (a.how) {
      const how = document.createElement('div');
      how.className = 'muted how';
      how.textContent = a.how;
      v.append(how);
    }
    const c = document.createElement('td');
    c.className = 'copy';
    if (a.copy) {
      const b = document.createElement('button');
      b.textContent = 'Copy';
      b.dataset.testid = `copy-answer-${i}`;
      b.setAttribute('aria-label', `Copy: ${a.answer}`);
      b.addEventListener('click', async () => {
        try {
          await api.copyText(a.answer);
          b.textContent = 'Copied';
          setTimeout(() => (b.textContent = 'Copy'), 1500);
        } catch (e) {
          b.textContent = 'Select and copy';
        }
      });
      c.append(b);
    }
    tr.append(q, v, c);
    return tr;
  });
  $('answers').replaceChildren(...rows);
  $('redirect-recommended').textContent = redirect_choices[0] || '';
  document.getElementById('redirects').replaceChildren(
    ...redirect_choices.map((c) => {
      const o = document.createElement('option');
      o.value = c;
      return o;
    }),
  );
}

async function openSignIn() {
  try {
    dispatch({ type: 'error', error: null });
    await api.openSignInWindow();
  } catch (e) {
    // Closing the sign-in window ends its sign-in: opening it again starts a new one.
    if (e.code === 'no_sign_in_pending' && state.connection) {
      try {
        await api.signInAgain(state.connection);
        await api.openSignInWindow();
        return;
      } catch (again) {
        dispatch({ type: 'error', error: again });
        return;
      }
    }
    dispatch({ type: 'error', error: e });
  }
}

/** Marks the field an error is about (or none), with the token field's own hint. */
function markCreateError(e) {
  const target = e ? errorTarget(e) : null;
  $('pat-input').setAttribute('aria-invalid', String(target === 'pat'));
  $('pat-problem').textContent = target === 'pat' ? patFieldHint(e) : '';
  $('app-name').setAttribute('aria-invalid', String(target === 'name'));
  $('app-name-problem').textContent = target === 'name' ? 'SmartThings refused this name.' : '';
  if (target === 'addresses') $('create-advanced').open = true;
  const focus = { pat: 'pat-input', name: 'app-name', addresses: 'create-api-url' }[target];
  if (focus) $(focus).focus();
}

/** "Create the app and sign in": one call; the token field is emptied once the core had it. */
async function createApp(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const pasted = $('pat-input').value;
  const problem = patProblem(pasted);
  if (problem) {
    dispatch({ type: 'error', error: { code: 'pat_empty', message: problem } });
    markCreateError({ code: 'pat_empty' });
    $('pat-input').setAttribute('aria-invalid', 'true');
    $('pat-input').focus();
    return;
  }
  markCreateError(null);
  const form = createForm({ pat: pasted, name: $('app-name').value, apiUrl: $('create-api-url').value, authUrl: $('create-auth-url').value });
  dispatch({ type: 'error', error: null });
  dispatch({ type: 'busy', busy: true });
  $('create-app').textContent = 'Creating the app…';
  let start = null;
  try {
    start = await api.createApp(form);
  } catch (e) {
    dispatch({ type: 'error', error: e });
    markCreateError(e);
  } finally {
    // The core had it: gone from the page, whatever the answer.
    $('pat-input').value = '';
    form.pat = '';
    $('create-app').textContent = 'Create the app and sign in';
  }
  if (!start) return;
  dispatch({ type: 'started', redirectUri: start.redirect_uri, connection: start.connection, path: 'create' });
  dispatch({ type: 'busy', busy: false });
  go('sign-in');
  await openSignIn();
}

/** The App settings step's panel, for the connection being set up. */
function showAppSettings() {
  dispatch({ type: 'check-app' });
  if (panelFor !== state.connection) {
    panelFor = state.connection;
    $('app-settings-panel').replaceChildren(
      appCheckPanel({
        connection: state.connection,
        help: patHelp,
        signInAgain: async () => {
          await api.signInAgain(state.connection);
          go('sign-in');
          await openSignIn();
        },
      }),
    );
  }
  const first = $('app-settings-panel').querySelector('input');
  if (first) first.focus();
}

async function renderPatHelp() {
  patHelp = await api.patHelp();
  $('pat-boxes').replaceWith(checklistElement(patHelp, 'pat-boxes'));
  $('token-page').replaceChildren(tokenPageLinks(patHelp, 'token-page', (message) => dispatch({ type: 'error', error: { code: 'browser', message } })));
  $('app-name').placeholder = patHelp.display_name || '';
}

function wire() {
  $('create-way').addEventListener('submit', createApp);
  // A new token answers the last refusal: its marks go.
  $('pat-input').addEventListener('input', () => {
    $('pat-problem').textContent = '';
    $('pat-input').setAttribute('aria-invalid', 'false');
    if (state.error) dispatch({ type: 'error', error: null });
  });
  $('check-app-settings').addEventListener('click', showAppSettings);
  $('back-app-settings').addEventListener('click', () => go('sign-in'));
  $('next-create').addEventListener('click', () => go('credentials'));
  $('back-credentials').addEventListener('click', () => go('create'));
  $('try-demo').addEventListener('click', async () => {
    dispatch({ type: 'busy', busy: true });
    try {
      const start = await api.startDemo();
      dispatch({ type: 'started', redirectUri: start && start.redirect_uri });
      dispatch({ type: 'demo' });
      await openSignIn();
    } catch (e) {
      dispatch({ type: 'error', error: e });
    }
  });
  for (const field of FIELDS) {
    const input = document.getElementById(field);
    input.value = state.form[field];
    input.addEventListener('input', () => {
      dispatch({ type: 'edit', field, value: input.value });
      checkSoon();
    });
  }
  $('credentials-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const problems = await api.checkSetup(state.form).catch(() => []);
    dispatch({ type: 'problems', problems });
    // Warnings stay under their fields; only errors keep the form from being saved.
    if (blocking(problems).length) {
      state = { ...state, touched: Object.fromEntries(FIELDS.map((f) => [f, true])) };
      if (problems.some((p) => p.field === 'api_url' || p.field === 'auth_url')) $('advanced').open = true;
      render();
      return;
    }
    dispatch({ type: 'busy', busy: true });
    try {
      const start = await api.startSetup(state.form);
      dispatch({ type: 'started', redirectUri: start && start.redirect_uri, connection: start && start.connection, path: 'cli' });
      dispatch({ type: 'busy', busy: false });
      go('sign-in');
      // SmartThings' page already refuses it (asked before any window opens): say so, and
      // offer to check the app rather than open a window that only shows the refusal.
      if (start && start.refused) dispatch({ type: 'error', error: start.refused });
    } catch (err) {
      dispatch({ type: 'error', error: err });
    }
  });
  // The other way in: pair with the computer that holds the sign-in. A problem the page
  // can see says so at once; the rest is the core's {code, message}.
  const inviteInput = $('invite-input');
  inviteInput.addEventListener('input', () => ($('invite-problem').textContent = inviteProblem(inviteInput.value)));
  $('connect-invite').addEventListener('click', async () => {
    const problem = inviteProblem(inviteInput.value) || (cleanInvite(inviteInput.value) ? '' : 'Paste the invite first.');
    $('invite-problem').textContent = problem;
    if (problem) return;
    $('connect-invite').disabled = true;
    $('invite-problem').textContent = 'Connecting…';
    try {
      const signedIn = await api.connectInvite(cleanInvite(inviteInput.value), $('computer-name').value.trim());
      inviteInput.value = '';
      $('invite-problem').textContent = '';
      dispatch({ type: 'signed-in', signedIn });
    } catch (e) {
      $('invite-problem').textContent = e.message;
    } finally {
      $('connect-invite').disabled = false;
    }
  });
  $('open-sign-in').addEventListener('click', openSignIn);
  $('use-browser').addEventListener('click', () => api.openSignInInBrowser().catch((e) => dispatch({ type: 'error', error: e })));
  $('finish-paste').addEventListener('click', async () => {
    const answer = cleanPaste($('paste-answer').value);
    if (!answer) return;
    try {
      dispatch({ type: 'signed-in', signedIn: await api.finishSignIn(answer) });
    } catch (e) {
      dispatch({ type: 'error', error: e });
    }
  });
  $('start-at-login').addEventListener('change', async (e) => {
    try {
      await api.setStartAtLogin(e.target.checked);
      $('start-at-login-result').textContent = e.target.checked ? 'ThingsTray will start when you log in.' : 'ThingsTray will not start at login.';
    } catch (err) {
      e.target.checked = !e.target.checked;
      $('start-at-login-result').textContent = err.message;
    }
  });
  $('open-devices').addEventListener('click', async () => {
    await api.openWindow('devices').catch(() => {});
    await api.closeWindow().catch(() => {});
  });
}

async function main() {
  wire();
  render();
  await listen('signed-in', (signedIn) => dispatch({ type: 'signed-in', signedIn }));
  await listen('sign-in-failed', (error) => dispatch({ type: 'error', error }));
  await renderPatHelp().catch((e) => dispatch({ type: 'error', error: e }));
  await renderAnswers().catch((e) => dispatch({ type: 'error', error: e }));
  const info = await api.appInfo().catch(() => null);
  if (info && info.startup_error) dispatch({ type: 'error', error: info.startup_error });
  if (location.hash === '#credentials') go('credentials');
  else $('pat-input').focus();
}

main();
