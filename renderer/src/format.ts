// Small, pure formatting helpers for the dashboard. No locale surprises in tests: numbers use
// the browser's locale, durations are spelled out in short English units like the rest of the UI.
import { formatTokenAmount as formatAmount } from '../../shared/payments';

export { formatBytes } from '../../shared/format';

/** "42 s", "5 min", "2 h 05 min", "3 d 4 h". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  const days = Math.floor(hours / 24);
  return `${days} d ${hours % 24} h`;
}

/** A token amount given in its smallest unit (decimal string of a bigint), e.g. "12.5 USDC". */
export function formatTokenAmount(amount: string, decimals: number, symbol: string): string {
  // Two decimals are enough on a dashboard; the shared formatter truncates, never rounds up money.
  return formatAmount(amount, decimals, symbol, { maxFraction: 2 });
}

// One formatter for every clock: toLocaleTimeString builds a new one at each call.
let clockFormat: Intl.DateTimeFormat | null = null;

/** "14:30:05" in the user's locale. */
export function formatClock(iso: string): string {
  clockFormat ??= new Intl.DateTimeFormat(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return clockFormat.format(new Date(iso));
}

// The job list's dates: a Date's toLocaleString builds a new formatter at each call.
let fullDateTime: Intl.DateTimeFormat | null = null;
let thisYearDateTime: Intl.DateTimeFormat | null = null;
let otherYearDate: Intl.DateTimeFormat | null = null;

/** "12/1/2026, 10:20:31 PM" in the user's locale: a moment in full. */
export function formatDateTime(iso: string): string {
  fullDateTime ??= new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
  });
  return fullDateTime.format(new Date(iso));
}

/**
 * For a table cell: "Dec 1, 10:20 PM" this year, "Dec 1, 2025" (no time) in another; the cell's
 * title gives the moment in full.
 */
export function formatShortDateTime(iso: string, now: Date = new Date()): string {
  const at = new Date(iso);
  if (at.getFullYear() === now.getFullYear()) {
    thisYearDateTime ??= new Intl.DateTimeFormat(undefined, {
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
    });
    return thisYearDateTime.format(at);
  }
  otherYearDate ??= new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  });
  return otherYearDate.format(at);
}
