// The ONE module that talks to the Rust side. Every other module gets data from here,
// so tests can replace it and nothing else knows about Tauri.
//
// Command names: the one list is COMMANDS in src-tauri/build.rs; tests check that
// `api` calls exactly those (src-tauri/tests/ipc.rs, tests/ipc.test.js).
//
// Errors arrive as {code, message} (the core's Error); anything else is normalised to
// that shape.

function internals() {
  const t = globalThis.window && window.__TAURI_INTERNALS__;
  if (!t) throw { code: 'no_ipc', message: 'This page only works inside ThingsTray.' };
  return t;
}

export function toError(e) {
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.message === 'string') return e;
  return { code: 'ipc', message: String(e && e.message ? e.message : e) };
}

async function call(cmd, args = {}) {
  try {
    return await internals().invoke(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

/** Calls `handler(payload)` for each `event` the app emits. */
export async function listen(event, handler) {
  const t = internals();
  return call('plugin:event|listen', {
    event,
    target: { kind: 'Any' },
    handler: t.transformCallback((e) => handler(e.payload)),
  });
}

export const api = {
  appInfo: () => call('app_info'),
  setupAnswers: () => call('setup_answers'),
  checkSetup: (form) => call('check_setup', { form }),
  startSetup: (form) => call('start_setup', { form }),
  startDemo: () => call('start_demo'),
  signInAgain: (connection) => call('sign_in_again', { connection }),
  openSignInWindow: () => call('open_sign_in_window'),
  openSignInInBrowser: () => call('open_sign_in_in_browser'),
  finishSignIn: (answer) => call('finish_sign_in', { answer }),
  cancelSignIn: () => call('cancel_sign_in'),
  connections: () => call('connections'),
  devices: (connection) => call('devices', { connection }),
  cachedDevices: (connection) => call('cached_devices', { connection }),
  switchDevice: (connection, device, on) => call('switch_device', { connection, device, on }),
  setLevel: (connection, device, level) => call('set_level', { connection, device, level }),
  setColorTemperature: (connection, device, kelvin) => call('set_color_temperature', { connection, device, kelvin }),
  /** Any control (the row's `controls`): the core checks limits and confirmation. */
  deviceCommand: (connection, device, capability, command, args = [], confirmed = false) =>
    call('device_command', { connection, device, capability, command, args, confirmed }),
  runScene: (connection, scene) => call('run_scene', { connection, scene }),
  /** `mode`: a mode id; answers the modes with the current one read back. */
  setMode: (connection, mode) => call('set_mode', { connection, mode }),
  copyToken: (connection) => call('copy_token', { connection }),
  signOut: (connection) => call('sign_out', { connection }),
  settings: () => call('settings'),
  setFavorite: (connection, device, on) => call('set_favorite', { connection, device, on }),
  setHidden: (connection, device, on) => call('set_hidden', { connection, device, on }),
  setAlerts: (connection, device, on) => call('set_alerts', { connection, device, on }),
  setQuietHours: (start, end) => call('set_quiet_hours', { start, end }),
  setPollInterval: (seconds) => call('set_poll_interval', { seconds }),
  setTrayRefresh: (seconds) => call('set_tray_refresh', { seconds }),
  setStartAtLogin: (on) => call('set_start_at_login', { on }),
  setPanelTheme: (theme) => call('set_panel_theme', { theme }),
  /** The system-wide shortcut to the device window ("CommandOrControl+Shift+T"); null turns it off. */
  setGlobalShortcut: (shortcut) => call('set_global_shortcut', { shortcut: shortcut || null }),
  openWindow: (which) => call('open_window', { which }),
  closeWindow: () => call('close_window'),
  /** The clipboard plugin (wizard and settings): copy a value the user must paste elsewhere. */
  copyText: (text) => call('plugin:clipboard-manager|write_text', { text }),
  // Settings: rename, and the token server. The secret is returned only by
  // revealServerSecret (an explicit "Show"); copyServerSecret copies it in Rust.
  renameConnection: (connection, name) => call('rename_connection', { connection, name }),
  tokenServer: () => call('token_server'),
  setTokenServer: (on, port) => call('set_token_server', { on, port }),
  revealServerSecret: () => call('reveal_server_secret'),
  copyServerSecret: () => call('copy_server_secret'),
  rotateServerSecret: () => call('rotate_server_secret'),
  // Settings -> Other computers. shareInvite returns a one-time invite line, shown and
  // copied in the window that asked; nothing keeps it.
  shareStatus: () => call('share_status'),
  setSharing: (on, address, port) => call('set_sharing', { on, address, port }),
  shareInvite: (name) => call('share_invite', { name: name || null }),
  pairedComputers: () => call('paired_computers'),
  revokeComputer: (name) => call('revoke_computer', { name }),
  // Moving the sign-in: offered on the owner, taken on the paired computer.
  offerHandOver: (name) => call('offer_hand_over', { name }),
  takeSignInOver: () => call('take_sign_in_over'),
  // The wizard's other way in: pair with the computer that holds the sign-in.
  connectInvite: (invite, computerName) => call('connect_invite', { invite, computerName: computerName || null }),
  // The OAuth-In app itself, with a personal access token the user pastes (issue 24). The
  // token goes to the core in the call's arguments only: never logged, stored or returned.
  patHelp: () => call('pat_help'),
  /** Opens the token page; the address is the core's, so no argument. */
  openPatPage: () => call('open_pat_page'),
  /** `form`: {pat, display_name, api_url, auth_url}; answers a SignInStart, like startSetup. */
  createApp: (form) => call('create_app', { form }),
  /** `appId`: only when the connection cannot know its app yet (app_unknown); else null. */
  checkApp: (connection, pat, appId = null) => call('check_app', { connection, pat, appId: appId || null }),
  repairApp: (connection, pat, newSecret = false, appId = null) =>
    call('repair_app', { connection, pat, newSecret: Boolean(newSecret), appId: appId || null }),
};
