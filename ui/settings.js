// Settings: DOM glue only. Checks and wording are in lib/settings-view.js.
import { api, listen } from './ipc.js';
import { checkPort, checkConnectionName, serverStatusText, serverExample, secretText, rotateStep } from './lib/settings-view.js';
import { wireShare, renderShare } from './settings-share.js';
import { wireShortcut } from './settings-shortcut.js';
import { appCheckPanel } from './app-check.js';
import { hasAppCard } from './lib/app-view.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const fail = (e) => ($('error').textContent = e.message);

function button(text, testid, onclick, primary = false) {
  const b = document.createElement('button');
  b.textContent = text;
  b.dataset.testid = testid;
  if (primary) b.className = 'primary';
  b.addEventListener('click', onclick);
  return b;
}

// --- connections ---------------------------------------------------------------------

/** The connection being renamed: its form survives the re-renders "changed" causes. */
let renaming = null;

function renameForm(c, names) {
  const id = c.name;
  const form = document.createElement('form');
  form.className = 'field';
  const label = document.createElement('label');
  label.textContent = 'New name (letters, digits, - and _)';
  const input = document.createElement('input');
  input.type = 'text';
  input.value = c.name;
  input.dataset.testid = `rename-input-${id}`;
  label.htmlFor = input.id = `rename-${id}`;
  const problem = document.createElement('div');
  problem.className = 'problem';
  problem.dataset.testid = `rename-problem-${id}`;
  const others = names.filter((n) => n !== c.name);
  const check = () => {
    const p = checkConnectionName(input.value, c.name, others);
    problem.textContent = p;
    input.setAttribute('aria-invalid', String(Boolean(p)));
    return !p;
  };
  input.addEventListener('input', check);
  const save = button('Rename', `rename-save-${id}`, () => {}, true);
  save.type = 'submit';
  const cancel = button('Cancel', `rename-cancel-${id}`, () => {
    renaming = null;
    renderConnections().catch(fail);
  });
  cancel.type = 'button';
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!check()) return;
    save.disabled = true;
    try {
      await api.renameConnection(c.name, input.value.trim());
      renaming = null;
      await renderConnections();
      await renderServer();
    } catch (e) {
      problem.textContent = e.message;
      save.disabled = false;
    }
  });
  const actions = document.createElement('div');
  actions.className = 'actions';
  actions.append(cancel, save);
  form.append(label, input, problem, actions);
  queueMicrotask(() => input.focus());
  return form;
}

async function renderConnections() {
  const list = await api.connections();
  renderApps(list).catch(fail);
  const names = list.map((c) => c.name);
  $('connections').replaceChildren(
    ...list.map((c) => {
      const card = document.createElement('div');
      card.className = 'card';
      card.dataset.testid = `connection-${c.name}`;
      const head = document.createElement('div');
      head.className = 'row';
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.dataset.state = c.status.state;
      const title = document.createElement('strong');
      title.className = 'grow';
      title.textContent = c.title;
      head.append(dot, title);
      const name = document.createElement('div');
      name.className = 'muted';
      name.dataset.testid = `connection-name-${c.name}`;
      name.textContent = `Name: ${c.name} (for thingstray --connection and the token server)`;
      const line = document.createElement('div');
      line.className = 'muted';
      line.textContent = `${c.status_line} · client ${c.client_id} · ${c.redirect_uri}`;
      const detail = document.createElement('div');
      detail.textContent = c.status_detail || '';
      const actions = document.createElement('div');
      actions.className = 'actions';
      actions.append(
        button('Rename…', `rename-${c.name}`, () => {
          renaming = c.name;
          renderConnections().catch(fail);
        }),
        // Signing in again replaces only the tokens; name, favorites and settings stay.
        button('Sign in again', `sign-in-again-${c.name}`, async () => {
          try {
            await api.signInAgain(c.name);
            await api.openSignInWindow();
          } catch (e) {
            fail(e);
          }
        }, !c.has_token),
        button('Sign out', `sign-out-${c.name}`, async () => {
          try {
            await api.signOut(c.name);
            await renderConnections();
          } catch (e) {
            fail(e);
          }
        }),
      );
      card.append(head, name, line, detail, renaming === c.name ? renameForm(c, names) : actions);
      return card;
    }),
  );
}

// --- each connection's OAuth-In app --------------------------------------------------

/** pat_help's answer, read once. */
let patHelp = null;
/** The App cards by connection: kept across re-renders, so a pasted token and a result survive "changed". */
const appCards = new Map();

function appCard(c) {
  const card = document.createElement('section');
  card.className = 'card';
  card.dataset.testid = `app-${c.name}`;
  const head = document.createElement('h3');
  head.id = `app-title-${c.name}`;
  card.setAttribute('aria-labelledby', head.id);
  const panel = appCheckPanel({
    connection: c.name,
    help: patHelp,
    signInAgain: async () => {
      await api.signInAgain(c.name);
      await api.openSignInWindow();
    },
  });
  card.append(head, panel);
  return card;
}

async function renderApps(list) {
  if (!patHelp) patHelp = await api.patHelp().catch(() => null);
  const wanted = list.filter(hasAppCard);
  for (const name of [...appCards.keys()]) {
    if (!wanted.some((c) => c.name === name)) appCards.delete(name);
  }
  const cards = wanted.map((c) => {
    if (!appCards.has(c.name)) appCards.set(c.name, appCard(c));
    const card = appCards.get(c.name);
    card.querySelector('h3').textContent = wanted.length > 1 || c.title !== c.name ? `The app of ${c.title}` : 'The app of this connection';
    return card;
  });
  // Only a change in the set of cards touches the DOM: moving a card would take the focus
  // from its token field.
  const now = [...$('apps').children];
  if (now.length !== cards.length || now.some((e, i) => e !== cards[i])) $('apps').replaceChildren(...cards);
  $('apps-none').classList.toggle('hidden', wanted.length > 0 || list.length === 0);
}

// --- the token server ----------------------------------------------------------------

/** The secret is held here only while shown, and dropped on Hide or after a minute. */
let shown = '';
let hideTimer = null;
let rotateArmed = false;

function showSecret(secret) {
  shown = secret;
  $('token-server-secret').textContent = secretText(shown, Boolean(shown));
  $('token-server-reveal').textContent = shown ? 'Hide' : 'Show';
  clearTimeout(hideTimer);
  if (shown) hideTimer = setTimeout(() => showSecret(''), 60_000);
}

function paintServer(st) {
  $('token-server-enabled').checked = st.enabled;
  if (document.activeElement !== $('token-server-port')) $('token-server-port').value = st.port;
  $('token-server-status').textContent = serverStatusText(st);
  $('token-server-status').className = st.enabled && st.error && !st.running ? 'error' : '';
  $('token-server-example').textContent = serverExample(st.port);
}

async function renderServer() {
  paintServer(await api.tokenServer());
}

async function applyServer() {
  const { port, problem } = checkPort($('token-server-port').value);
  $('token-server-port-problem').textContent = problem || '';
  $('token-server-port').setAttribute('aria-invalid', String(Boolean(problem)));
  if (problem) return;
  const on = $('token-server-enabled').checked;
  $('token-server-message').textContent = on ? 'Starting…' : '';
  try {
    paintServer(await api.setTokenServer(on, port));
    $('token-server-message').textContent = '';
  } catch (e) {
    // A busy port: the core says which and what to do; the choice was not saved.
    $('token-server-port-problem').textContent = e.message;
    $('token-server-message').textContent = '';
    await renderServer();
  }
}

function wireServer() {
  $('token-server-secret').style.wordBreak = 'break-all';
  showSecret('');
  $('token-server-enabled').addEventListener('change', applyServer);
  $('token-server-port').addEventListener('change', applyServer);
  $('token-server-reveal').addEventListener('click', async () => {
    if (shown) return showSecret('');
    try {
      showSecret(await api.revealServerSecret());
    } catch (e) {
      fail(e);
    }
  });
  $('token-server-copy').addEventListener('click', async () => {
    try {
      await api.copyServerSecret();
      $('token-server-message').textContent = 'Secret copied.';
    } catch (e) {
      fail(e);
    }
  });
  $('token-server-rotate').addEventListener('click', async () => {
    if (!rotateArmed) {
      rotateArmed = true;
      $('token-server-rotate').textContent = rotateStep(true).text;
      return;
    }
    rotateArmed = false;
    $('token-server-rotate').textContent = rotateStep(false).text;
    try {
      paintServer(await api.rotateServerSecret());
      if (shown) showSecret(await api.revealServerSecret());
      $('token-server-message').textContent = 'New secret made; the old one no longer works.';
    } catch (e) {
      fail(e);
    }
  });
}

// --- quiet hours ---------------------------------------------------------------------

function paintQuiet(hours) {
  $('quiet-on').checked = Boolean(hours);
  if (hours) {
    $('quiet-start').value = hours.start;
    $('quiet-end').value = hours.end;
  }
}

/** Any change sends the whole choice; the core checks the times and has the last word. */
function wireQuiet() {
  const send = async () => {
    const on = $('quiet-on').checked;
    try {
      const s = await api.setQuietHours(on ? $('quiet-start').value : null, on ? $('quiet-end').value : null);
      paintQuiet(s.quiet_hours);
      $('quiet-problem').textContent = on && !s.quiet_hours ? 'Start and end are the same time: no quiet hours.' : '';
    } catch (err) {
      $('quiet-problem').textContent = err.message;
    }
  };
  for (const id of ['quiet-on', 'quiet-start', 'quiet-end']) $(id).addEventListener('change', send);
}

// --- the rest ------------------------------------------------------------------------

/** Sends a number field's value on change; the core's refusal shows under the field. */
function numberField(id, problemId, send) {
  $(id).addEventListener('change', async (e) => {
    try {
      await send(e.target.value);
      $(problemId).textContent = '';
    } catch (err) {
      $(problemId).textContent = err.message;
    }
  });
}

async function main() {
  wireServer();
  wireShare();
  wireQuiet();
  try {
    const [info, settings] = await Promise.all([api.appInfo(), api.settings()]);
    $('poll-interval').value = settings.poll_interval_s;
    $('tray-refresh').value = Math.round(settings.tray_refresh_s / 60);
    $('start-at-login').checked = settings.start_at_login;
    $('start-at-login').disabled = info.demo;
    $('panel-theme').value = settings.panel_theme;
    paintQuiet(settings.quiet_hours);
    wireShortcut(settings, info.platform);
    $('vault').textContent = info.vault ? `Secrets are kept in: ${info.vault}` : '';
    $('tray-note').textContent = info.tray_clicks
      ? 'Click the tray icon to open the device window; right-click for the menu.'
      : 'On Linux the tray reports no clicks on the icon: its menu is the whole tray, and "Open ThingsTray" opens the device window.';
    await Promise.all([renderConnections(), renderServer(), renderShare()]);
  } catch (e) {
    fail(e);
  }
  $('add-location').addEventListener('click', () => api.openWindow('wizard').catch(fail));
  numberField('poll-interval', 'poll-problem', (v) => api.setPollInterval(Number(v)));
  // Minutes here, seconds in the core. An emptied field is not a choice of "off": leave
  // the setting as it was.
  numberField('tray-refresh', 'tray-refresh-problem', (v) => (v.trim() === '' ? null : api.setTrayRefresh(Math.round(Number(v) * 60))));
  $('start-at-login').addEventListener('change', async (e) => {
    try {
      await api.setStartAtLogin(e.target.checked);
    } catch (err) {
      e.target.checked = !e.target.checked;
      fail(err);
    }
  });
  $('panel-theme').addEventListener('change', (e) => api.setPanelTheme(e.target.value).catch(fail));
  await listen('changed', () => {
    // Keep an open rename form as typed: re-render the list only when none is open.
    if (!renaming) renderConnections().catch(() => {});
    renderServer().catch(() => {});
    renderShare().catch(() => {});
  });
}

main();
