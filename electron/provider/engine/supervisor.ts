// The engine supervisor: owns the engine process (electron/engine), which runs every native
// library, so that a crash there never takes the node down.
//
// - Starts the engine on demand (the first request), configures it, pings it.
// - When it dies or stops answering pings: fails every request in flight at once with
//   ENGINE_CRASHED, then restarts it after a growing delay (reset after a stable period).
// - Stops it gracefully (a `shutdown` request), then forcibly after a grace period.
// - Forwards its logs (protocol `log` messages and its stdout/stderr) to the node's logger.
// - Coalesces ONNX requests made in the same tick into one message (IPC costs more than a
//   small model's inference).
//
// It never imports Electron: the desktop shell passes a spawner built on utilityProcess.fork,
// headless code uses child_process.fork (forkSpawner below).
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { IdlerigError } from '../../../shared/errors';
import {
  ENGINE_METHODS,
  EngineConfigSchema,
  EngineToParentSchema,
  requestBytes,
  type EngineConfigInput,
  type EngineEvent,
  type EngineLimits,
  type EngineMethod,
  type EngineParams,
  type EngineResult,
  type ModelRef,
  type OipInferRequest,
  type OipInferResponse,
  type PackedBatch,
  type PackedTensors,
  oipRequestBytes,
  type ParentToEngine,
  type VerifiedFile,
} from '../../../shared/engine-protocol';
import type { EngineProcessStatus, EngineState } from '../../../shared/api/engine';
import type { ScopedLogger } from '../logs/logger';

// ---------------------------------------------------------------------------------------------
// Spawning

/** A started engine process, whatever started it. */
export interface EngineChild {
  readonly pid: number | undefined;
  send(message: ParentToEngine): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the process is gone (signal null when it exited by itself). */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** Lines the process wrote to stdout/stderr (native libraries print there). */
  onOutput?(listener: (stream: 'stdout' | 'stderr', line: string) => void): void;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export type EngineSpawner = (entry: string, options: { env: NodeJS.ProcessEnv }) => EngineChild;

/**
 * Headless: child_process.fork with structured-clone messages ('advanced' serialization, so
 * tensors travel as typed arrays). Under Electron, pass instead a spawner over
 * utilityProcess.fork(entry, [], { stdio: 'pipe', env, serviceName: 'Idlerig engine' }):
 * send = postMessage, onMessage = on('message'), onExit = on('exit', (code) => ...),
 * kill('SIGKILL') = process.kill(child.pid, 'SIGKILL'), kill('SIGTERM') = child.kill().
 */
export const forkSpawner: EngineSpawner = (entry, { env }) => {
  const child = fork(entry, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env,
    execArgv: [],
  });
  let exited = false;
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  const onGone = (code: number | null, signal: string | null): void => {
    if (exited) return;
    exited = true;
    for (const l of exitListeners) l(code, signal);
  };
  child.on('exit', (code, signal) => onGone(code, signal));
  child.on('error', (err) => {
    // fork failed, or a message could not be sent: the process is unusable.
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    } else onGone(null, `spawn error: ${err.message}`);
  });
  return {
    pid: child.pid,
    send(message) {
      if (child.connected) child.send(message);
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onExit(listener) {
      exitListeners.push(listener);
    },
    onOutput(listener) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const s = child[stream];
        if (!s) continue;
        createInterface({ input: s }).on('line', (line) => listener(stream, line));
      }
    },
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    },
  };
};

/**
 * dist/main/engine.js beside the bundle this module is part of (dist/main/index.js, cli.js), or
 * one folder up when the bundler put this module in a shared chunk (dist/main/chunks/...).
 */
export function defaultEngineEntry(): string {
  const candidates = ['./engine.js', '../engine.js'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

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
  env?: NodeJS.ProcessEnv;
}

export interface RequestOptions {
  signal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
}

interface Pending {
  method: EngineMethod;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  onEvent?: (event: EngineEvent) => void;
  cleanup(): void;
  backstop: NodeJS.Timeout | null;
}

interface OnnxItem {
  request: OipInferRequest;
  resolve(r: OipInferResponse): void;
  reject(err: unknown): void;
  signal?: AbortSignal;
}

type SupervisorEvents = {
  status: [EngineProcessStatus];
  verified: [VerifiedFile];
};

const HOUR = 3_600_000;
/** ONNX requests per engine message, and messages per model on their way at once. */
const ONNX_BATCH_MAX = 256;
const ONNX_IN_FLIGHT = 2;

export class EngineSupervisor extends EventEmitter<SupervisorEvents> {
  private readonly entry: string;
  private readonly spawner: EngineSpawner;
  private readonly backoff: BackoffOptions;
  private config: EngineConfigInput;
  private child: EngineChild | null = null;
  private state: EngineState = 'stopped';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
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
  private readonly onnxQueues = new Map<
    string,
    { model: ModelRef; modelName?: string; items: OnnxItem[]; inFlight: number }
  >();

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.entry = opts.entry ?? defaultEngineEntry();
    this.spawner = opts.spawner ?? forkSpawner;
    this.backoff = { initialMs: 500, factor: 2, maxMs: 30_000, stableMs: 60_000, ...opts.backoff };
    this.config = opts.config;
    // Fail early on a bad configuration, not in the engine process.
    this.limits = EngineConfigSchema.parse(this.config).limits;
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
      inFlight: this.pending.size,
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

  private configureParams(): EngineParams<'configure'> {
    return { ...this.config, verified: [...this.verified.values()] };
  }

  private spawn(): void {
    this.setState('starting');
    this.nextRestartAt = null;
    let child: EngineChild;
    try {
      child = this.spawner(this.entry, {
        env: { ...process.env, ...this.opts.env, IDLERIG_ENGINE: '1' },
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
        this.opts.log.error('the engine refused its configuration', {
          error: (err as Error).message,
        });
        const waiters = this.readyWaiters.splice(0);
        for (const w of waiters) w.reject(err);
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
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.cleanup();
      p.reject(error);
    }
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
    for (const queue of this.onnxQueues.values())
      for (const item of queue.items.splice(0))
        item.reject(new IdlerigError('CANCELLED', 'The engine was stopped'));
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
    const id = this.nextId++;
    return new Promise<EngineResult<M>>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = (): void => {
        if (this.pending.has(id) && this.child === child) child.send({ kind: 'cancel', id });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Backstop for an engine that forgets a job: its own timeout plus a margin.
      const timeoutMs = this.limits.jobTimeoutMs;
      const isJob = method !== 'ping' && method !== 'configure' && method !== 'shutdown';
      const backstop = isJob
        ? setTimeout(() => {
            const p = this.pending.get(id);
            if (!p) return;
            this.pending.delete(id);
            p.cleanup();
            p.reject(
              new IdlerigError(
                'TIMEOUT',
                `The engine did not answer within ${timeoutMs + 5000} ms`,
              ),
            );
          }, timeoutMs + 5000)
        : null;
      this.pending.set(id, {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        cleanup: () => {
          signal?.removeEventListener('abort', onAbort);
          if (backstop) clearTimeout(backstop);
        },
        backstop,
      });
      try {
        child.send({ kind: 'request', id, method, params });
      } catch (err) {
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.cleanup();
        reject(
          new IdlerigError(
            'ENGINE_CRASHED',
            `Could not reach the engine: ${(err as Error).message}`,
          ),
        );
      }
    });
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
        this.pending.get(msg.id)?.onEvent?.(msg.event);
        return;
      case 'result': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        p.cleanup();
        const checked = ENGINE_METHODS[p.method].result.safeParse(msg.result);
        if (!checked.success) {
          log.error('the engine sent an invalid result', {
            method: p.method,
            issues: checked.error.issues
              .slice(0, 3)
              .map((i) => `${i.path.join('.')}: ${i.message}`),
          });
          p.reject(
            new IdlerigError('INTERNAL', `The engine sent an invalid result for ${p.method}`),
          );
          return;
        }
        p.resolve(checked.data);
        this.noteBackend(checked.data);
        return;
      }
      case 'error': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        p.cleanup();
        p.reject(IdlerigError.fromBody(msg.error));
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
   * travel to the engine in one message and run there one after another.
   */
  infer(
    model: ModelRef,
    request: OipInferRequest,
    options: { signal?: AbortSignal; modelName?: string } = {},
  ): Promise<OipInferResponse> {
    if (options.signal?.aborted)
      return Promise.reject(new IdlerigError('CANCELLED', 'The job was cancelled'));
    const max = this.limits.maxRequestBytes;
    const bytes = oipRequestBytes(request);
    if (bytes > max) {
      return Promise.reject(
        new IdlerigError(
          'LIMIT_EXCEEDED',
          `The request is ${bytes} bytes, over the limit of ${max}`,
          {
            limit: 'maxRequestBytes',
            max,
            got: bytes,
          },
        ),
      );
    }
    const key = `${model.sha256}\0${model.file}\0${options.modelName ?? ''}`;
    let queue = this.onnxQueues.get(key);
    if (!queue) {
      queue = {
        model,
        ...(options.modelName ? { modelName: options.modelName } : {}),
        items: [],
        inFlight: 0,
      };
      this.onnxQueues.set(key, queue);
    }
    const q = queue;
    const p = new Promise<OipInferResponse>((resolve, reject) => {
      q.items.push({
        request,
        resolve,
        reject,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    });
    // Requests made in the same tick leave together.
    if (q.items.length === 1 && q.inFlight < ONNX_IN_FLIGHT) setImmediate(() => this.pumpOnnx(key));
    return p;
  }

  /**
   * Sends a model's waiting requests in batches, at most ONNX_IN_FLIGHT batches at a time: one
   * runs in the engine while the next crosses over, and whatever arrives meanwhile joins a
   * later batch (so batches grow with the load, and nothing is serialized long before the
   * engine can take it).
   */
  private pumpOnnx(key: string): void {
    const queue = this.onnxQueues.get(key);
    if (!queue) return;
    while (queue.inFlight < ONNX_IN_FLIGHT && queue.items.length > 0) {
      const items = queue.items.splice(0, ONNX_BATCH_MAX).filter((it) => {
        if (!it.signal?.aborted) return true;
        it.reject(new IdlerigError('CANCELLED', 'The job was cancelled'));
        return false;
      });
      if (items.length === 0) continue;
      queue.inFlight++;
      const requests = items.map((it) => it.request);
      const packed = pack(requests);
      const modelName = queue.modelName ?? queue.model.file;
      this.request('onnx.infer', {
        model: queue.model,
        ...(queue.modelName ? { modelName: queue.modelName } : {}),
        ...(packed ? { packed } : { requests }),
      })
        .then(
          (res) => {
            if (res.packed) {
              let responses: OipInferResponse[];
              try {
                responses = unpack(res.packed, modelName, requests);
              } catch (err) {
                for (const it of items) it.reject(err);
                return;
              }
              items.forEach((it, j) => it.resolve(responses[j]!));
              return;
            }
            res.results.forEach((r, j) => {
              const it = items[j]!;
              if (!r)
                it.reject(new IdlerigError('INTERNAL', 'The engine left a request unanswered'));
              else if (r.ok) it.resolve(r.response);
              else it.reject(IdlerigError.fromBody(r.error));
            });
          },
          (err: unknown) => {
            for (const it of items) it.reject(err);
          },
        )
        .finally(() => {
          queue.inFlight--;
          this.pumpOnnx(key);
        });
    }
    if (queue.items.length === 0 && queue.inFlight === 0) this.onnxQueues.delete(key);
  }
}

const CTORS: Record<string, unknown> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  INT8: Int8Array,
  UINT16: Uint16Array,
  INT16: Int16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  UINT64: BigUint64Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

type Typed = ArrayBufferView & {
  length: number;
  set(a: ArrayLike<number | bigint>, offset: number): void;
  subarray(a: number, b: number): Typed;
};

/**
 * Lays the requests' data end to end when they all have the same tensors (names, datatypes,
 * shapes, typed-array data of the datatype's own array type) and ask for the same outputs: the
 * engine then checks the batch once and the data crosses the process boundary in one piece.
 * Anything else travels as separate requests.
 */
function pack(requests: OipInferRequest[]): PackedBatch | null {
  const head = requests[0];
  if (!head || requests.length < 2) return null;
  const outputs = head.outputs?.map((o) => o.name);
  const same = (r: OipInferRequest): boolean =>
    r.parameters === undefined &&
    r.inputs.length === head.inputs.length &&
    JSON.stringify(r.outputs?.map((o) => o.name)) === JSON.stringify(outputs) &&
    (r.outputs ?? []).every((o) => o.parameters === undefined) &&
    r.inputs.every((t, k) => {
      const h = head.inputs[k]!;
      const Ctor = CTORS[t.datatype] as (new (...a: never[]) => unknown) | undefined;
      const n = t.shape.reduce((a, b) => a * b, 1);
      return (
        t.name === h.name &&
        t.datatype === h.datatype &&
        t.parameters === undefined &&
        t.shape.length === h.shape.length &&
        t.shape.every((d, i) => d === h.shape[i]) &&
        Ctor !== undefined &&
        t.data instanceof Ctor &&
        (t.data as Typed).length === n
      );
    });
  if (!requests.every(same)) return null;
  const inputs: PackedTensors[] = head.inputs.map((h, k) => {
    const n = h.shape.reduce((a, b) => a * b, 1);
    const Ctor = CTORS[h.datatype] as new (n: number) => Typed;
    const data = new Ctor(n * requests.length);
    requests.forEach((r, i) => data.set(r.inputs[k]!.data as unknown as ArrayLike<number>, i * n));
    return { name: h.name, datatype: h.datatype, shape: [...h.shape], data };
  });
  const ids = requests.map((r) => r.id ?? null);
  return {
    count: requests.length,
    inputs,
    ...(ids.some((id) => id !== null) ? { ids } : {}),
    ...(outputs ? { outputs } : {}),
  };
}

/** One response per request from a packed answer (views into its arrays, no copies). */
function unpack(
  packed: { count: number; outputs: PackedTensors[] },
  modelName: string,
  requests: OipInferRequest[],
): OipInferResponse[] {
  const bad = packed.outputs.some(
    (t) => (t.data as Typed).length !== t.shape.reduce((a, b) => a * b, 1) * requests.length,
  );
  if (packed.count !== requests.length || bad)
    throw new IdlerigError('INTERNAL', 'The engine answered a packed batch with the wrong sizes');
  return requests.map((r, i) => ({
    model_name: modelName,
    ...(r.id !== undefined ? { id: r.id } : {}),
    outputs: packed.outputs.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return {
        name: t.name,
        datatype: t.datatype,
        shape: [...t.shape],
        data: (t.data as Typed).subarray(i * n, (i + 1) * n),
      };
    }),
  }));
}
