// The node's power side, in one place: GPU detection, the telemetry sampler, the energy ledger,
// the power cap and the earning policy. The node starts it, asks it for a decision whenever
// something changed, and forwards its events to the API.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type {
  EnergySummary,
  GpuInventory,
  PolicyState,
  TelemetryRecent,
  TelemetrySample,
  TelemetryStatus,
} from '../../../shared/api/power';
import type { Settings } from '../../../shared/api/settings';
import type { Logger, ScopedLogger } from '../logs/logger';
import { detectGpus, type DetectOptions } from '../gpu/detect';
import { AmdSysfsSampler, CpuSampler, NvidiaSampler, type Sampler } from '../gpu/telemetry';
import { nominalPowerW } from '../gpu/tdp';
import {
  EnergyLedger,
  type EnergyJobReporter,
  type JobEndOptions,
  type JobStartOptions,
} from '../energy/ledger';
import type { JobEnergy } from '../../../shared/api/power';
import type { JobStore } from '../jobs/store';
import { decidePolicy, type MarketView, type PolicyDecision } from './policy';
import { priceAt } from './tariff';
import { PowerCapController } from './power-cap';
import { headlessSignals, type HostSignals, type PowerSource } from './host-signals';

export interface PowerServicesOptions {
  dataDir: string;
  logger: Logger;
  settings: () => Settings;
  now: () => Date;
  host?: HostSignals;
  timeZone?: string;
  /** Environment of the vendor tools (tests put fake ones on PATH). */
  toolEnv?: NodeJS.ProcessEnv;
  /** false: no detection at all (the node is a CPU provider). */
  detect?: DetectOptions | false;
  /** Telemetry pace: every busyMs while jobs run, idleMs once idle for idleAfterMs. */
  pace?: { busyMs: number; idleMs: number; idleAfterMs: number };
  /** How often time-based rules (schedule, idle, battery) are re-checked. */
  tickMs?: number;
  /** Telemetry kept for the charts. */
  historyMs?: number;
  /** A warning for status and the Dashboard (an unreadable file kept aside, ...). */
  warn?(code: string, message: string): void;
  /** The job record, where the energy ledger keeps job energy and idle draw. */
  jobStore?: JobStore;
}

type PowerEvents = {
  /** Something the policy depends on changed: the node should decide again. */
  changed: [];
  telemetry: [TelemetrySample[]];
  /** The policy's answer or details changed (the node's status event covers state and reason). */
  policy: [PolicyState];
  gpus: [GpuInventory];
};

export class PowerServices extends EventEmitter<PowerEvents> implements EnergyJobReporter {
  readonly ledger: EnergyLedger;
  private inventory: GpuInventory | null = null;
  private detecting: Promise<GpuInventory> | null = null;
  private sampler: Sampler | null = null;
  private history: TelemetrySample[] = [];
  private readonly latest = new Map<string, TelemetrySample>();
  private decision: PolicyDecision | null = null;
  private powerSource: PowerSource = 'unknown';
  private market: MarketView | undefined = undefined;
  private readonly cap: PowerCapController;
  private readonly log: ScopedLogger;
  private readonly host: HostSignals;
  private readonly pace: { busyMs: number; idleMs: number; idleAfterMs: number };
  private tickTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private idlePaceTimer: NodeJS.Timeout | null = null;
  private running = false;
  /** Limits a crashed run left on the GPUs, restored before the first detection. */
  private capRecovery: Promise<void> = Promise.resolve();
  private lastTelemetryStatus: TelemetryStatus = {
    source: 'none',
    running: false,
    intervalMs: 0,
    restarts: 0,
    message: 'GPU detection has not finished yet',
  };

  constructor(private readonly opts: PowerServicesOptions) {
    super();
    this.log = opts.logger.scope('power');
    this.host = opts.host ?? headlessSignals();
    this.pace = opts.pace ?? { busyMs: 1000, idleMs: 5000, idleAfterMs: 30_000 };
    this.cap = new PowerCapController({
      ...(opts.toolEnv ? { env: opts.toolEnv } : {}),
      log: this.log,
      file: join(opts.dataDir, 'power-cap.json'),
      now: opts.now,
      onRecovered: (backup, problem) =>
        opts.warn?.(
          'POWER_CAP_RECORD_RECOVERED',
          `The record of the GPU power limits this node changed could not be read (${problem}). It was kept as ${backup}; if a power cap was on when the node last stopped, check each GPU's limit (nvidia-smi -q -d POWER).`,
        ),
    });
    this.ledger = new EnergyLedger({
      dir: join(opts.dataDir, 'energy'),
      ...(opts.jobStore ? { store: opts.jobStore } : {}),
      price: (at) => priceAt(opts.settings().power.electricity, at, opts.timeZone),
      now: () => opts.now().getTime(),
      ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      log: opts.logger.scope('energy'),
    });
  }

  async start(): Promise<void> {
    this.running = true;
    await this.ledger.load();
    this.capRecovery = this.cap
      .recover()
      .catch((err: unknown) =>
        this.log.error('power cap recovery failed', { error: (err as Error).message }),
      );
    await this.pollPowerSource();
    this.tickTimer = setInterval(() => {
      void this.pollPowerSource().then(() => this.emit('changed'));
    }, this.opts.tickMs ?? 5000);
    this.tickTimer.unref();
    this.flushTimer = setInterval(() => void this.ledger.flush(), 60_000);
    this.flushTimer.unref();
    // Detection runs in the background: the node is up at once, GPUs appear when found.
    void this.redetect().catch((err: unknown) =>
      this.log.error('GPU detection failed', { error: (err as Error).message }),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of [this.tickTimer, this.flushTimer, this.idlePaceTimer]) if (t) clearTimeout(t);
    this.tickTimer = this.flushTimer = this.idlePaceTimer = null;
    // A detection still running (a hung vendor tool) must not hold up the node's stop for long:
    // its result is dropped once stopped.
    if (this.detecting) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.detecting.catch(() => undefined),
        new Promise((r) => (timer = setTimeout(r, 2000))),
      ]);
      clearTimeout(timer);
    }
    // The GPUs get back the limits the cap changed (a failure is logged and tried again at the
    // next start).
    await this.cap.release();
    await this.sampler?.stop();
    this.sampler = null;
    await this.ledger.flush();
  }

  // ------------------------------------------------------------------ GPUs

  /** The detected GPUs; waits for a detection in progress, or runs one when `refresh`. */
  async gpus(refresh = false): Promise<GpuInventory> {
    if (this.detecting) return this.detecting;
    if (!this.inventory || refresh) return this.redetect();
    return this.inventory;
  }

  redetect(): Promise<GpuInventory> {
    if (this.detecting) return this.detecting;
    const run = async (): Promise<GpuInventory> => {
      await this.capRecovery;
      const inv =
        this.opts.detect === false
          ? {
              detectedAt: this.opts.now().toISOString(),
              gpus: [],
              provider: 'cpu' as const,
              summary: 'CPU provider: GPU detection is turned off.',
              toolErrors: [],
            }
          : await detectGpus({
              ...(this.opts.toolEnv ? { env: this.opts.toolEnv } : {}),
              ...this.opts.detect,
              now: this.opts.now,
            });
      this.inventory = inv;
      this.log.info('GPUs detected', {
        summary: inv.summary,
        gpus: inv.gpus.map((g) => ({
          id: g.id,
          name: g.name,
          backends: g.backends,
          reason: g.reason,
        })),
        toolErrors: inv.toolErrors,
      });
      if (this.running) {
        await this.startSampler(inv);
        await this.applyPowerCap();
      }
      this.emit('gpus', inv);
      this.emit('changed');
      return inv;
    };
    this.detecting = run().finally(() => {
      this.detecting = null;
    });
    return this.detecting;
  }

  // ------------------------------------------------------------------ telemetry

  private async startSampler(inv: GpuInventory): Promise<void> {
    await this.sampler?.stop();
    this.sampler = null;
    const nvidia = inv.gpus.filter((g) => g.sources.includes('nvidia-smi'));
    const amd = inv.gpus.filter(
      (g) => g.vendor === 'amd' && g.pciBusId !== null && g.sources.includes('lspci'),
    );
    const cap = this.opts.settings().power.powerCap.wattsPerGpu;
    if (nvidia.length > 0) {
      const fallback = new Map<string, number>();
      for (const g of nvidia) {
        const w = g.powerLimitW ?? cap ?? nominalPowerW(g.name);
        if (w !== null) fallback.set(g.id, w);
      }
      this.sampler = new NvidiaSampler({
        ...(this.opts.toolEnv ? { env: this.opts.toolEnv } : {}),
        fallbackPowerLimits: fallback,
        now: () => this.opts.now().getTime(),
        log: this.log,
      });
    } else if (amd.length > 0 && process.platform === 'linux') {
      this.sampler = new AmdSysfsSampler({
        gpuIds: amd.map((g) => g.pciBusId!),
        now: () => this.opts.now().getTime(),
      });
    } else if (inv.provider === 'cpu') {
      // Jobs run on the CPU: its estimated power feeds the ledger like a GPU's readings.
      this.sampler = new CpuSampler({
        userWatts: () => this.opts.settings().power.cpuWatts,
        now: () => this.opts.now().getTime(),
      });
    } else {
      this.lastTelemetryStatus = {
        source: 'none',
        running: false,
        intervalMs: 0,
        restarts: 0,
        message:
          inv.gpus.length === 0
            ? 'No GPU telemetry: this node is a CPU provider'
            : 'No telemetry source for these GPUs on this system',
      };
      return;
    }
    this.sampler.on('samples', (samples) => this.onSamples(samples));
    this.sampler.on('status', (s) => {
      this.lastTelemetryStatus = s;
    });
    this.sampler.start(this.ledger.activeJobs > 0 ? this.pace.busyMs : this.pace.idleMs);
  }

  private onSamples(samples: TelemetrySample[]): void {
    this.ledger.onSamples(samples);
    for (const s of samples) this.latest.set(s.gpuId, s);
    const history = this.history;
    for (const s of samples) history.push(s);
    const horizon = (samples[0]?.t ?? 0) - (this.opts.historyMs ?? 10 * 60_000);
    if (history.length > 64 && history[0]!.t < horizon) {
      let i = 0;
      while (i < history.length && history[i]!.t < horizon) i++;
      history.splice(0, i);
    }
    this.emit('telemetry', samples);
    // Re-decide only when the temperature rule could change its answer.
    if (this.decision) {
      const { maxC, hysteresisC } = this.opts.settings().power.temperature;
      let hottest = Number.NEGATIVE_INFINITY;
      for (const s of this.latest.values())
        if (s.temperatureC !== null && s.temperatureC > hottest) hottest = s.temperatureC;
      const hot = this.decision.tooHot ? hottest > maxC - hysteresisC : hottest >= maxC;
      if (hot !== this.decision.tooHot) this.emit('changed');
    }
  }

  telemetryRecent(seconds = 600): TelemetryRecent {
    const since = this.opts.now().getTime() - seconds * 1000;
    const status = this.sampler ? this.sampler.status() : this.lastTelemetryStatus;
    return { status, samples: this.history.filter((s) => s.t >= since) };
  }

  // ------------------------------------------------------------------ energy (for the engine)

  jobStarted(id: string, opts?: JobStartOptions): void {
    this.ledger.jobStarted(id, opts);
    if (this.idlePaceTimer) clearTimeout(this.idlePaceTimer);
    this.idlePaceTimer = null;
    this.sampler?.setIntervalMs(this.pace.busyMs);
    this.emit('changed');
  }

  jobEnded(id: string, opts?: JobEndOptions): JobEnergy | null {
    const record = this.ledger.jobEnded(id, opts);
    if (record)
      this.log.info('job energy', {
        job: id,
        kwh: record.kwh,
        cost: record.cost,
        currency: record.currency,
        net: record.net,
        estimated: record.estimated,
      });
    if (this.ledger.activeJobs === 0 && !this.idlePaceTimer) {
      this.idlePaceTimer = setTimeout(() => {
        this.idlePaceTimer = null;
        if (this.ledger.activeJobs === 0) this.sampler?.setIntervalMs(this.pace.idleMs);
      }, this.pace.idleAfterMs);
      this.idlePaceTimer.unref();
    }
    this.emit('changed');
    return record;
  }

  energySummary(days = 30): EnergySummary {
    return this.ledger.summary({ days });
  }

  // ------------------------------------------------------------------ policy

  /** The market client reports what it sees (connection, best offer); undefined: none configured. */
  setMarket(view: MarketView | undefined): void {
    this.market = view;
    this.emit('changed');
  }

  /** One decision of the earning policy, logged when its answer changes. */
  decide(settings: Settings, now: Date): PolicyDecision {
    const inv = this.inventory;
    const prev = this.decision;
    const next = decidePolicy({
      settings: { pause: settings.pause, power: settings.power },
      now,
      ...(this.opts.timeZone ? { timeZone: this.opts.timeZone } : {}),
      telemetry: [...this.latest.values()],
      idleSeconds: this.idleSeconds(),
      powerSource: this.powerSource,
      previous: prev,
      gpus: (inv?.gpus ?? []).map((g) => ({
        id: g.id,
        name: g.name,
        usable: g.usable,
        powerLimitW: g.powerLimitW,
      })),
      powerCapApplied: this.cap.current,
      expectedJobWatts: this.ledger.expectedJobWatts(),
      ...(this.sampler instanceof CpuSampler ? { cpuPower: this.sampler.figure() } : {}),
      ...(this.market ? { market: this.market } : {}),
      activeJobs: this.ledger.activeJobs,
    });
    this.decision = next;
    if (
      !prev ||
      prev.accepting !== next.accepting ||
      prev.reasonCode !== next.reasonCode ||
      prev.reason !== next.reason
    ) {
      this.log.info(
        next.accepting ? 'earning policy: accepting jobs' : 'earning policy: not accepting jobs',
        {
          reasonCode: next.reasonCode,
          reason: next.reason,
        },
      );
    }
    if (
      !prev ||
      prev.reason !== next.reason ||
      prev.accepting !== next.accepting ||
      prev.powerCap.detail !== next.powerCap.detail ||
      prev.priceFloor.perHour !== next.priceFloor.perHour ||
      prev.maxParallelJobs !== next.maxParallelJobs
    ) {
      this.emit('policy', next);
    }
    return next;
  }

  policyState(): PolicyDecision | null {
    return this.decision;
  }

  /** Settings changed: re-apply the power cap if it did. */
  onSettings(): void {
    void this.applyPowerCap();
  }

  private async applyPowerCap(): Promise<void> {
    if (!this.inventory) return;
    const watts = this.opts.settings().power.powerCap.wattsPerGpu;
    const before = this.cap.current;
    const after = await this.cap.apply(watts, this.inventory.gpus);
    if (before.method !== after.method || before.detail !== after.detail) this.emit('changed');
  }

  /** The host's idle time; a host that cannot tell (or fails) counts as idle, like headless. */
  private idleSeconds(): number | null {
    try {
      const s = this.host.idleSeconds();
      return typeof s === 'number' && Number.isFinite(s) ? s : null;
    } catch {
      return null;
    }
  }

  private async pollPowerSource(): Promise<void> {
    try {
      this.powerSource = await this.host.powerSource();
    } catch {
      this.powerSource = 'unknown';
    }
  }
}
