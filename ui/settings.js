// Settings: DOM glue only.
import { api, listen } from './ipc.js';

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

async function renderConnections() {
  const list = await api.connections();
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
      const line = document.createElement('div');
      line.className = 'muted';
      line.textContent = `${c.status_line} · client ${c.client_id} · ${c.redirect_uri}`;
      const detail = document.createElement('div');
      detail.textContent = c.status_detail || '';
      const actions = document.createElement('div');
      actions.className = 'actions';
      actions.append(
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
      card.append(head, line, detail, actions);
      return card;
    }),
  );
}

async function main() {
  try {
    const [info, settings] = await Promise.all([api.appInfo(), api.settings()]);
    $('poll-interval').value = settings.poll_interval_s;
    $('start-at-login').checked = settings.start_at_login;
    $('start-at-login').disabled = info.demo;
    $('panel-theme').value = settings.panel_theme;
    $('vault').textContent = info.vault ? `Secrets are kept in: ${info.vault}` : '';
    $('tray-note').textContent = info.tray_clicks
      ? 'Click the tray icon to open the device window; right-click for the menu.'
      : 'On Linux the tray reports no clicks on the icon: its menu is the whole tray, and "Open ThingsTray" opens the device window.';
    await renderConnections();
  } catch (e) {
    fail(e);
  }
  $('add-location').addEventListener('click', () => api.openWindow('wizard').catch(fail));
  $('poll-interval').addEventListener('change', async (e) => {
    try {
      await api.setPollInterval(Number(e.target.value));
      $('poll-problem').textContent = '';
    } catch (err) {
      $('poll-problem').textContent = err.message;
    }
  });
  $('start-at-login').addEventListener('change', async (e) => {
    try {
      await api.setStartAtLogin(e.target.checked);
    } catch (err) {
      e.target.checked = !e.target.checked;
      fail(err);
    }
  });
  $('panel-theme').addEventListener('change', (e) => api.setPanelTheme(e.target.value).catch(fail));
  await listen('changed', () => renderConnections().catch(() => {}));
}

main();
