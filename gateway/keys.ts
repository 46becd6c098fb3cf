// Requester API keys: `irk_<id>_<secret>`. Only sha256(secret) is stored; a presented key is
// found by its id and its secret compared in constant time. Per key: credit (granted minus
// spent), a daily budget, requests-per-minute and tokens-per-minute limits (token buckets), and
// the most requests running at once. The database is the truth for credit, limits and
// revocation (the CLI writes them while the gateway runs; re-read at most every second); the
// gateway alone writes what was spent.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { JobInputBody, Price } from '../shared/market-protocol';
import { chargeFor } from '../shared/receipt';
import { sha256Bytes, sha256Hex } from './hash';
import type { GatewayStore, KeyLimits, KeyRecord } from './storage/types';

const KEY_RE = /^irk_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;
const REFRESH_MS = 1000;
const DUMMY_HASH = Buffer.alloc(32);

function hashBytes(hex: string): Buffer {
  const b = Buffer.from(hex, 'hex');
  return b.length === 32 ? b : DUMMY_HASH;
}

export function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

export interface NewKey {
  name?: string;
  credit?: bigint;
  limits?: Partial<KeyLimits>;
}

/** Creates a key in the store; returns the key text (shown once) and its record. */
export function createKey(
  store: GatewayStore,
  opts: NewKey = {},
): { key: string; record: KeyRecord } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const now = new Date();
  const record: KeyRecord = {
    id,
    secretHash: hashSecret(secret),
    name: opts.name ?? '',
    createdAt: now.toISOString(),
    revokedAt: null,
    credit: opts.credit ?? 0n,
    spent: 0n,
    spentToday: 0n,
    spentDay: utcDay(now.getTime()),
    budgetPerDay: opts.limits?.budgetPerDay ?? null,
    rpm: opts.limits?.rpm ?? null,
    tpm: opts.limits?.tpm ?? null,
    maxParallel: opts.limits?.maxParallel ?? null,
  };
  store.createKey(record);
  return { key: `irk_${id}_${secret}`, record };
}

const DAY_MS = 86_400_000;
let dayCache = { start: 0, text: '1970-01-01' };

/** YYYY-MM-DD of a time in UTC (cached for the day: every request asks). */
function utcDay(ms: number): string {
  if (ms < dayCache.start || ms >= dayCache.start + DAY_MS) {
    const start = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
    dayCache = { start, text: new Date(start).toISOString().slice(0, 10) };
  }
  return dayCache.text;
}

/** Room for what a chat template adds around the messages (its markers, a default system text). */
const TEMPLATE_TOKENS = 64;

/**
 * The most a job can cost at `price` (the gateway's price of the model, which a provider's floor
 * is within): `maxTokens` completion tokens (the request's max_tokens or the default the gateway
 * applies) and an upper bound of its prompt tokens. The prompt's UTF-8 byte count bounds its
 * tokens for these tokenizers (byte-level BPE / SentencePiece with byte fallback: every token
 * is at least one byte); a chat's bound is the byte count of its messages as JSON (roles,
 * quotes and braces: ~30 bytes a message, more than a template's few marker tokens) plus
 * TEMPLATE_TOKENS. Tensor jobs cost their per-request price.
 */
export function worstCaseCost(price: Price, body: JobInputBody, maxTokens: number): bigint {
  let tokensIn = 0;
  if (body.kind === 'completion') tokensIn = Buffer.byteLength(body.prompt, 'utf8');
  else if (body.kind === 'chat') {
    tokensIn = Buffer.byteLength(JSON.stringify(body.messages), 'utf8') + TEMPLATE_TOKENS;
  }
  return chargeFor(price, { tokensIn, tokensOut: maxTokens });
}

/** A token bucket refilled continuously: `limit` per minute. */
class Bucket {
  level: number;
  at: number;
  constructor(
    public limit: number,
    now: number,
  ) {
    this.level = limit;
    this.at = now;
  }
  refill(now: number): void {
    this.level = Math.min(this.limit, this.level + ((now - this.at) * this.limit) / 60_000);
    this.at = now;
  }
  /** ms until the level reaches `need` (0 when it has). */
  waitMs(need: number): number {
    return this.level >= need ? 0 : Math.ceil(((need - this.level) * 60_000) / this.limit);
  }
  resetMs(): number {
    return Math.ceil(((this.limit - this.level) * 60_000) / this.limit);
  }
}

interface KeyState {
  record: KeyRecord;
  /** record.secretHash as bytes (32, or DUMMY_HASH when the stored one is not 32 bytes). */
  secretHash: Buffer;
  loadedAt: number;
  running: number;
  /** The most the key's running requests could still cost (one hold each, until it settles). */
  held: bigint;
  requests: Bucket | null;
  tokens: Bucket | null;
}

export interface Refusal {
  status: 401 | 429;
  type: 'invalid_request_error' | 'insufficient_quota' | 'rate_limit_exceeded';
  code: string;
  message: string;
  headers: Record<string, string>;
}

export interface Lease {
  keyId: string;
  headers: Record<string, string>;
  /** Credit left for this request at admission (less what the key's other requests hold). */
  available: bigint;
  /**
   * Adds a finished request's tokens and charge and releases its hold; call once. Returns the
   * charge as made: never more than the key's credit left (nor its daily budget left).
   */
  settle(tokens: number, charge: bigint): bigint;
  /** The request is over (its hold is released if it never settled). */
  release(): void;
}

/** OpenAI's duration format for x-ratelimit-reset-*: "1s", "6m0s", "120ms". */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

export class KeyService {
  private readonly states = new Map<string, KeyState>();

  constructor(
    private readonly store: GatewayStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key of an Authorization header, or a 401. */
  authenticate(header: string | undefined): KeyState | Refusal {
    const bad = (message: string, code = 'invalid_api_key'): Refusal => ({
      status: 401,
      type: 'invalid_request_error',
      code,
      message,
      headers: {},
    });
    if (!header) {
      return bad(
        "You didn't provide an API key. Provide it in the Authorization header (Bearer YOUR_KEY).",
        'missing_api_key',
      );
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    const key = m?.[1] ?? '';
    const parts = KEY_RE.exec(key);
    const shown = (): string => (key.length > 8 ? `${key.slice(0, 8)}...${key.slice(-4)}` : '***');
    const state = parts ? this.load(parts[1] as string) : null;
    const presented = sha256Bytes(parts?.[2] ?? key);
    const match = timingSafeEqual(presented, state ? state.secretHash : DUMMY_HASH);
    if (!state || !match) return bad(`Incorrect API key provided: ${shown()}.`);
    if (state.record.revokedAt) return bad(`The API key ${shown()} was revoked.`);
    return state;
  }

  private load(id: string): KeyState | null {
    const t = this.now();
    const cached = this.states.get(id);
    if (cached && t - cached.loadedAt < REFRESH_MS) return cached;
    const row = this.store.getKey(id);
    if (!row) {
      this.states.delete(id);
      return null;
    }
    if (!cached) {
      const state: KeyState = {
        record: row,
        secretHash: hashBytes(row.secretHash),
        loadedAt: t,
        running: 0,
        held: 0n,
        requests: row.rpm ? new Bucket(row.rpm, t) : null,
        tokens: row.tpm ? new Bucket(row.tpm, t) : null,
      };
      this.states.set(id, state);
      return state;
    }
    // The database's credit, limits and revocation; this process's own spend.
    const { spent, spentToday, spentDay } = cached.record;
    if (row.secretHash !== cached.record.secretHash) cached.secretHash = hashBytes(row.secretHash);
    cached.record = { ...row, spent, spentToday, spentDay };
    cached.loadedAt = t;
    cached.requests = syncBucket(cached.requests, row.rpm, t);
    cached.tokens = syncBucket(cached.tokens, row.tpm, t);
    return cached;
  }

  /**
   * Admits one request of an authenticated key, or says why not (429). `worstCase` is the most
   * the request can cost (its max_tokens and an upper bound of its input at the gateway's
   * price, the price a provider's floor is within): a request whose worst case is over the
   * key's credit left, less what its running requests hold, is refused, as OpenRouter does;
   * admitted, it holds that much until it settles.
   */
  admit(state: KeyState, worstCase = 0n): Lease | Refusal {
    const t = this.now();
    const r = state.record;
    const headers: Record<string, string> = {};
    const req = state.requests;
    const tok = state.tokens;
    req?.refill(t);
    tok?.refill(t);
    if (req) {
      headers['x-ratelimit-limit-requests'] = String(req.limit);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(req.level - 1)));
      headers['x-ratelimit-reset-requests'] = duration(req.resetMs());
    }
    if (tok) {
      headers['x-ratelimit-limit-tokens'] = String(tok.limit);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(tok.level)));
      headers['x-ratelimit-reset-tokens'] = duration(tok.resetMs());
    }
    const limited = (message: string, waitMs: number, code = 'rate_limit_exceeded'): Refusal => ({
      status: 429,
      type: 'rate_limit_exceeded',
      code,
      message,
      headers: {
        ...headers,
        'retry-after-ms': String(Math.max(1, Math.ceil(waitMs))),
        'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
      },
    });
    const noCredit = (message: string): Refusal => ({
      status: 429,
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      message,
      headers: { ...headers, 'x-should-retry': 'false' },
    });
    const available = r.credit - r.spent;
    if (available <= 0n) {
      return noCredit(
        'You exceeded your current quota: this key has no credit left. Add credit with `idlerig gateway keys credit`.',
      );
    }
    const day = utcDay(t);
    if (r.spentDay !== day) {
      r.spentDay = day;
      r.spentToday = 0n;
    }
    if (r.budgetPerDay !== null && r.spentToday >= r.budgetPerDay) {
      return noCredit(
        `This key spent its daily budget of ${r.budgetPerDay}; it resets at 00:00 UTC.`,
      );
    }
    const free = available - state.held;
    const heldWords = (): string =>
      state.held > 0n ? `, less ${state.held} held for its ${state.running} running requests` : '';
    if (worstCase > free) {
      return noCredit(
        `This request could cost up to ${worstCase}, more than this key's credit left (${available}${heldWords()}). Lower max_tokens or add credit with \`idlerig gateway keys credit\`.`,
      );
    }
    if (r.budgetPerDay !== null && r.spentToday + state.held + worstCase > r.budgetPerDay) {
      return noCredit(
        `This request could cost up to ${worstCase}, more than this key's daily budget of ${r.budgetPerDay} has left today (${r.budgetPerDay - r.spentToday}${heldWords()}). Lower max_tokens, or wait for 00:00 UTC.`,
      );
    }
    if (r.maxParallel !== null && state.running >= r.maxParallel) {
      return limited(
        `Too many parallel requests for this key: at most ${r.maxParallel} at once.`,
        50,
        'parallel_limit_exceeded',
      );
    }
    if (req && req.level < 1) {
      return limited(`Rate limit reached: ${req.limit} requests per minute.`, req.waitMs(1));
    }
    if (tok && tok.level <= 0) {
      return limited(`Rate limit reached: ${tok.limit} tokens per minute.`, tok.waitMs(1));
    }
    if (req) req.level -= 1;
    state.running++;
    state.held += worstCase;
    let released = false;
    let settled = false;
    const unhold = (): void => {
      if (settled) return;
      settled = true;
      state.held -= worstCase;
    };
    return {
      keyId: r.id,
      headers,
      available: free,
      settle: (tokens, charge) => {
        if (settled) return 0n;
        unhold();
        const now = this.now();
        if (state.tokens) {
          state.tokens.refill(now);
          state.tokens.level -= tokens;
        }
        const rec = state.record;
        const day = utcDay(now);
        if (rec.spentDay !== day) {
          rec.spentDay = day;
          rec.spentToday = 0n;
        }
        // Belt and braces (admission already bounds it): never more than the credit left, nor
        // the daily budget left, so a key never goes negative.
        let made = charge;
        const creditLeft = rec.credit - rec.spent;
        if (made > creditLeft) made = creditLeft;
        if (rec.budgetPerDay !== null && made > rec.budgetPerDay - rec.spentToday) {
          made = rec.budgetPerDay - rec.spentToday;
        }
        if (made < 0n) made = 0n;
        if (made > 0n) {
          rec.spent += made;
          rec.spentToday += made;
          this.store.saveSpend(rec.id, rec.spent, rec.spentToday, rec.spentDay);
        }
        return made;
      },
      release: () => {
        if (released) return;
        released = true;
        unhold();
        state.running--;
      },
    };
  }
}

function syncBucket(b: Bucket | null, limit: number | null, t: number): Bucket | null {
  if (!limit) return null;
  if (!b) return new Bucket(limit, t);
  b.refill(t);
  b.limit = limit;
  b.level = Math.min(b.level, limit);
  return b;
}

export function isRefusal(x: unknown): x is Refusal {
  return typeof x === 'object' && x !== null && 'status' in x && 'message' in x;
}
