// Small formatting helpers shared by the windows. Pure functions: tested with node --test.

/** "18 h", "45 min", "30 s", "3 d" (the same rules as the tray's status line). */
export function humanDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s >= 2 * 86400) return `${Math.floor(s / 86400)} d`;
  if (s >= 2 * 3600) return `${Math.floor(s / 3600)} h`;
  if (s >= 120) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

/** Local wall-clock time of a Unix-seconds instant, "14:05". */
export function clock(unixSeconds, locale) {
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

/** "14:05", "tomorrow 14:05" or "Fri 14:05": when a Unix-seconds instant is, seen from now. */
export function when(unixSeconds, nowSeconds, locale) {
  const at = new Date(unixSeconds * 1000);
  const today = new Date(nowSeconds * 1000);
  const days = Math.round((new Date(at).setHours(0, 0, 0, 0) - new Date(today).setHours(0, 0, 0, 0)) / 86400000);
  if (days === 0) return clock(unixSeconds, locale);
  if (days === 1) return `tomorrow ${clock(unixSeconds, locale)}`;
  return `${at.toLocaleDateString(locale, { weekday: 'short' })} ${clock(unixSeconds, locale)}`;
}

/** "Copied. Valid until tomorrow 14:05 (23 h)." */
export function copiedText(copied, nowSeconds, locale) {
  const left = copied.expires_at - nowSeconds;
  return `Copied. Valid until ${when(copied.expires_at, nowSeconds, locale)} (${humanDuration(left)}).`;
}

/** "Read 14:03" or "Read 2 min ago". */
export function readText(readAt, nowSeconds, locale) {
  if (!readAt) return 'Not read yet';
  const ago = nowSeconds - readAt;
  if (ago < 90) return 'Read just now';
  if (ago < 3600) return `Read ${Math.floor(ago / 60)} min ago`;
  return `Read at ${clock(readAt, locale)}`;
}

/** A stable, attribute-safe piece of a data-testid. */
export function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
