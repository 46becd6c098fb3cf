// The engine as the provider node uses it: the supervisor (started with the first job, stopped
// with the node), jobs on installed models by id (jobs.ts), the "Test a model" call of the API,
// and the engine's state (with the jobs running now) as API events.
//
// ---------------------------------------------------------------------------------------------
// For the market client (and anything else that runs jobs): call `node.engine.runJob`.
//
//   const outcome = await node.engine.runJob(
//     {
//       id: offer.jobId,                 // unique among running jobs; the ledger's job id too
//       modelId: 'stories260k',          // an installed model's id
//       input: { kind: 'chat', messages: [{ role: 'user', content: 'Hi' }],
//                sampling: { max_tokens: 256, temperature: 0.7, seed: 1 } },
//       // or { kind: 'completion', prompt, sampling } / { kind: 'tensor', request: OipInferRequest }
//     },
//     {
//       // Streaming with backpressure: return a promise (e.g. until the socket drained) and
//       // later chunks are merged into one until it settles. A throw/rejection cancels the job.
//       onChunk: async ({ text, tokens, completionTokens }) => { await send(text); },
//       signal,                          // optional; aborting = cancelJob(id)
//     },
//   );
//   node.engine.cancelJob(offer.jobId); // cancel by id from anywhere (true if it was running)
//
// The outcome: `output` ({ text } or { response }), `finishReason` ('stop' | 'length' |
// 'cancelled'), `usage` (prompt/completion/total tokens; null for tensor jobs), `timings`
// (ttftMs, queueMs, loadMs, decodeTokensPerSecond, totalMs), `backend`, `threads`, and `input`:
// exactly what the engine ran (model file + sha256, every sampling field with its default
// filled in) — hash `input` and `output` for a receipt. The text of `output` is the whole
// answer, equal to the chunks joined.
//
// Errors are IdlerigError: NOT_FOUND (no such model), CONFLICT (id already running),
// INVALID_PARAMS (a language model asked for a tensor job or the reverse), INVALID_INPUT
// (tensors that do not fit the model), LIMIT_EXCEEDED (prompt, max_tokens, request size),
// QUEUE_FULL (the engine's queue is full: decline the offer), CANCELLED (cancelled before the
// engine took it; once it runs a cancel ends it with finishReason 'cancelled' and the partial
// text), TIMEOUT, ENGINE_CRASHED, UNAVAILABLE.
//
// Energy: the job is reported to the energy ledger (jobStarted/jobEnded under its id) by this
// service, once the engine took it (an LLM job when it got a sequence, a tensor job once its
// input was checked): a refused job never counts. Do not report it to the ledger yourself.
// The job shows on the Dashboard's engine card while it runs.
// ---------------------------------------------------------------------------------------------
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { IdlerigError } from '../../../shared/errors';
import type { ApiEvent } from '../../../shared/api';
import {
  defaultEngineSettings,
  type EngineSettings,
  type EngineStatus,
  type EngineTestEvent,
  type EngineTestResult,
} from '../../../shared/api/engine';
import type { EngineTestParamsSchema } from '../../../shared/api/engine';
import type {
  LoadedModel,
  ModelRef,
  OipDatatype,
  OipTensor,
} from '../../../shared/engine-protocol';
import type { z } from 'zod';
import type { ScopedLogger } from '../logs/logger';
import type { InstalledModel, ModelRegistry } from '../models/registry';
import { EngineSupervisor, type SupervisorOptions } from './supervisor';
import {
  changedFields,
  effectiveEngineConfig,
  type EffectiveEngineConfig,
  type HostEngineConfig,
} from './effective-config';
import {
  EngineJobs,
  type EngineJobOptions,
  type EngineJobOutcome,
  type EngineJobSpec,
} from './jobs';

export type {
  EngineJobChunk,
  EngineJobInput,
  EngineJobOptions,
  EngineJobOutcome,
  EngineJobRan,
  EngineJobSpec,
} from './jobs';

export interface EngineServiceOptions {
  modelsDir: string;
  registry: ModelRegistry;
  log: ScopedLogger;
  /**
   * Engine configuration fixed by the host (backend, threads, limits, ...): where it gives a
   * field, that field ignores the user's settings (effective-config.ts).
   */
  config?: HostEngineConfig;
  /** The user's engine settings at start (settings.json); later ones come with applySettings. */
  settings?: EngineSettings;
  /** Supervisor options: the engine entry, an Electron spawner, restart delays, ... */
  supervisor?: Partial<Omit<SupervisorOptions, 'config' | 'log'>>;
  /**
   * Told when a job starts (the engine took it: never for a refused job) and ends, so its
   * energy is measured (the node's energy ledger).
   */
  jobs?: { started(id: string): void; ended(id: string): void };
}

type TestParams = z.output<typeof EngineTestParamsSchema>;

/** engine.status events for changes of the running jobs: at most one per this many ms. */
const JOBS_EVENT_MS = 250;
/** …and never sooner than this after the change. */
const JOBS_EVENT_MIN_MS = 25;

export class EngineService extends EventEmitter<{ event: [ApiEvent] }> {
  readonly supervisor: EngineSupervisor;
  private readonly jobs: EngineJobs;
  /** The configuration applied (or being applied) to the engine, and how it came about. */
  private effective: EffectiveEngineConfig;
  /**
   * The latest reconfiguration on its way to the engine (null once it is there); jobs of this
   * service wait for it. Null rather than a settled promise so that a job asked for while none
   * is in flight reaches the engine in the same turn: an `await` of a settled promise would let
   * whatever the caller does next (the market client hashes the input) run first.
   */
  private applying: Promise<void> | null = null;

  constructor(private readonly opts: EngineServiceOptions) {
    super();
    this.effective = effectiveEngineConfig(
      opts.config,
      opts.settings ?? defaultEngineSettings(),
      null,
    );
    this.supervisor = new EngineSupervisor({
      ...opts.supervisor,
      config: { ...this.effective.config, modelsDir: opts.modelsDir },
      log: opts.log,
    });
    opts.log.info('engine settings', { ...this.effective.view });
    this.jobs = new EngineJobs(this.supervisor, opts.registry, opts.log, opts.jobs);
    this.supervisor.on('status', (engine) => {
      this.emit('event', { type: 'engine.status', engine: this.withNodeView(engine) });
      // A process that is gone holds no model.
      if (engine.state !== 'ready') this.markLoaded([]);
    });
    this.jobs.on('changed', () => this.jobsChanged());
  }

  status(): EngineStatus {
    return this.withNodeView(this.supervisor.status());
  }

  private lastJobsEvent = 0;
  private jobsTimer: NodeJS.Timeout | null = null;

  /**
   * The running jobs changed: an engine.status event JOBS_EVENT_MIN_MS later (never in the turn
   * that sends a job to the engine or forwards its first token: building the status costs a
   * fraction of a millisecond), or when JOBS_EVENT_MS have passed since the last one, carrying
   * the latest list. Many short jobs a second (tensor jobs) thus cost a few events a second, and
   * the last state always goes out.
   */
  private jobsChanged(): void {
    if (this.jobsTimer) return;
    const wait = Math.max(
      JOBS_EVENT_MIN_MS,
      this.lastJobsEvent + JOBS_EVENT_MS - performance.now(),
    );
    const send = (): void => {
      this.jobsTimer = null;
      this.lastJobsEvent = performance.now();
      this.emit('event', { type: 'engine.status', engine: this.status() });
    };
    this.jobsTimer = setTimeout(send, wait);
    this.jobsTimer.unref?.();
  }

  private withNodeView(engine: ReturnType<EngineSupervisor['status']>): EngineStatus {
    return {
      ...engine,
      config: this.view(),
      jobs: this.jobs.list(),
      cpuCores: availableParallelism(),
    };
  }

  /** Runs one job on an installed model (see the top of this file). */
  runJob(spec: EngineJobSpec, options?: EngineJobOptions): Promise<EngineJobOutcome> {
    // A job asked for right after a settings change runs with the new settings.
    const applying = this.applying;
    if (applying) return applying.then(() => this.jobs.run(spec, options));
    return this.jobs.run(spec, options);
  }

  /** Cancels a running job by id; false when no such job runs. */
  cancelJob(id: string): boolean {
    return this.jobs.cancel(id);
  }

  private view(): EngineStatus['config'] {
    return structuredClone(this.effective.view);
  }

  /**
   * The user's engine settings and the earning policy's limit on jobs at once (a power cap kept
   * by lower parallelism). When the configuration they make differs from the one applied, the
   * change is logged and the engine reconfigured at once: a running engine takes it for its
   * next jobs (loaded models reload with it), a stopped one starts with it.
   */
  applySettings(
    settings: EngineSettings,
    limit: { maxParallelJobs: number | null; detail?: string } = { maxParallelJobs: null },
  ): void {
    const next = effectiveEngineConfig(this.opts.config, settings, limit.maxParallelJobs);
    const prev = this.effective;
    if (
      JSON.stringify(next.config) === JSON.stringify(prev.config) &&
      JSON.stringify(next.view) === JSON.stringify(prev.view)
    )
      return;
    this.effective = next;
    const v = next.view;
    this.opts.log.info('engine settings changed', {
      changed: changedFields(prev.view, v),
      ...v,
      ...(v.parallelismCappedBy === 'power-cap'
        ? {
            why: `Parallel jobs lowered from ${v.parallelismSetting} to ${v.parallelism} to keep the power cap${limit.detail ? ` (${limit.detail})` : ''}`,
          }
        : {}),
    });
    const config = { ...next.config, modelsDir: this.opts.modelsDir };
    const applying: Promise<void> = (this.applying ?? Promise.resolve())
      .then(() => this.supervisor.reconfigure(config))
      .catch((err: unknown) => {
        this.opts.log.warn('the engine did not take its new settings', {
          error: (err as Error).message,
        });
      })
      .finally(() => {
        if (this.applying === applying) this.applying = null;
      });
    this.applying = applying;
    this.emit('event', { type: 'engine.status', engine: this.status() });
  }

  async loadedModels(): Promise<LoadedModel[]> {
    const models = await this.supervisor.loadedModels();
    this.markLoaded(models);
    return models;
  }

  /** The installed model `id` as the engine names it, marked in use until release(). */
  useModel(id: string): { model: InstalledModel; ref: ModelRef; release(): void } {
    return this.jobs.useModel(id);
  }

  private markLoaded(loaded: LoadedModel[]): void {
    for (const m of this.opts.registry.list()) {
      this.opts.registry.setLoaded(
        m.id,
        loaded.some((l) => l.sha256 === m.sha256 && l.file === m.file),
      );
    }
  }

  cancelTest(testId: string): { cancelled: boolean } {
    return { cancelled: this.jobs.cancel(`test-${testId}`) };
  }

  /** A short job on an installed model, streamed as `engine.test` events. */
  /** `signal`: the caller is gone (its page closed): the test is cancelled as by cancelTest. */
  async test(params: TestParams, opts: { signal?: AbortSignal } = {}): Promise<EngineTestResult> {
    if (this.applying) await this.applying;
    const testId = params.testId ?? randomBytes(9).toString('base64url');
    const model = this.opts.registry.get(params.modelId);
    if (!model)
      throw new IdlerigError('NOT_FOUND', `No installed model ${JSON.stringify(params.modelId)}`);
    const id = `test-${testId}`;
    if (this.jobs.list().some((j) => j.id === id))
      throw new IdlerigError('CONFLICT', `A test with id ${testId} is already running`);
    const send = (e: Omit<EngineTestEvent, 'type' | 'testId'>): void => {
      this.emit('event', { type: 'engine.test', testId, ...e });
    };
    send({ phase: 'started' });
    try {
      const result =
        model.engine === 'onnx'
          ? await this.testOnnx(id, testId, model, opts.signal)
          : await this.testLlm(id, testId, params, send, opts.signal);
      send({ phase: 'done', text: result.text });
      this.opts.log.info('model tested', {
        modelId: model.id,
        ms: result.totalMs,
        finishReason: result.finishReason,
      });
      return result;
    } catch (err) {
      const body =
        err instanceof IdlerigError
          ? err.toBody()
          : { code: 'INTERNAL' as const, message: (err as Error).message };
      send({ phase: 'error', error: body });
      throw err;
    } finally {
      void this.loadedModels().catch(() => undefined);
    }
  }

  private async testLlm(
    id: string,
    testId: string,
    params: TestParams,
    send: (e: Omit<EngineTestEvent, 'type' | 'testId'>) => void,
    signal?: AbortSignal,
  ): Promise<EngineTestResult> {
    const sampling = { max_tokens: params.maxTokens, temperature: params.temperature };
    const r = await this.jobs.run(
      {
        id,
        source: 'test',
        modelId: params.modelId,
        input:
          params.mode === 'chat'
            ? { kind: 'chat', messages: [{ role: 'user', content: params.prompt }], sampling }
            : { kind: 'completion', prompt: params.prompt, sampling },
      },
      { onChunk: (c) => send({ phase: 'chunk', text: c.text, tokens: c.tokens }), signal },
    );
    return {
      testId,
      modelId: params.modelId,
      kind: 'llm',
      text: 'text' in r.output ? r.output.text : '',
      finishReason: r.finishReason,
      usage: r.usage,
      ttftMs: r.timings.ttftMs,
      tokensPerSecond: r.timings.decodeTokensPerSecond,
      totalMs: r.llm?.timings.total_ms ?? r.timings.totalMs,
      backend: r.backend,
      threads: r.threads,
      outputs: null,
    };
  }

  /** Tensor models: one request of zeros shaped like the model's inputs (free dimensions = 1). */
  private async testOnnx(
    id: string,
    testId: string,
    model: InstalledModel,
    signal?: AbortSignal,
  ): Promise<EngineTestResult> {
    const t0 = performance.now();
    const ref = { file: model.file, sha256: model.sha256 };
    const info = await this.supervisor.request('models.load', { kind: 'onnx', model: ref });
    const inputs: OipTensor[] = (info.onnx?.inputs ?? []).map((t) => {
      const shape = t.shape.map((d) => (d < 0 ? 1 : d));
      const count = shape.reduce((a, b) => a * b, 1);
      return {
        name: t.name,
        shape,
        datatype: t.datatype as OipDatatype,
        data: zeros(t.datatype, count),
      };
    });
    const r = await this.jobs.run(
      {
        id,
        source: 'test',
        modelId: model.id,
        input: { kind: 'tensor', request: { inputs } },
      },
      { signal },
    );
    const response = 'response' in r.output ? r.output.response : { outputs: [] };
    const outputs = response.outputs.map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      head: Array.from(o.data as ArrayLike<number | string | boolean | bigint>)
        .slice(0, 8)
        .map((v) => (typeof v === 'bigint' ? Number(v) : v)),
    }));
    return {
      testId,
      modelId: model.id,
      kind: 'onnx',
      text: outputs.map((o) => `${o.name} ${o.datatype} [${o.shape.join(', ')}]`).join('; '),
      finishReason: 'stop',
      usage: null,
      ttftMs: null,
      tokensPerSecond: null,
      totalMs: Math.round((performance.now() - t0) * 10) / 10,
      backend: (info.onnx?.executionProviders ?? ['cpu'])[0] ?? 'cpu',
      threads: info.onnx?.threads ?? null,
      outputs,
    };
  }

  async stop(): Promise<void> {
    this.jobs.cancelAll();
    if (this.jobsTimer) clearTimeout(this.jobsTimer);
    this.jobsTimer = null;
    await this.supervisor.close();
  }
}

function zeros(datatype: string, count: number): OipTensor['data'] {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(count);
    case 'FP64':
      return new Float64Array(count);
    case 'INT64':
      return new BigInt64Array(count);
    case 'UINT64':
      return new BigUint64Array(count);
    case 'INT32':
      return new Int32Array(count);
    case 'BYTES':
      return new Array<string>(count).fill('');
    case 'BOOL':
      return new Array<boolean>(count).fill(false);
    default:
      return new Array<number>(count).fill(0);
  }
}
