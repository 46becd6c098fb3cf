// Which provider gets a job: one that serves the model's sha256, whose floor is within the
// gateway's price (and the requester's max_price), with free capacity, not failed in the last
// 30 s. Weighted by price, measured speed and success rate, or sorted as the request's
// OpenRouter-style `provider.sort` says. With many candidates a random sample of 8 of them with
// room is scored (the power of k choices: already 2 balance load nearly as well as all), so
// matching stays O(1) however many providers serve a model.
import type { Price } from '../shared/market-protocol';
import { priceParts, withinParsed, type ParsedPrice } from './prices';
import type { Candidate, ProviderRegistry } from './providers/registry';
import type { ProviderSession } from './providers/session';

export const FAILURE_COOLDOWN_MS = 30_000;
const SAMPLE = 8;

export interface ProviderPreferences {
  sort?: 'price' | 'latency' | 'throughput';
  /** Per million tokens (prompt, completion) or per request, in the token's smallest unit. */
  maxPrice?: { prompt?: bigint; completion?: bigint; request?: bigint };
  allowFallbacks?: boolean;
}

export interface Match {
  session: ProviderSession;
  /** The price offered: the provider's floor for this model. */
  price: Price;
}

function fitsMax(n: ParsedPrice, max: ProviderPreferences['maxPrice']): boolean {
  if (!max) return true;
  if (n.per === 'mtok') {
    return (
      (max.prompt === undefined || n.input <= max.prompt) &&
      (max.completion === undefined || n.output <= max.completion)
    );
  }
  return max.request === undefined || n.amount <= max.request;
}

export function pickProvider(
  registry: ProviderRegistry,
  sha256: string,
  ceiling: Price,
  prefs: ProviderPreferences,
  exclude: ReadonlySet<ProviderSession>,
  now = Date.now(),
): Match | null {
  const all = registry.serving(sha256);
  const n = all.length;
  if (n === 0) return null;
  let pool: readonly Candidate[];
  if (n <= SAMPLE) pool = all;
  else {
    const picked: Candidate[] = [];
    const start = Math.floor(Math.random() * n);
    const step = 1 + Math.floor(Math.random() * (n - 1));
    // A random walk over the list: up to SAMPLE candidates that have room.
    for (let i = 0, k = start; i < n && picked.length < SAMPLE; i++, k = (k + step) % n) {
      const c = all[k] as Candidate;
      if (c.session.free > 0) picked.push(c);
    }
    pool = picked;
  }
  let best: Match | null = null;
  let bestScore = -Infinity;
  const ceilingParts = priceParts(ceiling);
  const ceilingScore = Math.max(1, ceilingParts.score);
  for (let i = 0; i < pool.length; i++) {
    const c = pool[i] as Candidate;
    const s = c.session;
    if (s.free <= 0 || exclude.has(s) || !s.address) continue;
    if (!withinParsed(c.floor, ceilingParts) || !fitsMax(c.floor, prefs.maxPrice)) continue;
    const st = c.stats;
    if (now - st.lastFailureAt < FAILURE_COOLDOWN_MS) continue;
    const price = c.floor.score;
    const load = s.free / s.parallelism;
    let score: number;
    switch (prefs.sort) {
      case 'price':
        score = -price + load * 1e-9;
        break;
      case 'latency':
        score = -(st.ttftMs ?? 0) + load * 1e-6;
        break;
      case 'throughput':
        score = (st.tokensPerS ?? Number.MAX_SAFE_INTEGER / 2) + load * 1e-6;
        break;
      default: {
        const speed = st.tokensPerS === null ? 1 : 1 + Math.min(1, st.tokensPerS / 1000);
        score =
          st.success *
          st.success *
          speed *
          (2 - price / ceilingScore) *
          (0.5 + load) *
          (1 + Math.random() * 0.05);
      }
    }
    if (score > bestScore) {
      bestScore = score;
      best = { session: s, price: c.model.floor };
    }
  }
  return best;
}
