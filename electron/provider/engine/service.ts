// The engine as the provider node uses it: the supervisor (started with the first job, stopped
// with the node), jobs on installed models by id (the registry gives file and sha256, and marks
// the model in use so it cannot be deleted meanwhile), the "Test a model" call of the API, and
// the engine's state as API events.
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
  /** Told when a job starts and ends, so its energy is measured (the node's energy ledger). */
  jobs?: { started(id: string): void; ended(id: string): void };
}

type TestParams = z.output<typeof EngineTestParamsSchema>;

export class EngineService extends EventEmitter<{ event: [ApiEvent] }> {
  readonly supervisor: EngineSupervisor;
  private readonly tests = new Map<string, AbortController>();
  /** The configuration applied (or being applied) to the engine, and how it came about. */
  private effective: EffectiveEngineConfig;
  /** The latest reconfiguration on its way to the engine; jobs of this service wait for it. */
  private applying: Promise<void> = Promise.resolve();

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
    this.supervisor.on('status', (engine) => {
      this.emit('event', { type: 'engine.status', engine: { ...engine, config: this.view() } });
      // A process that is gone holds no model.
      if (engine.state !== 'ready') this.markLoaded([]);
    });
  }

  status(): EngineStatus {
    return { ...this.supervisor.status(), config: this.view() };
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
    this.applying = this.applying
      .then(() => this.supervisor.reconfigure(config))
      .catch((err: unknown) => {
        this.opts.log.warn('the engine did not take its new settings', {
          error: (err as Error).message,
        });
      });
    this.emit('event', { type: 'engine.status', engine: this.status() });
  }

  async loadedModels(): Promise<LoadedModel[]> {
    const models = await this.supervisor.loadedModels();
    this.markLoaded(models);
    return models;
  }

  /** The installed model `id` as the engine names it, marked in use until release(). */
  useModel(id: string): { model: InstalledModel; ref: ModelRef; release(): void } {
    const model = this.opts.registry.get(id);
    if (!model) throw new IdlerigError('NOT_FOUND', `No installed model ${JSON.stringify(id)}`);
    const release = this.opts.registry.acquire(id);
    void this.opts.registry.touch(id).catch(() => undefined);
    return { model, ref: { file: model.file, sha256: model.sha256 }, release };
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
    const c = this.tests.get(testId);
    if (!c) return { cancelled: false };
    c.abort();
    return { cancelled: true };
  }

  /** A short job on an installed model, streamed as `engine.test` events. */
  async test(params: TestParams): Promise<EngineTestResult> {
    // A job asked for right after a settings change runs with the new settings.
    await this.applying;
    const testId = params.testId ?? randomBytes(9).toString('base64url');
    if (this.tests.has(testId))
      throw new IdlerigError('CONFLICT', `A test with id ${testId} is already running`);
    const { model, ref, release } = this.useModel(params.modelId);
    const controller = new AbortController();
    this.tests.set(testId, controller);
    const send = (e: Omit<EngineTestEvent, 'type' | 'testId'>): void => {
      this.emit('event', { type: 'engine.test', testId, ...e });
    };
    const started = performance.now();
    const jobId = `test-${testId}`;
    send({ phase: 'started' });
    this.opts.jobs?.started(jobId);
    try {
      const result =
        model.engine === 'onnx'
          ? await this.testOnnx(testId, model, ref, controller.signal)
          : await this.testLlm(testId, params, ref, controller.signal, send);
      send({ phase: 'done', text: result.text });
      this.opts.log.info('model tested', {
        modelId: model.id,
        ms: Math.round(performance.now() - started),
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
      this.opts.jobs?.ended(jobId);
      this.tests.delete(testId);
      release();
      void this.loadedModels().catch(() => undefined);
    }
  }

  private async testLlm(
    testId: string,
    params: TestParams,
    ref: ModelRef,
    signal: AbortSignal,
    send: (e: Omit<EngineTestEvent, 'type' | 'testId'>) => void,
  ): Promise<EngineTestResult> {
    const sampling = { max_tokens: params.maxTokens, temperature: params.temperature };
    const options = {
      signal,
      onEvent: (e: { type: string; text?: string; tokens?: number }) => {
        if (e.type === 'llm.chunk')
          send({ phase: 'chunk', text: e.text ?? '', tokens: e.tokens ?? 0 });
      },
    };
    const r =
      params.mode === 'chat'
        ? await this.supervisor.chat(
            { model: ref, messages: [{ role: 'user', content: params.prompt }], ...sampling },
            options,
          )
        : await this.supervisor.complete(
            { model: ref, prompt: params.prompt, ...sampling },
            options,
          );
    return {
      testId,
      modelId: params.modelId,
      kind: 'llm',
      text: r.text,
      finishReason: r.finish_reason,
      usage: r.usage,
      ttftMs: r.timings.ttft_ms,
      tokensPerSecond: r.timings.decode_tokens_per_s,
      totalMs: r.timings.total_ms,
      backend: r.backend,
      threads: r.threads,
      outputs: null,
    };
  }

  /** Tensor models: one request of zeros shaped like the model's inputs (free dimensions = 1). */
  private async testOnnx(
    testId: string,
    model: InstalledModel,
    ref: ModelRef,
    signal: AbortSignal,
  ): Promise<EngineTestResult> {
    const t0 = performance.now();
    const info = await this.supervisor.request(
      'models.load',
      { kind: 'onnx', model: ref },
      { signal },
    );
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
    const response = await this.supervisor.infer(ref, { inputs }, { signal, modelName: model.id });
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
    for (const c of this.tests.values()) c.abort();
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
