// The engine's side of the protocol (shared/engine-protocol.ts): validates each message,
// runs requests, streams their events, enforces the limits and the per-job timeout, and turns
// every failure into a typed error reply. Nothing a request does may take the process down.
import { availableParallelism } from 'node:os';
import { IdlerigError, type ErrorBody } from '../../shared/errors';
import {
  ENGINE_METHODS,
  ENGINE_PROTOCOL_VERSION,
  EngineConfigSchema,
  ParentToEngineSchema,
  requestBytes,
  type EngineConfig,
  type EngineEvent,
  type EngineMethod,
  type EngineParsedParams,
  type EngineResult,
  type EngineToParent,
  type VerifiedFile,
} from '../../shared/engine-protocol';
import { LlamaEngine } from './llama';
import { OnnxEngine } from './onnx';
import { ModelVerifier } from './verify';
import type { EngineLog, JobContext, QueueGate, StopKind } from './job';

export interface EngineTransport {
  send(message: EngineToParent): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** Methods that are jobs: they get a signal, a timeout and the request-size check. */
const JOB_METHODS = new Set<EngineMethod>([
  'llm.complete',
  'llm.chat',
  'onnx.infer',
  'models.load',
]);

interface Running {
  controller: AbortController;
  timer: NodeJS.Timeout | null;
}

export class EngineServer {
  private config: EngineConfig | null = null;
  private readonly jobs = new Map<number, Running>();
  private readonly verifier: ModelVerifier;
  private llama: LlamaEngine | null = null;
  private onnx: OnnxEngine | null = null;
  private readonly gate: QueueGate = { queued: 0, max: 64 };
  private readonly startedAt = performance.now();
  private shuttingDown = false;

  constructor(
    private readonly transport: EngineTransport,
    private readonly exit: (code: number) => void,
    /** The engine's entry, which runs the ONNX thread when started as one (onnx-thread.ts). */
    private readonly entry: string | URL,
  ) {
    this.verifier = new ModelVerifier('.', (file: VerifiedFile) =>
      this.transport.send({ kind: 'verified', file }),
    );
  }

  readonly log: EngineLog = (level, msg, data) => {
    this.transport.send(data ? { kind: 'log', level, msg, data } : { kind: 'log', level, msg });
  };

  start(): void {
    this.transport.onMessage((m) => this.onMessage(m));
    this.transport.send({ kind: 'ready', protocol: ENGINE_PROTOCOL_VERSION, pid: process.pid });
  }

  private onMessage(raw: unknown): void {
    const parsed = ParentToEngineSchema.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown } | null)?.id;
      const message = `Malformed message: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`)
        .join('; ')}`;
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0)
        this.transport.send({ kind: 'error', id, error: { code: 'INVALID_PARAMS', message } });
      else this.log('warn', message);
      return;
    }
    const msg = parsed.data;
    if (msg.kind === 'cancel') {
      this.stop(msg.id, 'cancel');
      return;
    }
    void this.handle(msg.id, msg.method, msg.params);
  }

  private stop(id: number, kind: StopKind): void {
    const job = this.jobs.get(id);
    if (job && !job.controller.signal.aborted)
      job.controller.abort({ kind, at: performance.now() });
  }

  private async handle(id: number, method: EngineMethod, rawParams: unknown): Promise<void> {
    const receivedAt = performance.now();
    if (this.jobs.has(id)) {
      this.transport.send({
        kind: 'error',
        id,
        error: { code: 'INVALID_PARAMS', message: `Request id ${id} is already running` },
      });
      return;
    }
    const running: Running = { controller: new AbortController(), timer: null };
    this.jobs.set(id, running);
    try {
      const spec = ENGINE_METHODS[method];
      const parsed = spec.params.safeParse(rawParams ?? {});
      if (!parsed.success) {
        throw new IdlerigError(
          'INVALID_PARAMS',
          `Invalid parameters for ${method}: ${parsed.error.issues
            .slice(0, 5)
            .map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`)
            .join('; ')}`,
        );
      }
      if (this.shuttingDown && method !== 'ping')
        throw new IdlerigError('CANCELLED', 'The engine is shutting down');
      if (JOB_METHODS.has(method)) {
        const config = this.requireConfig();
        if (method !== 'onnx.infer') {
          const bytes = requestBytes(rawParams);
          if (bytes > config.limits.maxRequestBytes) {
            throw new IdlerigError(
              'LIMIT_EXCEEDED',
              `The request is ${bytes} bytes, over the limit of ${config.limits.maxRequestBytes}`,
              { limit: 'maxRequestBytes', max: config.limits.maxRequestBytes, got: bytes },
            );
          }
        }
        running.timer = setTimeout(() => this.stop(id, 'timeout'), config.limits.jobTimeoutMs);
      }
      const job: JobContext = {
        id,
        receivedAt,
        signal: running.controller.signal,
        emit: (event: EngineEvent) => this.transport.send({ kind: 'event', id, event }),
      };
      const result = await this.dispatch(method, parsed.data as never, job);
      this.transport.send({ kind: 'result', id, result });
      if (method === 'shutdown') setTimeout(() => this.exit(0), 20);
    } catch (err) {
      this.transport.send({ kind: 'error', id, error: this.errorBody(err, method) });
    } finally {
      if (running.timer) clearTimeout(running.timer);
      this.jobs.delete(id);
    }
  }

  private errorBody(err: unknown, method: string): ErrorBody {
    if (err instanceof IdlerigError) return err.toBody();
    const e = err as Error;
    this.log('error', `${method} failed`, { error: e?.stack ?? String(err) });
    return { code: 'INTERNAL', message: `${method} failed: ${e?.message ?? String(err)}` };
  }

  private requireConfig(): EngineConfig {
    if (!this.config) throw new IdlerigError('UNAVAILABLE', 'The engine is not configured yet');
    return this.config;
  }

  private llm(): LlamaEngine {
    this.llama ??= new LlamaEngine(this.requireConfig(), this.verifier, this.log, this.gate);
    return this.llama;
  }

  private tensor(): OnnxEngine {
    this.onnx ??= new OnnxEngine(
      this.requireConfig(),
      this.verifier,
      this.log,
      this.gate,
      this.entry,
    );
    return this.onnx;
  }

  private async dispatch<M extends EngineMethod>(
    method: M,
    params: EngineParsedParams<M>,
    job: JobContext,
  ): Promise<EngineResult<M>> {
    type R = EngineResult<M>;
    switch (method) {
      case 'ping': {
        const q = this.gate.queued;
        return {
          pid: process.pid,
          uptimeMs: Math.round(performance.now() - this.startedAt),
          rssBytes: process.memoryUsage.rss(),
          activeJobs: Math.max(0, this.jobs.size - 1 - q),
          queuedJobs: q,
        } as R;
      }
      case 'configure': {
        const config = EngineConfigSchema.parse(params);
        this.config = config;
        this.gate.max = config.limits.maxQueuedJobs;
        this.verifier.setModelsDir(config.modelsDir);
        this.verifier.seed(config.verified);
        await this.llama?.reconfigure(config);
        await this.onnx?.reconfigure(config);
        return { pid: process.pid } as R;
      }
      case 'info': {
        const p = params as EngineParsedParams<'info'>;
        return {
          pid: process.pid,
          node: process.version,
          platform: process.platform,
          arch: process.arch,
          cpuCores: availableParallelism(),
          llm: p.llm ? await this.llm().info() : null,
          onnx: p.onnx ? await this.tensor().info() : null,
        } as R;
      }
      case 'models.load': {
        const p = params as EngineParsedParams<'models.load'>;
        return (
          p.kind === 'llm' ? await this.llm().load(p.model) : await this.tensor().load(p.model)
        ) as R;
      }
      case 'models.list':
        return { models: [...(this.llama?.list() ?? []), ...(this.onnx?.list() ?? [])] } as R;
      case 'models.unload': {
        const p = params as EngineParsedParams<'models.unload'>;
        const n = (await this.llama?.unload(p.sha256)) ?? 0;
        const m = (await this.onnx?.unload(p.sha256)) ?? 0;
        return { unloaded: n + m } as R;
      }
      case 'llm.complete':
        return (await this.llm().complete(params as EngineParsedParams<'llm.complete'>, job)) as R;
      case 'llm.chat':
        return (await this.llm().chat(params as EngineParsedParams<'llm.chat'>, job)) as R;
      case 'onnx.infer':
        return (await this.tensor().infer(params as EngineParsedParams<'onnx.infer'>, job)) as R;
      case 'shutdown':
        await this.shutdown();
        return {} as R;
      default:
        throw new IdlerigError('UNKNOWN_METHOD', `Unknown engine method ${String(method)}`);
    }
  }

  /** Stops every job, frees the models and the native libraries. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const id of this.jobs.keys()) this.stop(id, 'shutdown');
    // Jobs end within a token of the abort; give them a moment to send their replies.
    const until = performance.now() + 1000;
    while (this.jobs.size > 1 && performance.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    await this.llama?.dispose().catch(() => {});
    await this.onnx?.dispose().catch(() => {});
  }
}
