/** How numbers, durations and times are written across the dashboard: short, and the same everywhere. */

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A count: 1,234,567. */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? grouped.format(n) : '–';
}

/** A count where space is short: 950, 12.3k, 4.1M. */
export function formatCompact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs < 1000) return trimZero(abs < 10 && !Number.isInteger(n) ? n.toFixed(1) : Math.round(n).toString());
  if (abs < 1e6) return `${trimZero((n / 1e3).toFixed(abs < 1e4 ? 1 : 0))}k`;
  if (abs < 1e9) return `${trimZero((n / 1e6).toFixed(abs < 1e7 ? 1 : 0))}M`;
  return `${trimZero((n / 1e9).toFixed(1))}G`;
}

/** A rate per second: one decimal below 10 (4.5), whole above (880), compact from 10,000 (12k). */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 10_000) return formatCompact(n);
  return Math.abs(n) < 10 ? trimZero(n.toFixed(1)) : grouped.format(Math.round(n));
}

/** Milliseconds of a latency: 0.42 ms, 12 ms, 1.5 s. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${trimZero(ms.toFixed(1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${trimZero((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))} s`;
}

/** How long something has lasted, two units at most: 42s, 5m 3s, 2h 5m, 3d 4h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return sec > 0 ? `${m}m ${sec}s` : `${m}m`;
  return `${sec}s`;
}

/** A size in bytes: 512 B, 1.5 KB, 2 MB (1024-based, as the payload limits are). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${trimZero((n / 1024).toFixed(1))} KB`;
  return `${trimZero((n / 1024 / 1024).toFixed(1))} MB`;
}

const pad = (n: number, width = 2) => n.toString().padStart(width, '0');

/** A wall-clock time in local time, to the millisecond: the console's time column. */
export function formatClock(ms: number, withMillis = true): string {
  const d = new Date(ms);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMillis ? `${hms}.${pad(d.getMilliseconds(), 3)}` : hms;
}

/** A date and time in local time: 2026-12-06 13:43:58. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '–';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatClock(ms, false)}`;
}

/** How long ago, from `now`: "just now", "42s ago", "5m 3s ago". */
export function formatAgo(ms: number, now: number): string {
  const diff = now - ms;
  return diff < 1000 ? 'just now' : `${formatDuration(diff)} ago`;
}

function trimZero(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}
