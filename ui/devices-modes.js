// The device window's location mode (issue 29): DOM glue for the header's mode buttons.
// What to show is decided in lib/modes-view.js; the change goes through ipc.js.
import { api } from './ipc.js';
import { modeButtons, shouldSet, withModes, afterChangeText } from './lib/modes-view.js';

/**
 * Wires the header's mode group (`modes`, `mode-buttons`) to the page: `$` finds by
 * test id, `el` makes elements, `toast` says things, `view` is the page's state (its
 * `list`, `connection`, `hasToken`). Returns the render function the page calls on each
 * render; the buttons are rebuilt only when what they show changes.
 */
export function modeGroup({ $, el, toast, view }) {
  let shown = null;
  // This window is changing the mode (the core's `setting` says the tray is).
  let busy = false;

  function render() {
    const list = view.list && view.list.connection === view.connection ? view.list : null;
    const v = modeButtons(list && list.modes, { hasToken: view.hasToken, busy });
    $('modes').classList.toggle('hidden', v.hidden);
    const key = JSON.stringify([view.connection, v]);
    if (key === shown) return;
    shown = key;
    const group = $('mode-buttons');
    group.title = v.label;
    group.setAttribute('aria-busy', String(v.busy));
    group.replaceChildren(
      ...v.buttons.map((b) =>
        el('button', { type: 'button', 'data-testid': b.testid, 'aria-pressed': String(b.current), disabled: b.disabled, title: b.title, text: b.label, onclick: () => set(b.id) }),
      ),
    );
  }

  async function set(id) {
    const conn = view.connection;
    if (!view.list || !shouldSet(view.list.modes, id, { busy })) return;
    busy = true;
    render();
    try {
      const after = await api.setMode(conn, id);
      if (view.list && view.list.connection === conn) view.list = withModes(view.list, after);
      const said = afterChangeText(id, after);
      toast(said.text, said.kind);
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      busy = false;
      render();
      // Back to the button pressed (it was disabled meanwhile), for the keyboard path.
      const back = $(`mode-${id}`);
      if (back) back.focus();
    }
  }

  return render;
}
