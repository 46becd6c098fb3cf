// Exact token amounts in SQLite: bigint ⇄ decimal string, and the hi/lo split at 10^9 that lets
// SQLite's integer SUM add them exactly (schema.ts).
import { IdlerigError } from '../../../shared/errors';
import { localParts } from '../policy/local-time';

const SPLIT = 1_000_000_000n;

export function splitAmount(amount: bigint): { hi: number; lo: number } {
  const hi = amount / SPLIT;
  if (hi > BigInt(Number.MAX_SAFE_INTEGER))
    throw new IdlerigError('INVALID_PARAMS', 'Amount too large to record');
  return { hi: Number(hi), lo: Number(amount % SPLIT) };
}

/** Σhi·10^9 + Σlo (SQLite returns the sums as numbers or bigints, both exact here). */
export function joinAmount(hi: number | bigint | null, lo: number | bigint | null): bigint {
  return BigInt(hi ?? 0) * SPLIT + BigInt(lo ?? 0);
}

export function checkAmount(name: string, v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n)
    throw new IdlerigError('INVALID_PARAMS', `${name} must be a non-negative bigint`);
  return v;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The local hour an instant falls in, as "YYYY-MM-DDTHH" (the rollup's bucket). */
export function localHour(ms: number, timeZone?: string): string {
  const p = localParts(new Date(ms), timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}`;
}
