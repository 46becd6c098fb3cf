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
