// The providers online: their sessions by address, the models they serve (grouped by sha256,
// named as the providers name them), their measured speed and success, and waiters for free
// capacity. A provider that logs in again replaces its old session.
import type { ModelCapability } from '../../shared/market-protocol';
import type { CancelSignal } from '../client-gone';
import { priceParts, type ParsedPrice } from '../prices';
import type { ProviderSession } from './session';

export interface ProviderStats {
  /** Exponentially weighted: 1 = every job succeeded. */
  success: number;
  /** Completion tokens per second of recent jobs (null: none measured yet). */
  tokensPerS: number | null;
  /** Time to first token of recent jobs, ms. */
  ttftMs: number | null;
  lastFailureAt: number;
}

export interface ServedModel {
  sha256: string;
  name: string;
  kind: 'llm' | 'onnx';
  /** Any provider's description (tensors, context size). */
  capability: ModelCapability;
  providers: number;
}

/**
 * One provider serving one model, as the matcher scores it: the session, its advertised model,
 * that model's floor already parsed and the provider's stats, gathered in one object when the
 * capabilities change so that scoring a random candidate per job touches this and the session,
 * not the session's models array, the model, its price and two map lookups (each a cache miss
 * with 1,000 providers).
 */
export interface Candidate {
  readonly session: ProviderSession;
  readonly model: ModelCapability;
  readonly floor: ParsedPrice;
  readonly stats: ProviderStats;
}

const ALPHA = 0.2;

export class ProviderRegistry {
  readonly sessions = new Set<ProviderSession>();
  private readonly byAddress = new Map<string, ProviderSession>();
  private readonly stats = new Map<string, ProviderStats>();
  private bySha: Map<string, Candidate[]> | null = null;
  private models: Map<string, ServedModel> | null = null;
  private waiters = new Set<() => void>();

  add(s: ProviderSession): void {
    const old = s.address ? this.byAddress.get(s.address) : undefined;
    if (old && old !== s) old.close(4002, 'replaced by a new login');
    this.sessions.add(s);
    if (s.address) this.byAddress.set(s.address, s);
    this.changed();
  }

  remove(s: ProviderSession): void {
    this.sessions.delete(s);
    if (s.address && this.byAddress.get(s.address) === s) this.byAddress.delete(s.address);
    this.changed();
  }

  get(address: string): ProviderSession | undefined {
    return this.byAddress.get(address);
  }

  get online(): number {
    return this.byAddress.size;
  }

  /** Capabilities, pause or capacity changed. */
  changed(): void {
    this.bySha = null;
    this.models = null;
    this.wake();
  }

  /** Capacity freed (a job ended): waiters try again. */
  wake(): void {
    if (this.waiters.size === 0) return;
    const w = this.waiters;
    this.waiters = new Set();
    for (const f of w) f();
  }

  /** Resolves when capacity or capabilities change, or after `ms`. */
  waitForChange(ms: number, signal?: CancelSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Sessions serving a model, logged in (free capacity is checked by the matcher). */
  serving(sha256: string): readonly Candidate[] {
    if (!this.bySha) {
      const m = new Map<string, Candidate[]>();
      for (const [address, s] of this.byAddress) {
        const stats = this.statsOf(address);
        for (const model of s.models) {
          let list = m.get(model.sha256);
          if (!list) m.set(model.sha256, (list = []));
          if (list.some((c) => c.session === s)) continue;
          list.push({ session: s, model, floor: priceParts(model.floor), stats });
        }
      }
      this.bySha = m;
    }
    return this.bySha.get(sha256) ?? [];
  }

  /** The models served now, by the name requesters use (and by sha256). */
  served(): Map<string, ServedModel> {
    if (!this.models) {
      const m = new Map<string, ServedModel>();
      for (const s of this.byAddress.values()) {
        for (const c of s.models) {
          const e = m.get(c.name);
          if (e && e.sha256 === c.sha256) e.providers++;
          else if (!e)
            m.set(c.name, {
              sha256: c.sha256,
              name: c.name,
              kind: c.kind,
              capability: c,
              providers: 1,
            });
        }
      }
      for (const e of [...m.values()]) if (!m.has(e.sha256)) m.set(e.sha256, e);
      this.models = m;
    }
    return this.models;
  }

  statsOf(address: string): ProviderStats {
    let st = this.stats.get(address);
    if (!st)
      this.stats.set(
        address,
        (st = { success: 1, tokensPerS: null, ttftMs: null, lastFailureAt: 0 }),
      );
    return st;
  }

  noteSuccess(address: string, ttftMs: number | null, tokensPerS: number | null): void {
    const st = this.statsOf(address);
    st.success = st.success * (1 - ALPHA) + ALPHA;
    if (ttftMs !== null)
      st.ttftMs = st.ttftMs === null ? ttftMs : st.ttftMs * (1 - ALPHA) + ttftMs * ALPHA;
    if (tokensPerS !== null) {
      st.tokensPerS =
        st.tokensPerS === null ? tokensPerS : st.tokensPerS * (1 - ALPHA) + tokensPerS * ALPHA;
    }
  }

  noteFailure(address: string, now = Date.now()): void {
    const st = this.statsOf(address);
    st.success *= 1 - ALPHA;
    st.lastFailureAt = now;
  }

  sweep(now: number): void {
    for (const s of [...this.sessions]) s.checkAlive(now);
  }

  closeAll(code: number, reason: string): void {
    for (const s of [...this.sessions]) s.close(code, reason);
  }
}
