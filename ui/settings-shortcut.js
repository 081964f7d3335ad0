// Settings -> Keyboard: the system-wide shortcut to the device window. DOM glue only:
// what a key press means is lib/shortcut-view.js's; the core checks and saves, and the
// system must take the combination first (a refusal shows under the field).
import { api } from './ipc.js';
import { recordKey, shortcutText } from './lib/shortcut-view.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

let mac = false;
let current = null;
let recording = false;

function paint() {
  $('shortcut-current').textContent = recording ? 'Press the keys… (Esc cancels)' : shortcutText(current, { mac });
  $('shortcut-current').title = recording || !current ? '' : current;
  $('shortcut-record').textContent = recording ? 'Cancel' : current ? 'Change…' : 'Record…';
  $('shortcut-record').setAttribute('aria-pressed', String(recording));
  $('shortcut-off').disabled = recording || !current;
}

function problem(text) {
  $('shortcut-problem').textContent = text || '';
}

function stop() {
  recording = false;
  paint();
}

async function save(accelerator) {
  try {
    current = (await api.setGlobalShortcut(accelerator)).global_shortcut ?? null;
    problem('');
  } catch (e) {
    // Refused by the core or the system: nothing changed.
    problem(e.message);
  }
  paint();
}

function onKey(ev) {
  if (!recording) return;
  // Every key goes to the recorder, none to the page (Tab, Enter, Escape included).
  ev.preventDefault();
  ev.stopPropagation();
  const r = recordKey(ev, { mac });
  if (r.do === 'wait') return;
  if (r.do === 'cancel') return stop();
  if (r.do === 'problem') return problem(r.message);
  stop();
  save(r.accelerator);
}

/** `settings`: the desktop settings (`global_shortcut`); `platform`: app_info's. */
export function wireShortcut(settings, platform) {
  mac = platform === 'macos';
  current = settings.global_shortcut ?? null;
  paint();
  document.addEventListener('keydown', onKey, true);
  $('shortcut-record').addEventListener('click', () => {
    recording = !recording;
    problem('');
    paint();
  });
  // Leaving the button (a click elsewhere, another window) ends the recording.
  $('shortcut-record').addEventListener('blur', () => recording && stop());
  $('shortcut-off').addEventListener('click', () => save(null));
}
