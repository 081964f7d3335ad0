// Other computers: the wording and checks of the settings section (sharing this
// computer's connection) and of the wizard's "paste its invite". Pure functions, tested
// with node --test. The core checks everything again and has the last word; an invite
// line is a one-time secret and nothing here keeps it.

import { humanDuration } from './format.js';

export const INVITE_PREFIX = 'thingstray://pair?';

/** The addresses the listener may bind, in the order the settings offer them. */
export const SHARE_ADDRESSES = [
  { value: '0.0.0.0', text: 'Every network (other computers reach this one)' },
  { value: '127.0.0.1', text: 'This computer only (127.0.0.1, for testing)' },
];

/**
 * The invite in what was pasted: the line starting with thingstray://pair?, so pasting
 * the whole output of `thingstray share invite` works too. Otherwise the text trimmed.
 */
export function cleanInvite(text) {
  const lines = String(text ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith(INVITE_PREFIX)) ?? lines.join(' ');
}

/** Why the pasted text cannot be an invite ('' when it may be one: the core decides). */
export function inviteProblem(text) {
  const line = cleanInvite(text);
  if (!line) return '';
  if (!line.startsWith(INVITE_PREFIX)) return `An invite starts with ${INVITE_PREFIX} — copy the whole line the other computer shows.`;
  if (/\s/.test(line)) return 'An invite is one line without spaces — copy it again.';
  return '';
}

/** "just now", "5 min ago", "3 h ago", "never". */
export function lastSeenText(seenAt, nowSeconds) {
  if (!seenAt) return 'never';
  const ago = nowSeconds - seenAt;
  if (ago < 90) return 'just now';
  return `${humanDuration(ago)} ago`;
}

/**
 * The paired computers to list: active ones by name, then revoked ones. A computer
 * paired again keeps its old, revoked entry on the owner: only its newest is shown.
 */
export function pairedRows(list, nowSeconds) {
  const newest = new Map();
  for (const c of list || []) {
    const seen = newest.get(c.name);
    const better = !seen || (seen.revoked_at && !c.revoked_at) || (Boolean(seen.revoked_at) === Boolean(c.revoked_at) && c.paired_at >= seen.paired_at);
    if (better) newest.set(c.name, c);
  }
  return [...newest.values()]
    .sort((a, b) => Boolean(a.revoked_at) - Boolean(b.revoked_at) || a.name.localeCompare(b.name))
    .map((c) => ({
      name: c.name,
      revoked: Boolean(c.revoked_at),
      seen: c.revoked_at ? `revoked ${lastSeenText(c.revoked_at, nowSeconds)}` : `last seen ${lastSeenText(c.last_seen_at, nowSeconds)}`,
      since: `paired ${lastSeenText(c.paired_at, nowSeconds)}`,
    }));
}

/** One line about the share listener. */
export function shareStatusText(st) {
  if (st.running) {
    const what = st.sharing ? `shares ${st.sharing}` : 'nothing to share yet';
    return `Sharing on ${st.at} as ${st.owner_name} · ${what} · fingerprint ${st.fingerprint}`;
  }
  if (st.enabled && st.error) return `Not running: ${st.error.message}`;
  return 'Off';
}

/** The revoke button asks twice: the computer loses access at its next request. */
export function revokeStep(armed, name) {
  return armed ? `Click again to revoke ${name}` : 'Revoke…';
}

/**
 * What a revoke did, truthfully: new tokens stop now; the one the computer may hold is the
 * owner's own and lives until it expires. Only a new client secret ends it sooner.
 */
export function revokedText(name) {
  return `${name} was revoked: its next request for a token is refused. The access token it may already hold is this computer's own and works until it expires (at most 24 h); to end it at once, issue a new client secret under App, then sign in again.`;
}

/** The hand-over button asks twice too: the sign-in itself moves to that computer. */
export function handOverStep(armed, name) {
  return armed ? `Click again to offer the sign-in to ${name}` : 'Hand over…';
}

/** What to tell the owner once a hand-over is offered. */
export function handOverOffered(name) {
  return `Offered to ${name} for 10 minutes. On ${name}: Settings -> Other computers -> Take the sign-in over (or thingstray share take-over). This computer then gets its tokens from ${name}.`;
}

/** On a paired computer: where its tokens come from, and what it may do about it. */
export function pairedText(owner) {
  return owner ? `This computer gets its tokens from ${owner}, which holds the SmartThings sign-in.` : '';
}

/** What to say beside a fresh invite. */
export const INVITE_NOTE = 'Paste it into ThingsTray on the other computer (first window: "already connected on another computer"), or run thingstray connect - there and paste it. It works once, within 10 minutes.';
