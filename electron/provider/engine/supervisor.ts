// The engine supervisor: owns the engine process (electron/engine), which runs every native
// library, so that a crash there never takes the node down. This file is the lifecycle and the
// restart policy; beside it: spawner.ts (starting the process, its environment),
// requests.ts (numbered requests and their replies), onnx-batcher.ts (ONNX requests coalesced
// into batches, with a bounded queue).
//
// - Starts the engine on demand (the first request), configures it (within configureTimeoutMs),
//   pings it.
// - When it dies or stops answering pings: fails every request in flight at once with
//   ENGINE_CRASHED, then restarts it after a growing delay (reset after a stable period).
// - Stops it gracefully (a `shutdown` request), then forcibly after a grace period.
// - Forwards its logs (protocol `log` messages and its stdout/stderr) to the node's logger.
//
// It never imports Electron: the desktop shell passes a spawner built on utilityProcess.fork,
// headless code uses child_process.fork (forkSpawner).
import { EventEmitter } from 'node:events';
import { IdlerigError } from '../../../shared/errors';
import {
  EngineConfigSchema,
  EngineToParentSchema,
  requestBytes,
  type EngineConfigInput,
  type EngineLimits,
  type EngineMethod,
  type EngineParams,
  type EngineResult,
  type ModelRef,
  type OipInferRequest,
  type OipInferResponse,
  type VerifiedFile,
} from '../../../shared/engine-protocol';
import type { EngineProcessStatus, EngineState } from '../../../shared/api/engine';
import type { ScopedLogger } from '../logs/logger';
import {
  defaultEngineEntry,
  engineEnv,
  forkSpawner,
  type EngineChild,
  type EngineSpawner,
} from './spawner';
import { PendingRequests, type RequestOptions } from './requests';
import { OnnxBatcher } from './onnx-batcher';

export {
  defaultEngineEntry,
  engineEnv,
  forkSpawner,
  type EngineChild,
  type EngineSpawner,
} from './spawner';
export type { RequestOptions } from './requests';

// ---------------------------------------------------------------------------------------------
// Supervisor

export interface BackoffOptions {
  /** Delay before the first restart after a crash. */
  initialMs: number;
  /** Each further crash multiplies the delay by this... */
  factor: number;
  /** ... up to this. */
  maxMs: number;
  /** A process that stayed up this long resets the delay to initialMs. */
  stableMs: number;
}

export interface SupervisorOptions {
  /** The engine's configuration (models folder, backend, limits...). */
  config: EngineConfigInput;
  log: ScopedLogger;
  /** The bundled engine entry; defaults to dist/main/engine.js beside this bundle. */
  entry?: string;
  spawner?: EngineSpawner;
  backoff?: Partial<BackoffOptions>;
  /** How long the process may take to say it is ready. */
  startTimeoutMs?: number;
  pingIntervalMs?: number;
  /** A ping unanswered this long means the engine hangs: it is killed and restarted. */
  pingTimeoutMs?: number;
  /** Time a `shutdown` gets before the process is killed. */
  stopGraceMs?: number;
  /**
   * How long `configure` may take (the first, and each reconfiguration): past it the engine is
   * taken to hang, killed and restarted, and the caller gets TIMEOUT.
   */
  configureTimeoutMs?: number;
  /** Added to the engine's environment (which is otherwise a short list: spawner.ts engineEnv). */
  env?: NodeJS.ProcessEnv;
}

type SupervisorEvents = {
  status: [EngineProcessStatus];
  verified: [VerifiedFile];
};

const HOUR = 3_600_000;
const CONFIGURE_TIMEOUT_MS = 15_000;

export class EngineSupervisor extends EventEmitter<SupervisorEvents> {
  private readonly entry: string;
  private readonly spawner: EngineSpawner;
  private readonly backoff: BackoffOptions;
  private config: EngineConfigInput;
  private child: EngineChild | null = null;
  private state: EngineState = 'stopped';
  private readonly requests: PendingRequests;
  /** Waiting for the engine to be ready (start, or restart after a crash). */
  private readyWaiters: { resolve(): void; reject(err: unknown): void }[] = [];
  private wanted = false;
  private closed = false;
  private readySince: number | null = null;
  private crashTimes: number[] = [];
  private consecutiveCrashes = 0;
  private restarts = 0;
  private lastCrash: { at: number; reason: string } | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private nextRestartAt: number | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private exitWaiters: (() => void)[] = [];
  private backend: string | null = null;
  private readonly verified = new Map<string, VerifiedFile>();
  private readonly onnx: OnnxBatcher;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.entry = opts.entry ?? defaultEngineEntry();
    this.spawner = opts.spawner ?? forkSpawner;
    this.backoff = { initialMs: 500, factor: 2, maxMs: 30_000, stableMs: 60_000, ...opts.backoff };
    this.config = opts.config;
    // Fail early on a bad configuration, not in the engine process.
    this.limits = EngineConfigSchema.parse(this.config).limits;
    this.requests = new PendingRequests(opts.log);
    this.onnx = new OnnxBatcher(
      (params) => this.request('onnx.infer', params),
      () => this.limits,
    );
  }

  private limits: EngineLimits;
  private crashReason: string | null = null;

  // -------------------------------------------------------------------------------------------
  // Status

  status(): EngineProcessStatus {
    const now = Date.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < HOUR);
    const crashes = this.crashTimes.length;
    const crashedText = `${crashes} time${crashes === 1 ? '' : 's'} in the last hour`;
    let summary: string;
    switch (this.state) {
      case 'stopped':
        summary = 'Stopped; starts with the first job';
        break;
      case 'starting':
        summary = 'Starting';
        break;
      case 'ready':
        summary = crashes > 0 ? `Ready (crashed ${crashedText})` : 'Ready';
        break;
      case 'crashed':
        summary = `Crashed ${crashedText}${
          this.nextRestartAt !== null
            ? `; restarting in ${Math.max(0, Math.ceil((this.nextRestartAt - now) / 1000))} s`
            : ''
        }`;
        break;
      case 'stopping':
        summary = 'Stopping';
        break;
    }
    return {
      state: this.state,
      summary,
      pid: this.child?.pid ?? null,
      readySince: this.readySince !== null ? new Date(this.readySince).toISOString() : null,
      crashesLastHour: crashes,
      restarts: this.restarts,
      lastCrash: this.lastCrash
        ? { at: new Date(this.lastCrash.at).toISOString(), reason: this.lastCrash.reason }
        : null,
      nextRestartAt:
        this.nextRestartAt !== null ? new Date(this.nextRestartAt).toISOString() : null,
      inFlight: this.requests.size,
      backend: this.backend,
    };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private setState(state: EngineState): void {
    this.state = state;
    this.emit('status', this.status());
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Starts the engine if it is not running and waits until it is ready. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new IdlerigError('UNAVAILABLE', 'The engine has been shut down');
    this.wanted = true;
    if (this.state === 'ready') return;
    const ready = new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new IdlerigError('CANCELLED', 'Cancelled while the engine was starting'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.readyWaiters.push(waiter);
    });
    // A crashed engine restarts on its own schedule (growing delay); a stopped one now.
    if (this.state === 'stopped') this.spawn();
    return ready;
  }

  /** New settings; applied at once when the engine runs (models reload with them). */
  async reconfigure(config: EngineConfigInput): Promise<void> {
    this.limits = EngineConfigSchema.parse(config).limits;
    this.config = config;
    if (this.state === 'ready') await this.request('configure', this.configureParams());
  }

  /** Hashes verified by earlier runs (the node persists them); sent to every engine process. */
  seedVerified(files: readonly VerifiedFile[]): void {
    for (const f of files) this.verified.set(f.path, f);
  }

  private configureParams(): EngineParams<'configure'> {
    return { ...this.config, verified: [...this.verified.values()] };
  }

  private spawn(): void {
    this.setState('starting');
    this.nextRestartAt = null;
    let child: EngineChild;
    try {
      child = this.spawner(this.entry, {
        env: engineEnv(process.env, this.opts.env),
      });
    } catch (err) {
      this.onGone(null, `could not start: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    const log = this.opts.log;
    let ready = false;
    const startTimer = setTimeout(() => {
      if (ready || this.child !== child) return;
      log.error('the engine did not become ready in time; killing it', {
        timeoutMs: this.opts.startTimeoutMs ?? 20_000,
      });
      this.crashReason = 'did not start in time';
      child.kill('SIGKILL');
    }, this.opts.startTimeoutMs ?? 20_000);
    child.onExit((code, signal) => {
      clearTimeout(startTimer);
      if (this.child === child) this.onGone(code, signal);
    });
    child.onOutput?.((stream, line) => {
      if (line.trim() === '') return;
      if (stream === 'stderr') log.warn(`engine stderr: ${line}`);
      else log.debug(`engine stdout: ${line}`);
    });
    child.onMessage((raw) => {
      if (this.child !== child) return;
      const parsed = EngineToParentSchema.safeParse(raw);
      if (!parsed.success) {
        log.error('malformed message from the engine', {
          issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`),
        });
        return;
      }
      const msg = parsed.data;
      if (msg.kind === 'ready') {
        ready = true;
        clearTimeout(startTimer);
        this.onEngineReady(child);
        return;
      }
      this.onMessage(msg);
    });
  }

  private onEngineReady(child: EngineChild): void {
    // configure goes out before any queued request (they wait for readiness).
    this.sendRequest('configure', this.configureParams(), {}).then(
      () => {
        if (this.child !== child) return;
        this.readySince = Date.now();
        this.setState('ready');
        this.opts.log.info('engine ready', { pid: child.pid });
        this.startPing(child);
        const waiters = this.readyWaiters.splice(0);
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        const waiters = this.readyWaiters.splice(0);
        for (const w of waiters) w.reject(err);
        // A configure that timed out was a hang: the process is killed already and restarts
        // like after a crash. One the engine refused would be refused again: no restart.
        if (err instanceof IdlerigError && err.code === 'TIMEOUT') return;
        this.opts.log.error('the engine refused its configuration', {
          error: (err as Error).message,
        });
        this.wanted = false;
        this.crashReason = 'configuration refused';
        child.kill('SIGKILL');
      },
    );
  }

  private startPing(child: EngineChild): void {
    const interval = this.opts.pingIntervalMs ?? 5000;
    const timeout = this.opts.pingTimeoutMs ?? 15_000;
    const tick = (): void => {
      if (this.child !== child || this.state !== 'ready') return;
      const timer = setTimeout(() => {
        if (this.child !== child) return;
        this.opts.log.error('the engine stopped answering pings; killing it', {
          timeoutMs: timeout,
        });
        this.crashReason = `no answer to a ping in ${timeout} ms`;
        child.kill('SIGKILL');
      }, timeout);
      this.sendRequest('ping', {}, {})
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          clearTimeout(timer);
          if (this.child === child && this.state === 'ready') {
            this.pingTimer = setTimeout(tick, interval);
            this.pingTimer.unref?.();
          }
        });
    };
    this.pingTimer = setTimeout(tick, interval);
    this.pingTimer.unref?.();
  }

  /** The process is gone: expected (stop) or a crash. */
  private onGone(code: number | null, signal: string | null): void {
    const expected = this.state === 'stopping';
    const reason =
      this.crashReason ??
      (signal ? `killed by ${signal}` : code !== null ? `exited with code ${code}` : 'vanished');
    this.crashReason = null;
    this.child = null;
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = null;
    const upFor = this.readySince !== null ? Date.now() - this.readySince : 0;
    this.readySince = null;

    const error = expected
      ? new IdlerigError('CANCELLED', 'The engine was stopped')
      : new IdlerigError('ENGINE_CRASHED', `The engine process crashed (${reason})`, { reason });
    this.requests.failAll(error);
    for (const w of this.exitWaiters.splice(0)) w();

    if (expected || !this.wanted || this.closed) {
      for (const w of this.readyWaiters.splice(0)) w.reject(error);
      this.setState('stopped');
      return;
    }
    // A crash.
    const now = Date.now();
    this.crashTimes.push(now);
    this.lastCrash = { at: now, reason };
    if (upFor >= this.backoff.stableMs) this.consecutiveCrashes = 0;
    this.consecutiveCrashes++;
    const delay = Math.min(
      this.backoff.maxMs,
      this.backoff.initialMs * this.backoff.factor ** (this.consecutiveCrashes - 1),
    );
    // Requests waiting for a start that never came fail now, like those in flight.
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
    this.nextRestartAt = now + delay;
    this.opts.log.error('the engine crashed; restarting it', { reason, delayMs: delay });
    this.setState('crashed');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.wanted || this.closed || this.state !== 'crashed') return;
      this.restarts++;
      this.spawn();
    }, delay);
  }

  /** Graceful stop (`shutdown`), forced after the grace period. Requests in flight fail with CANCELLED. */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.nextRestartAt = null;
    this.onnx.cancelAll(new IdlerigError('CANCELLED', 'The engine was stopped'));
    const child = this.child;
    if (!child) {
      for (const w of this.readyWaiters.splice(0))
        w.reject(new IdlerigError('CANCELLED', 'The engine was stopped'));
      if (this.state !== 'stopped') this.setState('stopped');
      return;
    }
    this.setState('stopping');
    const gone = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    const grace = this.opts.stopGraceMs ?? 3000;
    const force = setTimeout(() => {
      this.opts.log.warn('the engine did not stop in time; killing it', { graceMs: grace });
      child.kill('SIGKILL');
    }, grace);
    this.sendRequest('shutdown', {}, {}).catch(() => undefined);
    await gone;
    clearTimeout(force);
  }

  /** Stops the engine for good: later requests fail with UNAVAILABLE. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Sends one request (starting the engine if needed) and resolves with its typed result. */
  async request<M extends EngineMethod>(
    method: M,
    params: EngineParams<M>,
    options: RequestOptions = {},
  ): Promise<EngineResult<M>> {
    if (options.signal?.aborted) throw new IdlerigError('CANCELLED', 'The job was cancelled');
    if (method === 'llm.complete' || method === 'llm.chat') {
      const max = this.limits.maxRequestBytes;
      const bytes = requestBytes(params);
      if (bytes > max) {
        throw new IdlerigError(
          'LIMIT_EXCEEDED',
          `The request is ${bytes} bytes, over the limit of ${max}`,
          { limit: 'maxRequestBytes', max, got: bytes },
        );
      }
    }
    if (this.state !== 'ready') await this.start(options.signal);
    return this.sendRequest(method, params, options);
  }

  private sendRequest<M extends EngineMethod>(
    method: M,
    params: EngineParams<M>,
    options: RequestOptions,
  ): Promise<EngineResult<M>> {
    const child = this.child;
    if (!child)
      return Promise.reject(new IdlerigError('ENGINE_CRASHED', 'The engine is not running'));
    let timeout: Parameters<PendingRequests['send']>[4] = null;
    if (method === 'configure') {
      const ms = this.opts.configureTimeoutMs ?? CONFIGURE_TIMEOUT_MS;
      timeout = {
        ms,
        error: () =>
          new IdlerigError('TIMEOUT', `The engine did not take its configuration within ${ms} ms`),
        onTimeout: () => {
          if (this.child !== child) return;
          this.opts.log.error('the engine did not answer configure in time; killing it', {
            timeoutMs: ms,
          });
          this.crashReason = `no answer to configure in ${ms} ms`;
          child.kill('SIGKILL');
        },
      };
    } else if (method !== 'ping' && method !== 'shutdown') {
      // Backstop for an engine that forgets a job: its own timeout plus a margin.
      const ms = this.limits.jobTimeoutMs + 5000;
      timeout = {
        ms,
        error: () => new IdlerigError('TIMEOUT', `The engine did not answer within ${ms} ms`),
      };
    }
    return this.requests.send(child, method, params, options, timeout);
  }

  private onMessage(
    msg: Exclude<ReturnType<typeof EngineToParentSchema.parse>, { kind: 'ready' }>,
  ): void {
    const log = this.opts.log;
    switch (msg.kind) {
      case 'log':
        log[msg.level](msg.msg, msg.data);
        return;
      case 'verified':
        this.verified.set(msg.file.path, msg.file);
        this.emit('verified', msg.file);
        return;
      case 'event':
      case 'result':
      case 'error': {
        const result = this.requests.onMessage(msg);
        if (result !== undefined) this.noteBackend(result);
        return;
      }
    }
  }

  /** The llama.cpp backend, as LLM results and loaded models report it. */
  private noteBackend(result: unknown): void {
    const r = result as { backend?: unknown; llm?: { backend?: unknown } } | null;
    const backend = typeof r?.backend === 'string' ? r.backend : r?.llm?.backend;
    if (typeof backend === 'string' && backend !== this.backend) {
      this.backend = backend;
      this.emit('status', this.status());
    }
  }

  // -------------------------------------------------------------------------------------------
  // Convenience calls

  complete(
    params: EngineParams<'llm.complete'>,
    options?: RequestOptions,
  ): Promise<EngineResult<'llm.complete'>> {
    return this.request('llm.complete', params, options);
  }

  chat(
    params: EngineParams<'llm.chat'>,
    options?: RequestOptions,
  ): Promise<EngineResult<'llm.chat'>> {
    return this.request('llm.chat', params, options);
  }

  async loadedModels(): Promise<EngineResult<'models.list'>['models']> {
    if (this.state !== 'ready') return [];
    return (await this.request('models.list', {})).models;
  }

  /**
   * One Open Inference Protocol request. Requests for the same model made in the same tick
   * travel to the engine in one message and run there one after another (onnx-batcher.ts);
   * past the parent's queue bound the request is refused with QUEUE_FULL.
   */
  infer(
    model: ModelRef,
    request: OipInferRequest,
    options: { signal?: AbortSignal; modelName?: string } = {},
  ): Promise<OipInferResponse> {
    return this.onnx.infer(model, request, options);
  }
}
