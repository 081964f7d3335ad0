import { test } from 'node:test';
import assert from 'node:assert/strict';

import { cleanInvite, inviteProblem, lastSeenText, pairedRows, shareStatusText, revokeStep, revokedText, handOverStep, handOverOffered, pairedText, SHARE_ADDRESSES } from '../lib/share-view.js';

const LINE = 'thingstray://pair?at=192.168.1.5%3A8766&fp=ab12&code=K7QX-2M9P&owner=laptop';

test('an invite is found in what was pasted, and anything else says what to copy', () => {
  assert.equal(cleanInvite(`  ${LINE}\n`), LINE);
  const output = `On the other computer, within 10 minutes, run:\n  thingstray connect '<the invite below>'\n${LINE}\n`;
  assert.equal(cleanInvite(output), LINE, 'the whole output of share invite');
  assert.equal(inviteProblem(output), '');
  assert.equal(inviteProblem(''), '', 'nothing typed yet is no problem');
  assert.match(inviteProblem('https://thingstray.invalid/callback?code=x'), /starts with thingstray:\/\/pair\?/);
  assert.match(inviteProblem('K7QX-2M9P'), /starts with/);
  assert.match(inviteProblem(`${LINE.slice(0, 30)} ${LINE.slice(30)}`), /one line without spaces/);
});

test('last seen reads naturally', () => {
  assert.equal(lastSeenText(null, 1000), 'never');
  assert.equal(lastSeenText(990, 1000), 'just now');
  assert.equal(lastSeenText(1000 - 5 * 60, 1000), '5 min ago');
  assert.equal(lastSeenText(100_000 - 3 * 3600, 100_000), '3 h ago');
  assert.equal(lastSeenText(1_000_000 - 3 * 86400, 1_000_000), '3 d ago');
});

test('paired computers: active first by name, revoked after, one row per name', () => {
  const now = 100_000;
  const rows = pairedRows(
    [
      { name: 'laptop', paired_at: now - 7200, last_seen_at: now - 600, revoked_at: now - 60 },
      { name: 'server', paired_at: now - 7200, last_seen_at: now - 30, revoked_at: null },
      { name: 'laptop', paired_at: now - 100, last_seen_at: now - 100, revoked_at: null },
      { name: 'attic', paired_at: now - 86400 * 3, last_seen_at: null, revoked_at: now - 3600 * 5 },
    ],
    now,
  );
  assert.deepEqual(rows.map((r) => [r.name, r.revoked, r.seen]), [
    ['laptop', false, 'last seen 100 s ago'],
    ['server', false, 'last seen just now'],
    ['attic', true, 'revoked 5 h ago'],
  ]);
  assert.equal(rows[2].since, 'paired 3 d ago');
  assert.deepEqual(pairedRows([], now), []);
  assert.deepEqual(pairedRows(undefined, now), []);
});

test('the share line says where, as whom, what, and the fingerprint to compare; or why not', () => {
  const st = { enabled: true, running: true, at: '192.168.1.5:8766', owner_name: 'laptop', sharing: 'home', fingerprint: 'ab:12:cd', error: null };
  assert.equal(shareStatusText(st), 'Sharing on 192.168.1.5:8766 as laptop · shares home · fingerprint ab:12:cd');
  assert.equal(shareStatusText({ ...st, running: false, error: { code: 'port_in_use', message: 'port 8766 is already in use' } }), 'Not running: port 8766 is already in use');
  assert.equal(shareStatusText({ ...st, running: false, enabled: false }), 'Off');
  assert.equal(revokeStep(false, 'laptop'), 'Revoke…');
  assert.equal(revokeStep(true, 'laptop'), 'Click again to revoke laptop');
  assert.deepEqual(SHARE_ADDRESSES.map((a) => a.value), ['0.0.0.0', '127.0.0.1']);
});

test('handing the sign-in over asks twice and says what to do on the other computer', () => {
  assert.equal(handOverStep(false, 'server'), 'Hand over…');
  assert.equal(handOverStep(true, 'server'), 'Click again to offer the sign-in to server');
  assert.match(handOverOffered('server'), /On server: Settings -> Other computers -> Take the sign-in over/);
  assert.match(handOverOffered('server'), /10 minutes/);
  assert.equal(pairedText(null), '');
  assert.equal(pairedText('laptop'), 'This computer gets its tokens from laptop, which holds the SmartThings sign-in.');
});

test('a revoke says what it does not stop', () => {
  const t = revokedText('laptop');
  assert.match(t, /laptop was revoked/);
  assert.match(t, /works until it expires \(at most 24 h\)/);
  assert.match(t, /new client secret/);
});
