// The OAuth-In app on screen, shared by the wizard and Settings: the token page's
// checklist, and the Check / Repair / New secret panel of one connection. DOM glue only:
// what to show is decided in lib/app-view.js, the calls go through ipc.js.
//
// The personal access token lives in its password field only. It is read when a button
// is pressed and the field is emptied after a repair or a new secret, when SmartThings
// refused the token, and 5 minutes after it was pasted; a Check keeps it so that Repair
// can follow without a second paste.
import { api } from './ipc.js';
import {
  checklist,
  pageText,
  patProblem,
  patFieldHint,
  errorTarget,
  compareRows,
  differenceLines,
  codeParts,
  checkSummary,
  canRepair,
  repairLines,
  clearsToken,
  needsAppId,
  NEW_SECRET_WARNING,
} from './lib/app-view.js';

/** How long a pasted token may sit in a field unused. */
const FORGET_AFTER_MS = 5 * 60_000;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'testid') e.dataset.testid = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('aria-') || k === 'role' || k === 'for') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

/** Text with its `code` parts as <code>. */
function withCode(parts) {
  return parts.map((p) => (p.code ? el('code', { textContent: p.text }) : document.createTextNode(p.text)));
}

/** Puts a core message in `target`, its `quoted` parts as code. */
export function showMessage(target, text) {
  target.replaceChildren(...withCode(codeParts(text)));
}

/** The boxes to tick on the token page: each box's words, and its scope in small code. */
export function checklistElement(help, testid) {
  return el(
    'ul',
    { class: 'checklist', testid, 'aria-label': 'Boxes to tick on the token page' },
    ...checklist(help).map((b) =>
      el('li', { title: b.why ? `Needed to ${b.why}` : '' }, el('span', { textContent: b.label }), ' ', el('code', { class: 'scope', textContent: b.scope })),
    ),
  );
}

/**
 * "Open the token page" and the address with a Copy button (for a computer without a
 * default browser). `say(text)` reports a failure.
 */
export function tokenPageLinks(help, testid, say) {
  const open = el('button', { type: 'button', testid: `${testid}-open`, textContent: 'Open the token page' });
  open.addEventListener('click', () => api.openPatPage().catch((e) => say(`${e.message} Copy the address instead.`)));
  const address = el('code', { testid: `${testid}-address`, textContent: pageText(help) });
  const copy = el('button', { type: 'button', testid: `${testid}-copy`, textContent: 'Copy', 'aria-label': `Copy the address ${pageText(help)}` });
  copy.addEventListener('click', async () => {
    try {
      await api.copyText((help && help.page) || `https://${pageText(help)}`);
      copy.textContent = 'Copied';
      setTimeout(() => (copy.textContent = 'Copy'), 1500);
    } catch {
      copy.textContent = 'Select and copy';
    }
  });
  return el('div', { class: 'row token-page' }, open, address, copy);
}

/** Empties a token field, and does so by itself `FORGET_AFTER_MS` after the last paste. */
export function forgetfulField(input) {
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => (input.value = ''), FORGET_AFTER_MS);
  });
  return () => {
    clearTimeout(timer);
    input.value = '';
  };
}

/**
 * The Check / Repair / New secret panel for `connection`. `help`: pat_help's answer.
 * `signInAgain()`: what "Sign in again" does (the window's own way). Test ids end in
 * `-<connection>`.
 */
export function appCheckPanel({ connection, help, signInAgain }) {
  const id = (part) => `app-${part}-${connection}`;
  const say = (text, error = false) => {
    showMessage(message, text);
    message.className = error ? 'error' : 'muted';
  };

  const input = el('input', { type: 'password', id: id('pat'), testid: id('pat'), class: 'grow', autocomplete: 'off', spellcheck: false });
  const forget = forgetfulField(input);
  const problem = el('div', { class: 'problem', testid: id('pat-problem'), 'aria-live': 'polite' });
  const check = el('button', { type: 'button', testid: id('check'), textContent: 'Check' });
  const field = el(
    'div',
    { class: 'field' },
    el('label', { for: id('pat'), textContent: 'Personal access token' }),
    el('div', { class: 'row' }, input, check),
    el('div', { class: 'muted small', textContent: 'Used for these calls only and never kept: the field empties after a repair, or 5 minutes after you paste.' }),
    problem,
  );

  // Asked for only when the connection cannot know its app (app_unknown).
  const appId = el('input', { type: 'text', id: id('id'), testid: id('id'), autocomplete: 'off', spellcheck: false });
  const appIdField = el(
    'div',
    { class: 'field hidden', testid: id('id-field') },
    el('label', { for: id('id'), textContent: "The app's id" }),
    appId,
    el('div', { class: 'muted small' }, 'The appId column of ', el('code', { textContent: 'smartthings apps' }), '. After one sign-in ThingsTray finds the app by itself.'),
  );

  const summary = el('p', { testid: id('summary'), tabIndex: -1 });
  const table = el('table', { class: 'compare', testid: id('table'), 'aria-label': "ThingsTray's side beside the app's" });
  const differences = el('ul', { class: 'differences', testid: id('differences'), 'aria-label': 'Differences' });
  const repair = el('button', { type: 'button', class: 'primary', testid: id('repair'), textContent: 'Repair' });
  const newSecret = el('button', { type: 'button', testid: id('new-secret'), textContent: 'Issue a new client secret…' });
  const confirmYes = el('button', { type: 'button', class: 'danger', testid: id('new-secret-confirm'), textContent: 'Issue a new client secret' });
  const confirmNo = el('button', { type: 'button', testid: id('new-secret-cancel'), textContent: 'Cancel' });
  const confirm = el(
    'div',
    { class: 'notice hidden', testid: id('confirm'), role: 'group', 'aria-label': 'Confirm a new client secret' },
    el('p', { textContent: NEW_SECRET_WARNING }),
    el('div', { class: 'actions' }, confirmNo, confirmYes),
  );
  const result = el('div', { class: 'hidden', testid: id('result') }, summary, table, differences, el('div', { class: 'actions' }, newSecret, repair), confirm);

  const message = el('p', { class: 'muted', testid: id('message'), 'aria-live': 'polite' });
  const done = el('ul', { class: 'done-lines', testid: id('done') });
  const again = el('button', { type: 'button', class: 'primary', testid: id('sign-in'), textContent: 'Sign in again' });
  const after = el('div', { class: 'actions hidden', testid: id('after') }, again);

  function paintCheck(c) {
    result.classList.remove('hidden');
    summary.textContent = checkSummary(c);
    summary.className = c.matches ? 'ok-line' : 'warn-line';
    const head = el('tr', {}, el('th', { scope: 'col', textContent: 'ThingsTray sends' }), el('th', { scope: 'col', textContent: 'The app has' }));
    const mark = (symbol, label) => el('span', { class: 'mark', textContent: symbol, title: label, 'aria-label': label });
    const none = () => el('li', { class: 'muted', textContent: 'none' });
    const groups = compareRows(c).map((r) => {
      const ours = el(
        'ul',
        { class: 'values' },
        ...r.ours.map((it) => el('li', { class: it.ok ? '' : 'missing' }, it.ok ? mark('✓', 'the app has it') : mark('✗', 'the app lacks it'), el('code', { textContent: it.text }))),
        r.ours.length ? null : none(),
      );
      const theirs = el(
        'ul',
        { class: 'values' },
        ...r.theirs.map((it) => el('li', { class: it.used ? '' : 'unused' }, it.used ? mark('✓', 'ThingsTray uses it') : mark('·', 'not one ThingsTray uses'), el('code', { textContent: it.text }))),
        r.theirs.length ? null : none(),
      );
      return el(
        'tbody',
        { testid: id(`row-${r.key}`) },
        el('tr', { class: 'section' }, el('th', { scope: 'colgroup', colSpan: 2, textContent: r.label })),
        el('tr', {}, el('td', {}, ours), el('td', {}, theirs)),
      );
    });
    table.replaceChildren(el('thead', {}, head), ...groups);
    differences.replaceChildren(...differenceLines(c).map((d) => el('li', { class: 'difference' }, ...withCode(d.parts))));
    differences.classList.toggle('hidden', c.matches);
    repair.disabled = !canRepair(c);
    repair.textContent = canRepair(c) ? 'Repair' : 'Nothing to repair';
  }

  /** One call with the token: busy state, the token's fate, errors by the token field. */
  async function withToken(kind, button, call) {
    const pasted = input.value;
    const p = patProblem(pasted);
    problem.textContent = p;
    input.setAttribute('aria-invalid', String(Boolean(p)));
    if (p) {
      input.focus();
      return;
    }
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    say(kind === 'check' ? 'Asking SmartThings…' : 'Changing the app…');
    try {
      const answer = await call(pasted);
      if (clearsToken({ kind })) forget();
      say('');
      return answer;
    } catch (e) {
      if (clearsToken({ kind, error: e })) forget();
      say(e.message, true);
      if (errorTarget(e) === 'pat') {
        problem.textContent = patFieldHint(e);
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } else if (needsAppId(e)) {
        appIdField.classList.remove('hidden');
        appId.focus();
      }
      return undefined;
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  input.addEventListener('input', () => {
    problem.textContent = '';
    input.setAttribute('aria-invalid', 'false');
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      check.click();
    }
  });
  check.addEventListener('click', async () => {
    done.replaceChildren();
    after.classList.add('hidden');
    const c = await withToken('check', check, (pat) => api.checkApp(connection, pat, appId.value.trim()));
    if (!c) return;
    appIdField.classList.add('hidden');
    paintCheck(c);
    (canRepair(c) ? repair : summary).focus();
  });

  function paintRepaired(r) {
    paintCheck(r.check);
    done.replaceChildren(...repairLines(r).map((line) => el('li', {}, ...withCode(codeParts(line)))));
    const changed = r.new_secret || (r.changed && r.changed.length);
    after.classList.toggle('hidden', !changed);
    if (changed) again.focus();
  }

  repair.addEventListener('click', async () => {
    const r = await withToken('repair', repair, (pat) => api.repairApp(connection, pat, false, appId.value.trim()));
    if (r) paintRepaired(r);
  });
  newSecret.addEventListener('click', () => {
    confirm.classList.remove('hidden');
    confirmNo.focus();
  });
  confirmNo.addEventListener('click', () => {
    confirm.classList.add('hidden');
    newSecret.focus();
  });
  confirmYes.addEventListener('click', async () => {
    confirm.classList.add('hidden');
    const r = await withToken('new-secret', newSecret, (pat) => api.repairApp(connection, pat, true, appId.value.trim()));
    if (r) paintRepaired(r);
  });
  again.addEventListener('click', async () => {
    again.disabled = true;
    try {
      await signInAgain();
    } catch (e) {
      say(e.message, true);
    } finally {
      again.disabled = false;
    }
  });

  const intro = el(
    'p',
    { class: 'muted' },
    'Paste a personal access token with these boxes ticked: ThingsTray compares the app SmartThings holds with what this connection signs in with, and can repair it.',
  );
  return el(
    'div',
    { class: 'app-check', testid: id('panel') },
    intro,
    checklistElement(help, id('boxes')),
    tokenPageLinks(help, id('token-page'), (t) => say(t, true)),
    field,
    appIdField,
    result,
    message,
    done,
    after,
  );
}
