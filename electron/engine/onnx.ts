// The tensor-model engine: ONNX Runtime spoken to in the Open Inference Protocol (KServe v2)
// tensor form. Inputs are checked against the model's own metadata (names, datatypes, shapes,
// element counts) before anything reaches ONNX Runtime, and a mismatch is a typed INVALID_INPUT
// naming the tensor and what the model expects.
//
// onnxruntime-node and its sessions live in the engine's ONNX thread (onnx-worker.ts, reached
// through onnx-thread.ts); this side keeps the models' bookkeeping (verification, pins, the
// least-recently-used limit) and the queues: a model's batches run one after another, in the
// order they arrived (a FIFO per model, bounded by maxQueuedJobs; see Turn), and a cancel takes
// effect between groups of runs. When the thread dies, the jobs it had fail with ENGINE_CRASHED,
// its sessions are forgotten and the next job opens them again in a new thread.
import os from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { IdlerigError } from '../../shared/errors';
import type {
  EngineConfig,
  EngineInfo,
  EngineParsedParams,
  LoadedModel,
  ModelRef,
  OnnxInferResult,
  TensorInfo,
} from '../../shared/engine-protocol';
import { acquirePinned } from './pinned';
import { chooseThreads, type ThreadChoice } from './threads';
import type { EngineLog, JobContext, QueueGate } from './job';
import { OnnxThread } from './onnx-thread';
import type { OpenedSession } from './onnx-worker';
import type { ModelVerifier } from './verify';

interface LoadedOnnx {
  ref: ModelRef;
  path: string;
  sizeBytes: number;
  /** The session's number in the ONNX thread, and which thread (OnnxThread.generation). */
  session: number;
  generation: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  executionProviders: string[];
  threads: ThreadChoice;
  loadedAt: number;
  loadMs: number;
  lastUsed: number;
  activeJobs: number;
  queuedJobs: number;
  pins: number;
  /** Its settings changed: it finishes the jobs that hold it, then it is released. */
  retired: boolean;
}

/**
 * A job's turn on its model. A model's batches run one after another, but the next one is
 * posted to the thread as soon as the one before it has been (so the thread finds it there when
 * it finishes the current one instead of waiting for a round trip through this thread): at most
 * two batches of a model are in the thread, the running one and the next.
 */
interface Turn {
  posted: Promise<void>;
  finished: Promise<void>;
  /** The turn before's `finished`. */
  before: Promise<void>;
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** At most this many sessions stay loaded (tensor models are small; LLMs have the budget). */
const MAX_SESSIONS = 8;

export class OnnxEngine {
  private readonly sessions = new Map<string, LoadedOnnx>();
  private readonly loading = new Map<string, Promise<LoadedOnnx>>();
  /** Bumped by every settings change: a session opened before it must not serve later jobs. */
  private configGeneration = 0;
  /**
   * Per model (sha256), the latest job's turn: the next one follows it. Taken when a job
   * arrives, before the checks that wait (verification, opening), so that a model's jobs reach
   * its thread in the order they came even when a later one's checks finish first.
   */
  private readonly lines = new Map<string, Turn>();
  readonly thread: OnnxThread;

  constructor(
    private config: EngineConfig,
    private readonly verifier: ModelVerifier,
    private readonly log: EngineLog,
    private readonly gate: QueueGate,
    /** The engine's entry, which runs the ONNX thread when started as one (index.ts). */
    entry: string | URL,
    threadLimits?: ResourceLimits,
  ) {
    this.thread = new OnnxThread(entry, log, () => this.sessions.clear(), threadLimits);
  }

  /**
   * New settings: idle sessions go now; a busy one (a model that never idles under steady
   * traffic) retires and is released when its last job ends, and a session still opening keeps
   * the settings it began with and retires likewise; the next job opens one with the new settings.
   */
  async reconfigure(config: EngineConfig): Promise<void> {
    const changed = JSON.stringify(this.config.onnx) !== JSON.stringify(config.onnx);
    this.config = config;
    if (!changed) return;
    this.configGeneration++;
    this.loading.clear();
    for (const m of [...this.sessions.values()]) {
      this.sessions.delete(m.ref.sha256);
      m.retired = true;
      if (m.pins === 0) await this.release(m, 'settings changed');
    }
  }

  private async release(m: LoadedOnnx, why: string): Promise<void> {
    this.log('info', 'model unloaded', { file: m.ref.file, why });
    if (m.generation === this.thread.generation)
      await this.thread.call({ op: 'release', session: m.session }).catch(() => {});
  }

  /** Ends a pin; a retired session whose last pin this was is released. */
  private unpin(m: LoadedOnnx): void {
    m.pins--;
    m.lastUsed = Date.now();
    if (m.retired && m.pins === 0) void this.release(m, 'settings changed');
  }

  info(): Promise<NonNullable<EngineInfo['onnx']>> {
    return this.thread.call({ op: 'info' });
  }

  list(): LoadedModel[] {
    return [...this.sessions.values()].map((m) => this.describe(m));
  }

  async load(ref: ModelRef): Promise<LoadedModel> {
    const m = await this.acquire(ref);
    this.unpin(m);
    return this.describe(m);
  }

  async unload(sha256?: string): Promise<number> {
    let n = 0;
    for (const m of [...this.sessions.values()]) {
      if (sha256 && m.ref.sha256 !== sha256) continue;
      if (m.pins > 0) continue;
      await this.evict(m, 'unload requested');
      n++;
    }
    return n;
  }

  async dispose(): Promise<void> {
    for (const m of [...this.sessions.values()]) await this.evict(m, 'shutdown');
    await this.thread.close();
  }

  private describe(m: LoadedOnnx): LoadedModel {
    return {
      kind: 'onnx',
      file: m.ref.file,
      sha256: m.ref.sha256,
      sizeBytes: m.sizeBytes,
      memoryBytes: m.sizeBytes * 2,
      loadMs: Math.round(m.loadMs * 10) / 10,
      loadedAt: new Date(m.loadedAt).toISOString(),
      lastUsedAt: new Date(m.lastUsed).toISOString(),
      activeJobs: m.activeJobs,
      queuedJobs: m.queuedJobs,
      onnx: {
        executionProviders: m.executionProviders,
        threads: m.threads.threads,
        inputs: m.inputs,
        outputs: m.outputs,
      },
    };
  }

  private async evict(m: LoadedOnnx, why: string): Promise<void> {
    if (this.sessions.get(m.ref.sha256) !== m) return;
    this.sessions.delete(m.ref.sha256);
    await this.release(m, why);
  }

  private async acquire(ref: ModelRef): Promise<LoadedOnnx> {
    const verified = await this.verifier.verify(ref);
    return acquirePinned(ref.sha256, this.sessions, this.loading, () =>
      this.open(ref, verified.path, verified.size, verified.hashMs),
    );
  }

  private async open(
    ref: ModelRef,
    path: string,
    sizeBytes: number,
    hashMs: number,
  ): Promise<LoadedOnnx> {
    const started = performance.now();
    const configGeneration = this.configGeneration;
    const threads = chooseThreads({
      cores: os.availableParallelism(),
      modelBytes: sizeBytes,
      override: this.config.onnx.threads,
    });
    const opened = await this.thread.call<OpenedSession>({
      op: 'open',
      path,
      file: ref.file,
      options: {
        providers: this.config.onnx.executionProviders ?? null,
        threads: threads.threads,
      },
    });
    const generation = this.thread.generation;
    // Room for it: least recently used idle sessions go first.
    const idle = [...this.sessions.values()]
      .filter((s) => s.pins === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.sessions.size >= MAX_SESSIONS && idle.length > 0)
      await this.evict(idle.shift()!, 'session limit');
    const loadMs = performance.now() - started + hashMs;
    const m: LoadedOnnx = {
      ref,
      path,
      sizeBytes,
      session: opened.session,
      generation,
      inputs: opened.inputs,
      outputs: opened.outputs,
      executionProviders: opened.executionProviders,
      threads,
      loadedAt: Date.now(),
      loadMs,
      lastUsed: Date.now(),
      activeJobs: 0,
      queuedJobs: 0,
      pins: 0,
      retired: configGeneration !== this.configGeneration,
    };
    // Settings that changed while it opened: it serves the jobs that waited for it, then goes.
    if (!m.retired) this.sessions.set(ref.sha256, m);
    this.log('info', 'model loaded', {
      file: ref.file,
      executionProviders: opened.executionProviders,
      threads: threads.threads,
      threadsRule: threads.rule,
      inputs: opened.inputs,
      ms: Math.round(loadMs),
    });
    return m;
  }

  async infer(params: EngineParsedParams<'onnx.infer'>, job: JobContext): Promise<OnnxInferResult> {
    const sha = params.model.sha256;
    const prev = this.lines.get(sha) ?? null;
    const posted = deferred();
    const finished = deferred();
    const turn: Turn = {
      posted: posted.promise,
      finished: finished.promise,
      before: prev?.finished ?? Promise.resolve(),
    };
    this.lines.set(sha, turn);
    try {
      const m = await this.acquire(params.model);
      try {
        return await this.runInTurn(m, params, job, prev, posted);
      } finally {
        this.unpin(m);
      }
    } finally {
      posted.resolve();
      finished.resolve();
      if (this.lines.get(sha) === turn) this.lines.delete(sha);
    }
  }

  /** One batch at a time per model; the others wait in order (see Turn). */
  private async runInTurn(
    m: LoadedOnnx,
    params: EngineParsedParams<'onnx.infer'>,
    job: JobContext,
    prev: Turn | null,
    posted: { resolve(): void },
  ): Promise<OnnxInferResult> {
    if (m.activeJobs > 0 || m.queuedJobs > 0) {
      if (this.gate.queued >= this.gate.max) {
        throw new IdlerigError(
          'QUEUE_FULL',
          `${this.gate.queued} jobs are already waiting for the engine (the limit is ${this.gate.max})`,
        );
      }
    }
    m.queuedJobs++;
    this.gate.queued++;
    let queued = true;
    const unqueue = (): void => {
      if (!queued) return;
      queued = false;
      m.queuedJobs--;
      this.gate.queued--;
    };
    try {
      if (prev) {
        await prev.posted;
        await prev.before;
      }
      // Its thread died while this job waited: the session is gone with it.
      if (
        m.generation !== this.thread.generation ||
        (!m.retired && this.sessions.get(m.ref.sha256) !== m)
      )
        throw new IdlerigError(
          'ENGINE_CRASHED',
          'ONNX Runtime stopped while the job waited for its turn; the next job starts it again',
        );
      const run = this.thread.run(
        {
          session: m.session,
          params: { requests: params.requests, packed: params.packed },
          modelName: params.modelName ?? m.ref.file,
          limits: {
            maxRequestBytes: this.config.limits.maxRequestBytes,
            jobTimeoutMs: this.config.limits.jobTimeoutMs,
          },
        },
        job.signal,
      );
      posted.resolve();
      // It runs once the batch before it has finished (awaited below, whatever happens).
      run.catch(() => {});
      if (prev) await prev.finished;
      unqueue();
      m.activeJobs++;
      try {
        return await run;
      } finally {
        m.activeJobs--;
      }
    } finally {
      unqueue();
    }
  }
}
