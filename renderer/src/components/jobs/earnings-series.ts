// The Dashboard earnings chart's series: per local day, what verified vouchers paid (the job
// record's `paid`, exact bigint sums in the token's smallest unit) and the jobs' electricity cost.
// Net after electricity is only computed where the token has a price in the electricity currency
// (settings.network.pricing with the same symbol and decimals): the cost is converted into the
// token at that price and subtracted. Without one, the cost stays in its currency as its own
// series; currencies are never mixed.
import type { JobsAggregates, TokenAmount } from '../../../../shared/api';
import type { NetworkSettings } from '../../../../shared/api/market';
import { formatTokenAmount } from '../../../../shared/payments';

export type Pricing = NetworkSettings['pricing'];

export interface EarningsSeries {
  dates: string[];
  /** The charted token (the one paid on most days; else the priced one). */
  token: { symbol: string; decimals: number };
  /** Paid per day in the token's smallest unit (exact). */
  paid: bigint[];
  totalPaid: bigint;
  /** Electricity currency of the cost (the one with most activity). */
  currency: string;
  /** The jobs' electricity cost per day, in `currency`. */
  cost: number[];
  /** The token's price in `currency` when settings give one; null: net cannot be computed. */
  price: number | null;
  /** Paid − cost converted at `price`, per day, in the token's smallest unit (may be < 0). */
  net: bigint[] | null;
  totalNet: bigint | null;
  /** Vouchers in other tokens in these days (not charted; listed beside the chart). */
  otherTokens: TokenAmount[];
}

/** Every local date from `from` to `to`, both included. */
export function dates(from: string, to: string): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T12:00:00Z`);
  const end = new Date(`${to}T12:00:00Z`).getTime();
  while (d.getTime() <= end && out.length < 400) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

const keyOf = (t: { symbol: string; decimals: number }) => `${t.symbol}\u0000${t.decimals}`;

/** A whole-token number (a chart value) in the token's smallest unit, to 12 places at most. */
export function toUnits(value: number, decimals: number): bigint {
  const digits = Math.min(decimals, 12);
  const scaled = BigInt(Math.round(Math.abs(value) * 10 ** digits));
  const units = scaled * 10n ** BigInt(decimals - digits);
  return value < 0 ? -units : units;
}

/** An amount in smallest units as a whole-token number (for the chart's heights only). */
export function toNumber(units: bigint, decimals: number): number {
  return Number(units) / 10 ** decimals;
}

/**
 * The token axis's tick labels, through the one token formatter with as many fraction digits as
 * the chart's largest value needs (two significant digits of it, at most 8): tiny amounts get
 * distinct ticks ("−0.000015") instead of the same cut-off "−< 0.0001" on every tick, and a
 * tick that is zero at that precision reads "0", never "−0".
 */
export function tokenTickFormatter(
  values: readonly number[],
  decimals: number,
): ((v: number) => string) & { chars: number } {
  const largest = Math.max(0, ...values.map((v) => Math.abs(v)));
  const needed = largest > 0 ? Math.ceil(-Math.log10(largest)) + 1 : 0;
  const maxFraction = Math.min(8, decimals, Math.max(4, needed));
  // The longest label's length, for the axis's width: sign, whole digits, point, fraction.
  const chars = 2 + Math.max(1, Math.floor(Math.log10(Math.max(1, largest))) + 1) + maxFraction;
  return Object.assign(format, { chars });
  function format(v: number): string {
    const units = toUnits(Math.abs(v), decimals);
    const text = formatTokenAmount(units, decimals, '', { maxFraction });
    if (units === 0n || text.startsWith('<')) return '0';
    return v < 0 ? `−${text}` : text;
  }
}

/** A signed amount through the one token formatter ("−0.5 IDLE"). */
export function formatSigned(units: bigint, decimals: number, symbol: string): string {
  const text = formatTokenAmount(units < 0n ? -units : units, decimals, symbol);
  return units < 0n ? `−${text}` : text;
}

export function earningsSeries(days: JobsAggregates, pricing: Pricing | null): EarningsSeries {
  const weight = new Map<string, number>();
  for (const b of days.buckets)
    if (b.currency !== '')
      weight.set(b.currency, (weight.get(b.currency) ?? 0) + b.jobs + b.testJobs + 1);
  const currency = [...weight].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';

  // Paid per token and day (over every currency: a payment is not tied to one).
  const paidBy = new Map<string, { token: TokenAmount; perDay: Map<string, bigint> }>();
  for (const b of days.buckets)
    for (const p of b.paid) {
      const k = keyOf(p);
      const entry = paidBy.get(k) ?? { token: { ...p, amount: '0' }, perDay: new Map() };
      entry.perDay.set(b.period, (entry.perDay.get(b.period) ?? 0n) + BigInt(p.amount));
      entry.token.amount = (BigInt(entry.token.amount) + BigInt(p.amount)).toString();
      paidBy.set(k, entry);
    }
  const ranked = [...paidBy.values()].sort((a, b) => b.perDay.size - a.perDay.size);
  const main = ranked[0];
  const token = main
    ? { symbol: main.token.symbol, decimals: main.token.decimals }
    : { symbol: pricing?.tokenSymbol ?? '', decimals: pricing?.tokenDecimals ?? 18 };
  const all = dates(days.from, days.to);
  const paid = all.map((d) => main?.perDay.get(d) ?? 0n);
  const costBy = new Map(
    days.buckets.filter((b) => b.currency === currency).map((b) => [b.period, b.jobCost] as const),
  );
  const cost = all.map((d) => costBy.get(d) ?? 0);
  const priced =
    pricing !== null &&
    pricing.tokenSymbol === token.symbol &&
    pricing.tokenDecimals === token.decimals &&
    currency !== '';
  const price = priced ? pricing.currencyPerToken : null;
  const net =
    price === null ? null : paid.map((p, i) => p - toUnits(cost[i]! / price, token.decimals));
  return {
    dates: all,
    token,
    paid,
    totalPaid: paid.reduce((a, b) => a + b, 0n),
    currency,
    cost,
    price,
    net,
    totalNet: net ? net.reduce((a, b) => a + b, 0n) : null,
    otherTokens: ranked.slice(1).map((e) => e.token),
  };
}
