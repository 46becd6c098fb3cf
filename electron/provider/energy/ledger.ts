// The energy ledger: integrates the measured power of every GPU over time and attributes each
// slice to the jobs running on that GPU in that slice (shared by their weights), or to idle draw.
//
// Integration: a GPU's last reading holds until the next one (zero-order hold), capped at
// `maxHoldMs` so a dead sampler does not invent energy. Job starts and ends cut the slices, so a
// job gets exactly the energy of the time it ran. Hence, by construction:
//   Σ job energy + idle energy = ∫ power dt   (every slice goes to exactly one of them)
// Each slice is priced at the electricity price of its start (time-of-use tariff applied).
//
// Persistence (data folder/energy): days.json (per-day totals, written atomically every minute
// and on stop) and jobs.jsonl (one line per finished job, appended; rotated at 5 MB).
import { appendFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  EnergyDay,
  EnergySummary,
  JobEnergy,
  TelemetrySample,
} from '../../../shared/api/power';
import type { ScopedLogger } from '../logs/logger';
import { SerialQueue, writeFileAtomic } from '../util/atomic-write';
import { localDate } from '../policy/local-time';

export interface LedgerPrice {
  pricePerKwh: number;
  currency: string;
}

export interface EnergyLedgerOptions {
  /** Folder of days.json and jobs.jsonl; null keeps everything in memory (tests, benchmark). */
  dir: string | null;
  price: (at: Date) => LedgerPrice;
  now?: () => number;
  timeZone?: string;
  /** Longest a reading is held without a new one. */
  maxHoldMs?: number;
  log?: ScopedLogger;
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

interface DayTotals {
  date: string;
  currency: string;
  jobWh: number;
  idleWh: number;
  jobCost: number;
  idleCost: number;
  revenue: number;
  jobs: number;
  estimated: boolean;
}

const KEEP_DAYS = 400;
const KEEP_JOBS = 200;
const ROTATE_BYTES = 5 * 1024 * 1024;

export class EnergyLedger implements EnergyJobReporter {
  private readonly gpus = new Map<string, GpuState>();
  private readonly active = new Map<string, ActiveJob>();
  private readonly days = new Map<string, DayTotals>();
  private recent: JobEnergy[] = [];
  private readonly queue = new SerialQueue();
  private readonly now: () => number;
  private readonly maxHoldMs: number;
  private dirty = false;
  /** Every watt-hour integrated since this ledger was created (tests check the attribution). */
  readonly totals = { jobWh: 0, idleWh: 0, integratedWh: 0 };

  constructor(private readonly opts: EnergyLedgerOptions) {
    this.now = opts.now ?? Date.now;
    this.maxHoldMs = opts.maxHoldMs ?? 30_000;
  }

  get dir(): string | null {
    return this.opts.dir;
  }

  async load(): Promise<void> {
    const dir = this.opts.dir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    try {
      const doc = JSON.parse(await readFile(join(dir, 'days.json'), 'utf8')) as {
        days?: DayTotals[];
      };
      for (const d of doc.days ?? []) if (d && typeof d.date === 'string') this.days.set(d.date, d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.opts.log?.warn('energy days.json unreadable; starting a new one', {
          error: (err as Error).message,
        });
    }
    try {
      const lines = (await readFile(join(dir, 'jobs.jsonl'), 'utf8')).split('\n');
      const jobs: JobEnergy[] = [];
      for (const line of lines.slice(-KEEP_JOBS - 1)) {
        if (!line.trim()) continue;
        try {
          jobs.push(JSON.parse(line) as JobEnergy);
        } catch {
          /* a torn last line after a crash */
        }
      }
      this.recent = jobs.reverse();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
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
    const price = this.opts.price(new Date(at));
    const revenue = opts.revenue ?? null;
    const hours = Math.max(at - job.startedAt, 1) / 3_600_000;
    const record: JobEnergy = {
      id,
      startedAt: new Date(job.startedAt).toISOString(),
      endedAt: new Date(at).toISOString(),
      kwh: job.wh / 1000,
      cost: job.cost,
      currency: price.currency,
      revenue,
      net: revenue === null ? null : revenue - job.cost,
      avgW: job.wh / hours,
      estimated: job.estimated,
    };
    const day = this.day(new Date(at), price.currency);
    day.jobs++;
    if (revenue !== null) day.revenue += revenue;
    this.dirty = true;
    this.recent.unshift(record);
    if (this.recent.length > KEEP_JOBS) this.recent.length = KEEP_JOBS;
    void this.appendJob(record);
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

  summary(opts: { days?: number; jobs?: number } = {}): EnergySummary {
    const nowMs = this.now();
    this.advance(nowMs);
    const price = this.opts.price(new Date(nowMs));
    const today = localDate(new Date(nowMs), this.opts.timeZone);
    const toDay = (d: DayTotals): EnergyDay => ({
      date: d.date,
      currency: d.currency,
      jobKwh: d.jobWh / 1000,
      idleKwh: d.idleWh / 1000,
      jobCost: d.jobCost,
      idleCost: d.idleCost,
      revenue: d.revenue,
      net: d.revenue - d.jobCost,
      jobs: d.jobs,
      estimated: d.estimated,
    });
    const empty: DayTotals = {
      date: today,
      currency: price.currency,
      jobWh: 0,
      idleWh: 0,
      jobCost: 0,
      idleCost: 0,
      revenue: 0,
      jobs: 0,
      estimated: false,
    };
    return {
      currency: price.currency,
      pricePerKwhNow: price.pricePerKwh,
      powerNowW: this.powerNowW(),
      today: toDay(this.days.get(today) ?? empty),
      days: [...this.days.values()]
        .filter((d) => d.date !== today)
        .sort((a, b) => b.date.localeCompare(a.date))
        .slice(0, opts.days ?? 30)
        .map(toDay),
      jobs: this.recent.slice(0, opts.jobs ?? 50),
      activeJobs: this.active.size,
    };
  }

  /** Writes days.json if anything changed (the node calls this every minute and on stop). */
  flush(): Promise<void> {
    const dir = this.opts.dir;
    return this.queue.run(async () => {
      if (!dir) return;
      this.advance(this.now());
      if (!this.dirty) return;
      this.dirty = false;
      const days = [...this.days.values()].sort((a, b) => a.date.localeCompare(b.date));
      await writeFileAtomic(
        join(dir, 'days.json'),
        `${JSON.stringify({ version: 1, days: days.slice(-KEEP_DAYS) })}\n`,
      );
    });
  }

  private appendJob(record: JobEnergy): Promise<void> {
    const dir = this.opts.dir;
    if (!dir) return Promise.resolve();
    return this.queue
      .run(async () => {
        const file = join(dir, 'jobs.jsonl');
        try {
          if ((await stat(file)).size > ROTATE_BYTES) await rename(file, join(dir, 'jobs.1.jsonl'));
        } catch {
          /* no file yet */
        }
        await appendFile(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      })
      .catch((err: unknown) => {
        this.opts.log?.error('could not record a job in the energy ledger', {
          error: (err as Error).message,
        });
      });
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
    const at = new Date(from);
    const price = this.opts.price(at);
    const cost = (wh / 1000) * price.pricePerKwh;
    const day = this.day(at, price.currency);
    if (g.estimated) day.estimated = true;
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
      day.jobWh += wh;
      day.jobCost += cost;
      this.totals.jobWh += wh;
    } else {
      day.idleWh += wh;
      day.idleCost += cost;
      this.totals.idleWh += wh;
    }
    this.dirty = true;
  }

  private day(at: Date, currency: string): DayTotals {
    const date = localDate(at, this.opts.timeZone);
    let d = this.days.get(date);
    if (!d) {
      d = {
        date,
        currency,
        jobWh: 0,
        idleWh: 0,
        jobCost: 0,
        idleCost: 0,
        revenue: 0,
        jobs: 0,
        estimated: false,
      };
      this.days.set(date, d);
      if (this.days.size > KEEP_DAYS + 10) {
        const oldest = [...this.days.keys()].sort()[0];
        if (oldest) this.days.delete(oldest);
      }
    }
    d.currency = currency;
    return d;
  }
}
