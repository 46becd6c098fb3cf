// How the Jobs page and the Dashboard write a job's figures.
import type { JobRow, TokenAmount } from '../../../../shared/api';
import { formatTokenAmount } from '../../../../shared/payments';
import { formatEnergy, money } from '../power/energy-format';

export { formatEnergy, money };

export const STATUS_LABELS: Record<JobRow['status'], string> = {
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  declined: 'Declined',
};

export const KIND_LABELS: Record<NonNullable<JobRow['kind']>, string> = {
  chat: 'Chat',
  completion: 'Completion',
  tensor: 'Tensor',
};

/** Earnings of several tokens, "1.5 IDLE + 2 USDC"; "—" for none. */
export function formatEarnings(amounts: readonly TokenAmount[]): string {
  const shown = amounts.filter((a) => a.amount !== '0');
  if (shown.length === 0) return '—';
  return shown.map((a) => formatTokenAmount(a.amount, a.decimals, a.symbol)).join(' + ');
}

/** What a job earned, "0.0123 IDLE"; "Test (unpaid)" for a test job; "—" for nothing known. */
export function formatEarnedAmount(row: JobRow): string {
  if (row.test) return 'Test (unpaid)';
  if (row.earned === null || !row.token) return '—';
  return formatTokenAmount(row.earned, row.token.decimals, row.token.symbol);
}

export function formatEarned(row: JobRow): string {
  const amount = formatEarnedAmount(row);
  // A job paid by a signed voucher (the wallet can claim it) says so.
  return row.voucherId && !row.test && amount !== '—' ? `${amount} (voucher)` : amount;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
