// The setup wizard: DOM glue only. Checks come from the core (check_setup); steps from lib/.
import { api, listen } from './ipc.js';
import { cleanInvite, inviteProblem } from './lib/share-view.js';
import { initial, reduce, visibleProblems, visibleWarnings, blocking, canContinue, doneText, cleanPaste, browserHint, STEPS, FIELDS } from './lib/wizard-view.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
let state = initial();
let checkTimer = null;

function dispatch(action) {
  state = reduce(state, action);
  render();
}

function render() {
  const index = STEPS.indexOf(state.step);
  document.querySelectorAll('.steps li').forEach((li) => {
    const i = STEPS.indexOf(li.dataset.step);
    li.classList.toggle('done', i < index);
    if (i === index) li.setAttribute('aria-current', 'step');
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
  $('credentials-error').textContent = state.step === 'credentials' ? err : '';
  $('sign-in-error').textContent = state.step === 'sign-in' ? err : '';
  $('demo-notice').classList.toggle('hidden', !state.demo);
  $('done-summary').textContent = doneText(state.signedIn);
  $('start-at-login').disabled = state.demo;
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
    dispatch({ type: 'error', error: e });
  }
}

function wire() {
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
      dispatch({ type: 'started', redirectUri: start && start.redirect_uri });
      dispatch({ type: 'busy', busy: false });
      go('sign-in');
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
  await renderAnswers().catch((e) => dispatch({ type: 'error', error: e }));
  const info = await api.appInfo().catch(() => null);
  if (info && info.startup_error) dispatch({ type: 'error', error: info.startup_error });
  if (location.hash === '#credentials') go('credentials');
}

main();
