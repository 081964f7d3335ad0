// Settings -> Other computers: DOM glue only. Wording and checks are in lib/share-view.js.
// A fresh invite is a one-time secret: it is shown here (the window that asked), copied on
// request, and dropped from the page when it expires.
import { api } from './ipc.js';
import { checkPort } from './lib/settings-view.js';
import { pairedRows, shareStatusText, revokeStep, revokedText, handOverStep, handOverOffered, pairedText, SHARE_ADDRESSES, INVITE_NOTE } from './lib/share-view.js';
import { slug } from './lib/format.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const say = (text) => ($('share-message').textContent = text);
const INVITE_LIFETIME_MS = 10 * 60 * 1000;

/** The computer whose Revoke was clicked once: the next click revokes. */
let armed = null;
/** The computer whose Hand over was clicked once: the next click offers the sign-in. */
let handArmed = null;
let inviteTimer = null;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function paint(st) {
  $('share-enabled').checked = st.enabled;
  if (document.activeElement !== $('share-port')) $('share-port').value = st.port;
  if (document.activeElement !== $('share-address')) $('share-address').value = st.address;
  $('share-status').textContent = shareStatusText(st);
  $('share-status').className = st.enabled && st.error && !st.running ? 'error' : '';
  $('make-invite').disabled = !st.running;
  $('paired-with').textContent = pairedText(st.paired_with);
  $('paired-box').classList.toggle('hidden', !st.paired_with);
  if (!st.running) showInvite('');
}

function showInvite(line) {
  clearTimeout(inviteTimer);
  $('invite-line').textContent = line;
  $('invite-note').textContent = line ? INVITE_NOTE : '';
  $('invite-box').classList.toggle('hidden', !line);
  if (line) inviteTimer = setTimeout(() => showInvite(''), INVITE_LIFETIME_MS);
}

async function renderPaired() {
  const rows = pairedRows(await api.pairedComputers(), Date.now() / 1000);
  if (!rows.length) {
    $('paired-list').replaceChildren(el('p', { class: 'muted', text: 'No computer is paired with this one yet.' }));
    return;
  }
  $('paired-list').replaceChildren(
    ...rows.map((r) => {
      const id = slug(r.name);
      const line = el('div', { class: 'row', 'data-testid': `paired-${id}` },
        el('strong', { text: r.name }),
        el('span', { class: 'muted grow', 'data-testid': `paired-seen-${id}`, text: `${r.since} · ${r.seen}` }));
      if (!r.revoked) {
        const b = el('button', { 'data-testid': `revoke-${id}`, text: revokeStep(armed === r.name, r.name) });
        b.addEventListener('click', () => revoke(r.name).catch((e) => say(e.message)));
        const h = el('button', { 'data-testid': `hand-over-${id}`, text: handOverStep(handArmed === r.name, r.name) });
        h.addEventListener('click', () => handOver(r.name).catch((e) => say(e.message)));
        line.append(h, b);
      }
      return line;
    }),
  );
}

async function revoke(name) {
  if (armed !== name) {
    armed = name;
    return renderPaired();
  }
  armed = null;
  await api.revokeComputer(name);
  say(revokedText(name));
  await renderPaired();
}

async function handOver(name) {
  if (handArmed !== name) {
    handArmed = name;
    return renderPaired();
  }
  handArmed = null;
  await api.offerHandOver(name);
  say(handOverOffered(name));
  await renderPaired();
}

export async function renderShare() {
  paint(await api.shareStatus());
  await renderPaired();
}

async function apply() {
  const { port, problem } = checkPort($('share-port').value);
  $('share-problem').textContent = problem || '';
  if (problem) return;
  const on = $('share-enabled').checked;
  say(on ? 'Starting…' : '');
  try {
    paint(await api.setSharing(on, $('share-address').value, port));
    $('share-problem').textContent = '';
    say('');
  } catch (e) {
    // A busy port or a connection that cannot be shared: the core says what to do.
    $('share-problem').textContent = e.message;
    say('');
    await renderShare();
  }
}

export function wireShare() {
  $('share-address').replaceChildren(...SHARE_ADDRESSES.map((a) => el('option', { value: a.value, text: a.text })));
  $('invite-line').style.wordBreak = 'break-all';
  for (const id of ['share-enabled', 'share-address', 'share-port']) $(id).addEventListener('change', apply);
  $('make-invite').addEventListener('click', async () => {
    try {
      showInvite(await api.shareInvite($('invite-name').value.trim()));
      say('');
    } catch (e) {
      say(e.message);
    }
  });
  // Pairings (through the listener) and `thingstray share revoke` change the list without
  // a "changed" event, and "last seen" moves on: read it again while the window is open.
  setInterval(() => renderPaired().catch(() => {}), 5000);
  $('take-over').addEventListener('click', async () => {
    say('Taking the sign-in over…');
    try {
      paint(await api.takeSignInOver());
      say('The sign-in is on this computer now, and shared from here.');
    } catch (e) {
      say(e.message);
    }
  });
  $('copy-invite').addEventListener('click', async () => {
    try {
      await api.copyText($('invite-line').textContent);
      say('Invite copied.');
    } catch (e) {
      say('Select the invite and copy it.');
    }
  });
}
