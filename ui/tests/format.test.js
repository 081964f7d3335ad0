import { test } from 'node:test';
import assert from 'node:assert/strict';

import { humanDuration, copiedText, readText, slug, when } from '../lib/format.js';

test('durations read like the tray', () => {
  assert.equal(humanDuration(59), '59 s');
  assert.equal(humanDuration(7199), '119 min');
  assert.equal(humanDuration(18 * 3600 + 5), '18 h');
  assert.equal(humanDuration(3 * 86400), '3 d');
  assert.equal(humanDuration(-5), '0 s');
});

test('copy result says until when, with the day when it is not today', () => {
  const noon = Math.floor(new Date(2026, 10, 24, 12, 0, 0).getTime() / 1000);
  assert.equal(copiedText({ connection: 'home', expires_at: noon + 3 * 3600 }, noon, 'en-GB'), 'Copied. Valid until 15:00 (3 h).');
  assert.equal(copiedText({ connection: 'home', expires_at: noon + 23 * 3600 }, noon, 'en-GB'), 'Copied. Valid until tomorrow 11:00 (23 h).');
  assert.match(when(noon + 3 * 86400, noon, 'en-GB'), /^[A-Z][a-z]{2} 12:00$/);
});

test('read time is relative when recent', () => {
  assert.equal(readText(null, 100), 'Not read yet');
  assert.equal(readText(100, 150), 'Read just now');
  assert.equal(readText(100, 100 + 600), 'Read 10 min ago');
  assert.match(readText(100, 100 + 7200, 'en-GB'), /^Read at \d\d:\d\d$/);
});

test('slugs are attribute-safe', () => {
  assert.equal(slug('Living Room'), 'living-room');
  assert.equal(slug('  Kid\'s  Room!! '), 'kid-s-room');
});
