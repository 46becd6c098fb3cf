// Small, pure formatting helpers for the dashboard. No locale surprises in tests: numbers use
// the browser's locale, durations are spelled out in short English units like the rest of the UI.
import { formatTokenAmount as formatAmount } from '../../shared/payments';

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

/** "812 B", "14.2 KB", "3.1 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

/** "14:30:05" in the user's locale. */
export function formatClock(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}
