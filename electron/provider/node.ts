import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import type { ApiEvent, PolicyState, Settings, Status, Warning } from '../../shared/api';
import { VERSION } from '../../shared/version';
import { IdlerigError } from '../../shared/errors';
import { dataFolderIsAFile, dataPaths, type DataPaths } from './paths';
import { DataDirLock } from './datadir-lock';
import { Logger, type ScopedLogger } from './logs/logger';
import { writeDiagnostics } from './logs/diagnostics';
import { SettingsStore } from './settings/store';
import { ModelRegistry } from './models/registry';
import { ModelsService, type ModelsServiceOptions } from './models/service';
import { factsFromInventory } from './models/fit';
import { EngineService, type EngineServiceOptions } from './engine/service';
import { decideState, type StateDecision } from './state';
import { PowerServices, type PowerServicesOptions } from './policy/power-services';
import { JobsService } from './jobs/service';
import { pauseUntil } from './policy/policy';
import { createNodeMarket, nodeKeyProtection, type NodeMarketOptions } from './market/node-market';
import type { MarketClient } from './market';
import { createNodeWallet } from './wallet/node-wallet';
import type { WalletService } from './wallet/service';
import { DemoNetwork, firstRunDue, type DemoNetworkOptions } from './demo/demo-network';

export interface ProviderNodeOptions {
  dataDir: string;
  mode: 'electron' | 'headless';
  /** Print logs to stderr too (headless). */
  echoLogs?: boolean;
  /** Injected clock, for tests of time-dependent state. */
  now?: () => Date;
  /** Options of the models service (catalog override, download timeouts, free-space probe). */
  models?: Partial<Omit<ModelsServiceOptions, 'modelsDir' | 'registry' | 'log'>>;
  /**
   * GPUs, telemetry, energy and the earning policy. `host` is how the shell reports user idle
   * time and the power source (Electron's powerMonitor; headless: no idle tracking, the OS's
   * power supply); tests inject tool environments (fake nvidia-smi on PATH) and a time zone.
   */
  power?: Partial<
    Pick<PowerServicesOptions, 'host' | 'toolEnv' | 'detect' | 'timeZone' | 'pace' | 'tickMs'>
  >;
  /**
   * The inference engine: configuration the host fixes (backend, threads, limits) and supervisor
   * options (the engine entry; under Electron a spawner over utilityProcess.fork). The user's
   * engine settings (settings.json `engine`) fill every field `config` leaves out; a field
   * `config` gives wins over them (electron/provider/engine/effective-config.ts).
   */
  engine?: Partial<Omit<EngineServiceOptions, 'modelsDir' | 'registry' | 'log' | 'settings'>>;
  /** The market client: command-line gateways, how the node key is kept (market/node-market.ts). */
  market?: NodeMarketOptions;
  /** The local demo network: where its CLI and models are, or why this build cannot run it. */
  demo?: DemoNetworkOptions;
}

type NodeEvents = { event: [ApiEvent] };

/** The whole shutdown fits in 5 s (the shells force an exit a little later). */
export const STOP_BUDGET_MS = 4000;

/** How long after a job's start or end (and other power reports) the node's state is decided. */
const REFRESH_DELAY_MS = 25;

/** Runs fn; rejects when it has not settled within ms. */
function withTimeout(fn: () => Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve().then(fn),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The provider node: owns the data folder, the settings, the logs and the services, and knows
 * why it is or is not earning. It never imports Electron: the desktop shell and the headless
 * command both host it, and both reach it through the same router.
 */
export class ProviderNode extends EventEmitter<NodeEvents> {
  readonly paths: DataPaths;
  readonly mode: 'electron' | 'headless';
  readonly startedAt: Date;
  logger!: Logger;
  settings!: SettingsStore;
  /** Installed models (models/index.json). */
  models!: ModelRegistry;
  /** Catalog, downloads (resumed after a restart), fit estimates, installed models. */
  modelService!: ModelsService;
  /** GPUs, telemetry, the energy ledger (engines report jobStarted/jobEnded here), the policy. */
  power!: PowerServices;
  /** The engine process and its supervisor (started by the first job, stopped with the node). */
  engine!: EngineService;
  /** The job record (jobs.db): every job, its energy and pay; `jobs.recorder` for the market. */
  jobs!: JobsService;
  /** The gateways this node serves (electron/provider/market). */
  market!: MarketClient;
  /** The local demo network this node starts when it is chosen (provider/demo). */
  private demo: DemoNetwork | null = null;
  /** Whether the last status event said the demo network runs. */
  private demoShown = false;
  /** The node key, the payout wallet, balances, claims, withdrawals (wallet/service.ts). */
  wallet!: WalletService;
  private log!: ScopedLogger;
  private readonly lock: DataDirLock;
  private readonly now: () => Date;
  private readonly warnings: Warning[] = [];
  private decision: StateDecision | null = null;
  /**
   * The settings as last announced by the store's change event. The state is derived from these,
   * not from the store's working copy, so a refresh triggered by a background service (telemetry,
   * the policy's clock) while a change is being written cannot get ahead of its settings event.
   */
  private committed: Settings | null = null;
  private pauseTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly stopHooks: Array<{ name: string; run: () => Promise<unknown> }> = [];
  private running = false;
  /** Filled by the hosting shell: what it adds to the node (the login item under Electron). */
  capabilities: Status['capabilities'];

  constructor(private readonly opts: ProviderNodeOptions) {
    super();
    this.paths = dataPaths(opts.dataDir);
    this.mode = opts.mode;
    this.now = opts.now ?? (() => new Date());
    this.startedAt = this.now();
    this.lock = new DataDirLock(this.paths.lock, opts.mode);
    this.capabilities = { loginItem: false, diagnosticsDownload: opts.mode === 'headless' };
  }

  async start(): Promise<void> {
    await mkdir(this.paths.root, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST' || err.code === 'ENOTDIR')
        throw dataFolderIsAFile(this.paths.root) ?? err;
      if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS')
        throw new IdlerigError(
          'CONFLICT',
          `Cannot create the data folder ${this.paths.root}: permission denied. Choose another --data-dir.`,
        );
      throw err;
    });
    await this.lock.acquire();
    try {
      await mkdir(this.paths.models, { recursive: true });
      this.logger = new Logger({ dir: this.paths.logs, echo: this.opts.echoLogs ?? false });
      this.log = this.logger.scope('node');
      this.logger.on('entry', (entry) => this.emit('event', { type: 'log', entry }));

      this.settings = new SettingsStore(this.paths.settings, this.now);
      const report = await this.settings.load();
      this.logger.level = this.settings.get().logs.level;
      if (report.recoveredFrom) {
        const message = `Your settings file could not be read (${report.recoveredFrom.problem}). It was kept as ${report.recoveredFrom.backup} and the defaults were restored.`;
        this.addWarning('SETTINGS_RECOVERED', message);
        this.log.warn('settings file was corrupt; defaults restored', {
          backup: report.recoveredFrom.backup,
        });
      }
      if (report.repaired) {
        const fields = report.repaired.fields.join(', ');
        this.addWarning(
          'SETTINGS_REPAIRED',
          `Some settings were invalid and went back to their defaults: ${fields}. Every other setting was kept; the file as it was is kept as ${report.repaired.backup}.`,
        );
        this.log.warn('settings had invalid fields; those were reset', {
          fields: report.repaired.fields,
          backup: report.repaired.backup,
        });
      }
      if (report.migratedFrom !== undefined) {
        this.log.info('settings migrated', { from: report.migratedFrom });
      }
      this.committed = this.settings.get();
      this.settings.on('change', (s) => this.onSettingsChange(s));

      this.models = new ModelRegistry(this.paths.models);
      const index = await this.models.load(this.now);
      if (index.recovered) {
        const { backup, problem, rebuilt } = index.recovered;
        this.addWarning(
          'MODELS_INDEX_RECOVERED',
          `The list of installed models could not be read (${problem}). It was kept as ${backup} and rebuilt from the model files in the folder (${rebuilt.length} found, each checked again).`,
        );
        this.log.warn('models/index.json was unusable; rebuilt from the files', {
          backup,
          problem,
          rebuilt,
        });
      }
      this.modelService = new ModelsService({
        ...this.opts.models,
        modelsDir: this.paths.models,
        registry: this.models,
        log: this.logger.scope('models'),
      });
      this.modelService.on('event', (event) => this.emit('event', event));
      await this.modelService.start();
      const lostDownloads = this.modelService.downloads.recovered;
      if (lostDownloads) {
        this.addWarning(
          'DOWNLOADS_RECOVERED',
          `The list of unfinished downloads could not be read (${lostDownloads.problem}). It was kept as ${lostDownloads.backup}; start those downloads again (they resume from their partial files).`,
        );
      }

      this.engine = new EngineService({
        ...this.opts.engine,
        modelsDir: this.paths.models,
        registry: this.models,
        log: this.logger.scope('engine'),
        // The user's settings; the power cap's limit follows with the first policy decision.
        settings: this.committed.engine,
        // Every job's energy goes to the ledger (created just below, before any job can run).
        jobs: {
          started: (id) => this.power.jobStarted(id),
          ended: (id) => void this.power.jobEnded(id),
        },
      });
      this.engine.on('event', (event) => this.emit('event', event));
      // Hashes checked by earlier runs (size and mtime unchanged) are not computed again, and
      // every new check is recorded in the models index.
      this.engine.supervisor.seedVerified(await this.models.verifiedFiles());
      this.engine.supervisor.on('verified', (file) => {
        this.models.recordVerified(file).catch((err: unknown) =>
          this.log.warn('could not record a verified model hash', {
            file: file.path,
            error: (err as Error).message,
          }),
        );
      });

      this.jobs = new JobsService({
        file: this.paths.jobsDb,
        exportsDir: this.paths.exports,
        log: this.logger.scope('jobs'),
        retentionDays: () => this.settings.get().jobs.retentionDays,
        now: this.now,
        ...(this.opts.power?.timeZone ? { timeZone: this.opts.power.timeZone } : {}),
      });
      const jobsDb = this.jobs.open();
      if (jobsDb.recoveredFrom)
        this.addWarning(
          'JOBS_DB_RECOVERED',
          `The job history could not be read (${jobsDb.recoveredFrom.problem}). It was kept as ${jobsDb.recoveredFrom.backup} and a new one was started.`,
        );

      this.power = new PowerServices({
        ...this.opts.power,
        jobStore: this.jobs.store,
        dataDir: this.paths.root,
        logger: this.logger,
        settings: () => this.settings.get(),
        now: this.now,
        warn: (code, message) => this.addWarning(code, message),
      });
      this.power.on('changed', () => this.refreshSoon());
      this.power.on('telemetry', (samples) => this.emit('event', { type: 'telemetry', samples }));
      await this.power.start();
      // The fit estimate of the Models page uses the GPUs the power services detected.
      if (!this.opts.models?.machineFacts) {
        this.modelService.setMachineFacts(async () => factsFromInventory(await this.power.gpus()));
      }

      this.running = true;
      // One protection for the node key and the payout wallet: a headless node asks for its
      // passphrase once, not once for each.
      const keys = {
        ...this.opts.market,
        keyProtection: nodeKeyProtection(this.mode, this.opts.market),
      };
      this.market = createNodeMarket(this, keys);
      this.wallet = createNodeWallet(this, keys);
      this.onStop('wallet', async () => this.wallet.stop());
      this.market.start();
      // The local demo network, when chosen (or a fresh install's default under `npm start`).
      const demo = new DemoNetwork(this, this.opts.demo);
      this.demo = demo;
      this.onStop('demo network', () => demo.shutdown());
      // It follows the settings from onSettingsChange.
      demo.onSettings();
      this.refreshState();
      this.log.info('node started', {
        version: VERSION,
        mode: this.mode,
        dataDir: this.paths.root,
        pid: process.pid,
      });
    } catch (err) {
      // Whatever had started stops again (downloads resumed, the engine, the sampler), so a
      // failed start leaves nothing running and nothing half-written.
      const started: Array<Promise<unknown> | undefined> = [
        this.engine?.stop(),
        this.modelService?.stop(),
        this.power?.stop(),
        this.settings?.flush(),
        Promise.resolve().then(() => this.market?.stop()),
      ];
      await Promise.allSettled(started);
      await Promise.resolve()
        .then(() => this.jobs?.close())
        .catch(() => undefined);
      this.log?.error('node did not start', { error: (err as Error).message });
      await this.logger?.close().catch(() => undefined);
      await this.lock.release();
      throw err;
    }
  }

  /**
   * Stops the node within STOP_BUDGET_MS: data flushed first (settings, models index), then the
   * engine and the downloads, the power services (energy ledger, power cap), the servers the
   * host registered, and last the logs and the data-folder lock. Each step is settled on its
   * own, with its share of the budget: one that fails or hangs is logged and the rest still run.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const deadline = Date.now() + STOP_BUDGET_MS;
    const failed: string[] = [];
    const steps = async (named: Array<[string, () => Promise<unknown>]>): Promise<void> => {
      const left = Math.max(50, deadline - Date.now() - 300);
      const results = await Promise.allSettled(named.map(([, fn]) => withTimeout(fn, left)));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        const step = named[i]![0];
        failed.push(step);
        this.log.error('a step of the shutdown failed; the others go on', {
          step,
          error: r.reason instanceof Error ? r.reason.message : String(r.reason),
        });
      });
    };
    await steps([
      ['settings', () => this.settings.flush()],
      ['models index', () => this.models.flush()],
    ]);
    await steps([['market', async () => this.market?.stop()]]);
    await steps([
      ['engine', () => this.engine.stop()],
      ['downloads', () => this.modelService.stop()],
    ]);
    await steps([['power', () => this.power.stop()]]);
    await steps([['jobs', async () => this.jobs.close()]]);
    await steps(this.stopHooks.map(({ name, run }) => [name, run]));
    await steps([['settings', () => this.settings.flush()]]);
    this.log.info('node stopped', {
      uptimeSeconds: this.uptimeSeconds(),
      ...(failed.length ? { failedSteps: failed } : {}),
    });
    await this.logger.close().catch(() => undefined);
    await this.lock.release().catch(() => undefined);
    this.removeAllListeners();
  }

  /**
   * A step the host adds to the shutdown (the HTTP server, the endpoint file): run after the
   * engine, downloads and power services, before the logs close and the lock is released.
   */
  onStop(name: string, run: () => Promise<unknown>): void {
    this.stopHooks.push({ name, run });
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The headless dashboard's event socket counts (set by headless.ts beside its server). */
  eventStats: (() => NonNullable<Status['eventSockets']>) | null = null;

  status(): Status {
    const d = this.decision ?? decideState({ settings: this.settings.get(), now: this.now() });
    return {
      state: d.state,
      reasonCode: d.reasonCode,
      reason: d.reason,
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: this.uptimeSeconds(),
      mode: this.mode,
      dataDir: this.paths.root,
      pausedUntil: d.pausedUntil,
      warnings: [...this.warnings],
      earningsToday: this.jobs ? this.jobs.earningsToday() : null,
      firstRun: firstRunDue(this.settings.get().network),
      demoNetwork: this.demo?.active ?? false,
      ...(this.eventStats ? { eventSockets: this.eventStats() } : {}),
      capabilities: { ...this.capabilities },
    };
  }

  /** Pauses for N minutes, until tomorrow 07:00 local time ('tomorrow'), or until resumed (null). */
  async pause(minutes: number | null | 'tomorrow'): Promise<Status> {
    const now = this.now();
    const until = pauseUntil(minutes === 'tomorrow' ? { until: 'tomorrow' } : { minutes }, now);
    await this.settings.mutate((s) => {
      s.pause = { since: now.toISOString(), until };
    });
    this.log.info('paused by the user', { until });
    return this.status();
  }

  async resume(): Promise<Status> {
    await this.settings.mutate((s) => {
      s.pause = null;
    });
    this.log.info('resumed by the user');
    return this.status();
  }

  /** The earning policy's current answer, every rule with its verdict. */
  policy(): PolicyState {
    return this.power.policyState() ?? this.power.decide(this.settings.get(), this.now());
  }

  async exportDiagnostics(): Promise<{ fileName: string; path: string; bytes: number }> {
    const result = await writeDiagnostics({
      dir: this.paths.diagnostics,
      version: VERSION,
      mode: this.mode,
      settings: this.settings.get(),
      logFiles: this.logger.files(),
      extra: { status: this.status() },
    });
    this.log.info('diagnostics bundle written', { file: result.fileName, bytes: result.bytes });
    return result;
  }

  private uptimeSeconds(): number {
    return Math.max(0, (this.now().getTime() - this.startedAt.getTime()) / 1000);
  }

  /** A warning shown in status and on the Dashboard until the node restarts. */
  addWarning(code: string, message: string): void {
    this.warnings.push({ code, message, at: this.now().toISOString() });
  }

  /**
   * The warning of `code` that holds while its cause lasts (null: it is over), in place of any
   * earlier one of that code; the Dashboard hears of the change at once.
   */
  setWarning(code: string, message: string | null): void {
    const at = this.warnings.findIndex((w) => w.code === code);
    if (message === null && at < 0) return;
    if (at >= 0 && this.warnings[at]!.message === message) return;
    if (at >= 0) this.warnings.splice(at, 1);
    if (message !== null) this.addWarning(code, message);
    if (this.running) this.emit('event', { type: 'status', status: this.status() });
  }

  private onSettingsChange(settings: Settings): void {
    this.committed = settings;
    this.logger.level = settings.logs.level;
    this.emit('event', { type: 'settings', settings });
    this.power.onSettings();
    this.jobs.onSettings();
    this.market?.onSettings();
    // Before the state is recomputed, so the status it sends says whether the demo network runs.
    this.demo?.onSettings();
    this.refreshState();
  }

  /**
   * What the power services report (a job started or ended, the market's view, a reading) is
   * decided REFRESH_DELAY_MS later, once for a burst: a decision and the status event of a
   * changed state take about a millisecond of this thread, which must not fall in the turn that
   * forwards a job's first token. A setting changed by the user is decided at once.
   */
  private refreshSoon(): void {
    if (this.refreshTimer || !this.running) return;
    this.refreshTimer = setTimeout(() => this.refreshState(), REFRESH_DELAY_MS);
    this.refreshTimer.unref();
  }

  /** Recomputes the state; emits a status event when it changed; arms the pause-expiry timer. */
  private refreshState(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (!this.running) return;
    const settings = this.committed ?? this.settings.get();
    const next = this.power
      ? this.power.decide(settings, this.now())
      : decideState({ settings, now: this.now() });
    const prev = this.decision;
    this.decision = next;
    // The engine follows the settings and the policy's limit on jobs at once (a power cap that
    // the driver could not apply is kept by lower parallelism); a no-op when nothing changed.
    this.engine.applySettings(settings.engine, {
      maxParallelJobs: next.maxParallelJobs,
      detail: next.powerCap.detail,
    });
    // Gateways hear of a pause and of a changed price floor or parallelism.
    this.market?.onPolicy();
    const changed = !prev || prev.state !== next.state || prev.reason !== next.reason;
    if (changed)
      this.log.info('state changed', {
        state: next.state,
        reasonCode: next.reasonCode,
        reason: next.reason,
      });
    // The Dashboard's demo notice follows the demo network (chosen or left in the settings).
    const demo = this.demo?.active ?? false;
    if (changed || demo !== this.demoShown) {
      this.demoShown = demo;
      this.emit('event', { type: 'status', status: this.status() });
    }
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    const until = settings.pause?.until;
    if (until) {
      const ms = Date.parse(until) - this.now().getTime();
      if (ms <= 0) {
        this.settings
          .mutate((s) => {
            s.pause = null;
          })
          .catch((err: unknown) => {
            // The pause stays on disk; the next refresh tries again.
            this.log.warn('could not end an expired pause', { error: (err as Error).message });
          });
      } else {
        // setTimeout holds at most ~24.8 days; re-check on wake-up.
        this.pauseTimer = setTimeout(() => this.refreshState(), Math.min(ms + 50, 2 ** 31 - 1));
        this.pauseTimer.unref();
      }
    }
  }
}
