// The energy ledger: integrates the measured power of every GPU over time and attributes each
// slice to the jobs running on that GPU in that slice (shared by their weights), or to idle draw.
//
// Integration: a GPU's last reading holds until the next one (zero-order hold), capped at
// `maxHoldMs` so a dead sampler does not invent energy. Job starts and ends cut the slices, so a
// job gets exactly the energy of the time it ran. Hence, by construction:
//   Σ job energy + idle energy = ∫ power dt   (every slice goes to exactly one of them)
// Each slice is priced at the electricity price of its start (time-of-use tariff applied).
//
// Persistence: the job database (electron/provider/jobs). A finished job's energy, cost and
// currency go into its job row in one transaction when it ends; idle draw goes into per-hour idle
// rows (written at most `idleFlushMs` after it was measured, and on flush). Day totals are read
// back from those rows, so there is no second file that could disagree, and each row keeps the
// currency it was priced in. The files of earlier versions (energy/jobs.jsonl, days.json) are
// imported once (legacy-import.ts) and kept beside as *.imported backups.
import { existsSync, mkdirSync } from 'node:fs';
import type {
  EnergyDay,
  EnergySummary,
  JobEnergy,
  TelemetrySample,
} from '../../../shared/api/power';
import type { ScopedLogger } from '../logs/logger';
import { localDate } from '../policy/local-time';
import { openJobsDb } from '../jobs/db';
import { JobStore, type IdleWrite } from '../jobs/store';
import { JobQueries } from '../jobs/queries';
import { localHour } from '../jobs/amounts';
import { importLegacyEnergy } from './legacy-import';

export interface LedgerPrice {
  pricePerKwh: number;
  currency: string;
}

export interface EnergyLedgerOptions {
  /** Folder of an earlier version's days.json and jobs.jsonl (imported once); null: none. */
  dir: string | null;
  /** The job database; absent: a private in-memory one (tests, benchmark). */
  store?: JobStore;
  price: (at: Date) => LedgerPrice;
  now?: () => number;
  timeZone?: string;
  /** Longest a reading is held without a new one. */
  maxHoldMs?: number;
  log?: ScopedLogger;
  /** Longest idle draw waits in memory before it is written (default 5 s). */
  idleFlushMs?: number;
}

export interface JobStartOptions {
  /** GPUs the job runs on; absent: all of them. */
  gpuIds?: readonly string[];
  /** Its share when jobs run at once (e.g. its parallel sequences); default 1. */
  weight?: number;
  at?: number;
}

export interface JobEndOptions {
  /** What the job paid, in the electricity currency (the market client converts tokens). */
  revenue?: number | null;
  at?: number;
}

/** What the engine and the market client call: the only way into the ledger from outside. */
export interface EnergyJobReporter {
  jobStarted(id: string, opts?: JobStartOptions): void;
  jobEnded(id: string, opts?: JobEndOptions): JobEnergy | null;
}

interface GpuState {
  powerW: number | null;
  estimated: boolean;
  /** When the held reading was taken. */
  sampleT: number;
  /** Integrated up to here. */
  t: number;
}

interface ActiveJob {
  id: string;
  startedAt: number;
  gpuIds: ReadonlySet<string> | null;
  weight: number;
  wh: number;
  cost: number;
  estimated: boolean;
}

interface PendingIdle extends IdleWrite {
  key: string;
}

const KEEP_JOBS = 200;

export class EnergyLedger implements EnergyJobReporter {
  private readonly gpus = new Map<string, GpuState>();
  private readonly active = new Map<string, ActiveJob>();
  private recent: JobEnergy[] = [];
  private readonly pendingIdle = new Map<string, PendingIdle>();
  private lastIdleWrite: number;
  private readonly now: () => number;
  private readonly maxHoldMs: number;
  readonly store: JobStore;
  private readonly queries: JobQueries;
  /** Every watt-hour integrated since this ledger was created (tests check the attribution). */
  readonly totals = { jobWh: 0, idleWh: 0, integratedWh: 0 };

  constructor(private readonly opts: EnergyLedgerOptions) {
    this.now = opts.now ?? Date.now;
    this.maxHoldMs = opts.maxHoldMs ?? 30_000;
    this.lastIdleWrite = this.now();
    const tz = opts.timeZone ? { timeZone: opts.timeZone } : {};
    this.store =
      opts.store ??
      new JobStore(openJobsDb(':memory:').db, { ...tz, now: this.now, ...logOpt(opts.log) });
    this.queries = new JobQueries(this.store.db, { ...tz, now: this.now });
  }

  get dir(): string | null {
    return this.opts.dir;
  }

  /** Imports an earlier version's files once, then reads the recent jobs back. */
  async load(): Promise<void> {
    const dir = this.opts.dir;
    if (dir) {
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
      await importLegacyEnergy(dir, this.store, {
        ...(this.opts.timeZone ? { timeZone: this.opts.timeZone } : {}),
        ...logOpt(this.opts.log),
      });
    }
    try {
      const rows = this.store.db
        .prepare(
          `SELECT id, started_at, ended_at, energy_wh, energy_cost, currency, revenue,
                  energy_estimated
           FROM jobs WHERE energy_wh IS NOT NULL AND ended_at IS NOT NULL
           ORDER BY ended_at DESC LIMIT ${KEEP_JOBS}`,
        )
        .all() as {
        id: string;
        started_at: number;
        ended_at: number;
        energy_wh: number;
        energy_cost: number;
        currency: string;
        revenue: number | null;
        energy_estimated: number;
      }[];
      this.recent = rows.map((r) =>
        jobEnergy(
          r.id,
          r.started_at,
          r.ended_at,
          r.energy_wh,
          r.energy_cost,
          r.currency,
          r.revenue,
          r.energy_estimated === 1,
        ),
      );
    } catch (err) {
      this.opts.log?.warn('could not read recent job energy', { error: (err as Error).message });
    }
  }

  /** Feeds readings: closes each GPU's slice up to the reading's time, then holds the new power. */
  onSamples(samples: readonly TelemetrySample[]): void {
    for (const s of samples) {
      this.advanceGpu(s.gpuId, s.t);
      const g = this.gpus.get(s.gpuId);
      if (g) {
        if (s.t < g.sampleT) continue;
        g.powerW = s.powerW;
        g.estimated = s.powerEstimated;
        g.sampleT = s.t;
        g.t = Math.max(g.t, s.t);
      } else {
        this.gpus.set(s.gpuId, {
          powerW: s.powerW,
          estimated: s.powerEstimated,
          sampleT: s.t,
          t: s.t,
        });
      }
    }
    if (this.now() - this.lastIdleWrite >= (this.opts.idleFlushMs ?? 5000)) this.writeIdle();
  }

  jobStarted(id: string, opts: JobStartOptions = {}): void {
    const at = opts.at ?? this.now();
    this.advance(at);
    this.active.set(id, {
      id,
      startedAt: at,
      gpuIds: opts.gpuIds ? new Set(opts.gpuIds) : null,
      weight: opts.weight && opts.weight > 0 ? opts.weight : 1,
      wh: 0,
      cost: 0,
      estimated: false,
    });
  }

  setWeight(id: string, weight: number, at = this.now()): void {
    const job = this.active.get(id);
    if (!job || !(weight > 0)) return;
    this.advance(at);
    job.weight = weight;
  }

  jobEnded(id: string, opts: JobEndOptions = {}): JobEnergy | null {
    const job = this.active.get(id);
    if (!job) return null;
    const at = opts.at ?? this.now();
    this.advance(at);
    this.active.delete(id);
    const price = this.priceAt(at);
    const revenue = opts.revenue ?? null;
    const record = jobEnergy(
      id,
      job.startedAt,
      at,
      job.wh,
      job.cost,
      price.currency,
      revenue,
      job.estimated,
    );
    this.store.recordEnergy({
      id,
      startedAt: job.startedAt,
      endedAt: at,
      wh: job.wh,
      cost: job.cost,
      currency: price.currency,
      estimated: job.estimated,
      revenue,
    });
    this.recent.unshift(record);
    if (this.recent.length > KEEP_JOBS) this.recent.length = KEEP_JOBS;
    return record;
  }

  get activeJobs(): number {
    return this.active.size;
  }

  /** Average power of recent jobs (the price floor's basis); null before the first job. */
  expectedJobWatts(sample = 20): number | null {
    const jobs = this.recent.filter((j) => j.avgW > 0).slice(0, sample);
    if (jobs.length === 0) return null;
    return jobs.reduce((s, j) => s + j.avgW, 0) / jobs.length;
  }

  /** Total power of the latest readings. */
  powerNowW(): number | null {
    const now = this.now();
    let sum = 0;
    let any = false;
    for (const g of this.gpus.values())
      if (g.powerW !== null && now - g.sampleT <= this.maxHoldMs) {
        sum += g.powerW;
        any = true;
      }
    return any ? sum : null;
  }

  /** Today, earlier days (newest first) and recent jobs, read back from the job database. */
  summary(opts: { days?: number; jobs?: number } = {}): EnergySummary {
    const nowMs = this.now();
    this.advance(nowMs);
    this.writeIdle();
    const price = this.priceAt(nowMs);
    const today = localDate(new Date(nowMs), this.opts.timeZone);
    const days = (opts.days ?? 30) + 1;
    const agg = this.queries.aggregates({ bucket: 'day', to: today, days });
    const estimated = this.estimatedDays(agg.from);
    const toDay = (b: (typeof agg.buckets)[number]): EnergyDay => ({
      date: b.period,
      currency: b.currency,
      jobKwh: pos(b.jobKwh),
      idleKwh: pos(b.idleKwh),
      jobCost: pos(b.jobCost),
      idleCost: pos(b.idleCost),
      revenue: b.revenue,
      net: b.net,
      jobs: b.jobs + b.testJobs,
      estimated: estimated.has(b.period),
    });
    const all = agg.buckets.filter((b) => b.currency !== '').map(toDay);
    const todays = all.filter((d) => d.date === today);
    const todayRow =
      todays.find((d) => d.currency === price.currency) ??
      todays[0] ??
      emptyDay(today, price.currency);
    return {
      currency: price.currency,
      pricePerKwhNow: price.pricePerKwh,
      powerNowW: this.powerNowW(),
      today: todayRow,
      days: all
        .filter((d) => d !== todayRow)
        .sort((a, b) => b.date.localeCompare(a.date))
        .slice(0, opts.days ?? 30),
      jobs: this.recent.slice(0, opts.jobs ?? 50),
      activeJobs: this.active.size,
    };
  }

  /**
   * Writes the idle draw measured so far. Never rejects (the node calls it from an interval and
   * on stop): a storage failure is logged by the store.
   */
  flush(): Promise<void> {
    try {
      this.advance(this.now());
      this.writeIdle();
    } catch (err) {
      this.opts.log?.error('energy ledger flush failed', { error: (err as Error).message });
    }
    return Promise.resolve();
  }

  private writeIdle(): void {
    this.lastIdleWrite = this.now();
    if (this.pendingIdle.size === 0) return;
    const rows = [...this.pendingIdle.values()];
    // Kept for the next try when the write failed: idle energy is never dropped silently.
    if (this.store.recordIdle(rows)) this.pendingIdle.clear();
  }

  private estimatedDays(from: string): Set<string> {
    const out = new Set<string>();
    try {
      const rows = this.store.db
        .prepare(
          `SELECT DISTINCT substr(hour, 1, 10) AS d FROM idle WHERE hour >= ? AND estimated = 1`,
        )
        .all(`${from}T00`) as { d: string }[];
      for (const r of rows) out.add(r.d);
    } catch {
      /* a read failure only loses the mark */
    }
    for (const p of this.pendingIdle.values())
      if (p.estimated) out.add(localDate(new Date(p.at), this.opts.timeZone));
    return out;
  }

  private priceAt(t: number): LedgerPrice {
    try {
      return this.opts.price(new Date(t));
    } catch (err) {
      this.opts.log?.warn('no electricity price; counting energy at 0', {
        error: (err as Error).message,
      });
      return { pricePerKwh: 0, currency: '' };
    }
  }

  private advance(t: number): void {
    for (const id of this.gpus.keys()) this.advanceGpu(id, t);
  }

  private advanceGpu(id: string, t: number): void {
    const g = this.gpus.get(id);
    if (!g || t <= g.t) return;
    const from = g.t;
    g.t = t;
    if (g.powerW === null) return;
    // A reading holds until the next one, but never longer than maxHoldMs after it was taken.
    const heldMs = Math.min(t, g.sampleT + this.maxHoldMs) - from;
    if (heldMs <= 0) return;
    const wh = (g.powerW * heldMs) / 3_600_000;
    if (wh <= 0) return;
    const price = this.priceAt(from);
    const cost = (wh / 1000) * price.pricePerKwh;
    this.totals.integratedWh += wh;
    let weights = 0;
    for (const job of this.active.values())
      if (!job.gpuIds || job.gpuIds.has(id)) weights += job.weight;
    if (weights > 0) {
      for (const job of this.active.values()) {
        if (job.gpuIds && !job.gpuIds.has(id)) continue;
        const share = job.weight / weights;
        job.wh += wh * share;
        job.cost += cost * share;
        if (g.estimated) job.estimated = true;
      }
      this.totals.jobWh += wh;
    } else {
      const key = `${localHour(from, this.opts.timeZone)}\u0000${price.currency}`;
      const p = this.pendingIdle.get(key);
      if (p) {
        p.wh += wh;
        p.cost += cost;
        if (g.estimated) p.estimated = true;
      } else
        this.pendingIdle.set(key, {
          key,
          at: from,
          currency: price.currency,
          wh,
          cost,
          estimated: g.estimated,
        });
      this.totals.idleWh += wh;
    }
  }
}

function jobEnergy(
  id: string,
  startedAt: number,
  endedAt: number,
  wh: number,
  cost: number,
  currency: string,
  revenue: number | null,
  estimated: boolean,
): JobEnergy {
  const hours = Math.max(endedAt - startedAt, 1) / 3_600_000;
  return {
    id,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    kwh: wh / 1000,
    cost,
    currency,
    revenue,
    net: revenue === null ? null : revenue - cost,
    avgW: wh / hours,
    estimated,
  };
}

function emptyDay(date: string, currency: string): EnergyDay {
  return {
    date,
    currency,
    jobKwh: 0,
    idleKwh: 0,
    jobCost: 0,
    idleCost: 0,
    revenue: 0,
    net: 0,
    jobs: 0,
    estimated: false,
  };
}

/** Sums kept by adding and subtracting floats can end a hair below zero. */
const pos = (x: number): number => (x < 0 ? 0 : x);

const logOpt = (log: ScopedLogger | undefined): { log?: ScopedLogger } => (log ? { log } : {});
