// The tensor-model engine: onnxruntime-node in the engine process, spoken to in the Open
// Inference Protocol (KServe v2) tensor form. Inputs are checked against the model's own
// metadata (names, datatypes, shapes, element counts) before anything reaches ONNX Runtime,
// and a mismatch is a typed INVALID_INPUT naming the tensor and what the model expects.
//
// Execution providers are tried in order (CUDA / DirectML / CoreML where the platform and the
// installed binary have them), CPU last; the list that was accepted is reported. onnxruntime-node
// runs a session synchronously on the event loop, so a model's batches run one after another
// (a FIFO per model, bounded by maxQueuedJobs) and a cancel takes effect between requests.
import os from 'node:os';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { IdlerigError } from '../../shared/errors';
import type {
  EngineConfig,
  EngineInfo,
  EngineParsedParams,
  LoadedModel,
  ModelRef,
  OipInferRequest,
  OipInferResponse,
  OipTensor,
  OnnxInferResult,
  OnnxProvider,
  TensorInfo,
} from '../../shared/engine-protocol';
import { acquirePinned } from './pinned';
import { chooseThreads, type ThreadChoice } from './threads';
import { stoppedError, type EngineLog, type JobContext, type QueueGate } from './job';
import { runPacked } from './onnx-packed';
import {
  ORT_TO_OIP,
  describeTensor,
  fromTensor,
  tensorBytes,
  toBody,
  toTensor,
  type Ort,
  type OrtType,
} from './onnx-tensors';
import type { ModelVerifier } from './verify';

interface LoadedOnnx {
  ref: ModelRef;
  path: string;
  sizeBytes: number;
  session: InferenceSession;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Model metadata by input name, for the checks. */
  inputMeta: Map<string, { type: OrtType; shape: (number | null)[] }>;
  outputNames: Set<string>;
  executionProviders: string[];
  threads: ThreadChoice;
  loadedAt: number;
  loadMs: number;
  lastUsed: number;
  activeJobs: number;
  queuedJobs: number;
  pins: number;
  chain: Promise<unknown>;
}

/** At most this many sessions stay loaded (tensor models are small; LLMs have the budget). */
const MAX_SESSIONS = 8;

export class OnnxEngine {
  private ort: Ort | null = null;
  private readonly sessions = new Map<string, LoadedOnnx>();
  private readonly loading = new Map<string, Promise<LoadedOnnx>>();

  constructor(
    private config: EngineConfig,
    private readonly verifier: ModelVerifier,
    private readonly log: EngineLog,
    private readonly gate: QueueGate,
  ) {}

  async reconfigure(config: EngineConfig): Promise<void> {
    const changed = JSON.stringify(this.config.onnx) !== JSON.stringify(config.onnx);
    this.config = config;
    if (changed) await this.unload();
  }

  private async runtime(): Promise<Ort> {
    this.ort ??= await import('onnxruntime-node');
    return this.ort;
  }

  async info(): Promise<NonNullable<EngineInfo['onnx']>> {
    const ort = await this.runtime();
    return { availableProviders: this.available(ort) };
  }

  /** Providers this onnxruntime-node build can use here (CUDA needs its libraries installed). */
  private available(ort: Ort): string[] {
    try {
      return ort
        .listSupportedBackends()
        .filter((b) => b.bundled)
        .map((b) => b.name);
    } catch {
      return ['cpu'];
    }
  }

  private candidates(ort: Ort): OnnxProvider[][] {
    const wanted: OnnxProvider[] =
      this.config.onnx.executionProviders ??
      (process.platform === 'win32'
        ? ['dml', 'cpu']
        : process.platform === 'darwin'
          ? ['coreml', 'cpu']
          : ['cuda', 'cpu']);
    const have = new Set(this.available(ort));
    const out: OnnxProvider[][] = [];
    for (const ep of wanted) {
      if (ep === 'cpu') continue;
      // dml and coreml are compiled into the Windows / macOS binaries; cuda needs its libraries.
      if (ep === 'cuda' && !have.has('cuda')) continue;
      if (
        (ep === 'dml' && process.platform !== 'win32') ||
        (ep === 'coreml' && process.platform !== 'darwin')
      )
        continue;
      out.push([ep, 'cpu']);
    }
    out.push(['cpu']);
    return out;
  }

  list(): LoadedModel[] {
    return [...this.sessions.values()].map((m) => this.describe(m));
  }

  async load(ref: ModelRef): Promise<LoadedModel> {
    const m = await this.acquire(ref);
    m.pins--;
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
    this.log('info', 'model unloaded', { file: m.ref.file, why });
    await m.session.release().catch(() => {});
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
    const ort = await this.runtime();
    const threads = chooseThreads({
      cores: os.availableParallelism(),
      modelBytes: sizeBytes,
      override: this.config.onnx.threads,
    });
    let session: InferenceSession | null = null;
    let providers: string[] = [];
    let lastError: unknown = null;
    for (const eps of this.candidates(ort)) {
      try {
        session = await ort.InferenceSession.create(path, {
          executionProviders: eps,
          intraOpNumThreads: threads.threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          logSeverityLevel: 3,
        });
        providers = eps;
        break;
      } catch (err) {
        lastError = err;
        if (eps.length > 1)
          this.log('warn', `ONNX Runtime: ${eps[0]} is not usable here; trying the next provider`, {
            error: (err as Error).message.slice(0, 300),
          });
      }
    }
    if (!session) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `ONNX Runtime could not load ${JSON.stringify(ref.file)}: ${(lastError as Error | null)?.message ?? 'unknown error'}`,
      );
    }
    const inputMeta = new Map<string, { type: OrtType; shape: (number | null)[] }>();
    const inputs: TensorInfo[] = [];
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) continue;
      const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null));
      inputMeta.set(meta.name, { type: meta.type, shape });
      inputs.push({
        name: meta.name,
        datatype: ORT_TO_OIP[meta.type] ?? meta.type,
        shape: shape.map((d) => d ?? -1),
      });
    }
    const outputs: TensorInfo[] = session.outputMetadata.map((meta) =>
      meta.isTensor
        ? {
            name: meta.name,
            datatype: ORT_TO_OIP[meta.type] ?? meta.type,
            shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
          }
        : { name: meta.name, datatype: 'NON_TENSOR', shape: [] },
    );
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
      session,
      inputs,
      outputs,
      inputMeta,
      outputNames: new Set(session.outputNames),
      executionProviders: providers,
      threads,
      loadedAt: Date.now(),
      loadMs,
      lastUsed: Date.now(),
      activeJobs: 0,
      queuedJobs: 0,
      pins: 0,
      chain: Promise.resolve(),
    };
    this.sessions.set(ref.sha256, m);
    this.log('info', 'model loaded', {
      file: ref.file,
      executionProviders: providers,
      threads: threads.threads,
      threadsRule: threads.rule,
      inputs,
      ms: Math.round(loadMs),
    });
    return m;
  }

  async infer(params: EngineParsedParams<'onnx.infer'>, job: JobContext): Promise<OnnxInferResult> {
    const m = await this.acquire(params.model);
    try {
      // One batch at a time per model; the others wait in order.
      if (m.activeJobs > 0 || m.queuedJobs > 0) {
        if (this.gate.queued >= this.gate.max) {
          throw new IdlerigError(
            'QUEUE_FULL',
            `${this.gate.queued} jobs are already waiting for the engine (the limit is ${this.gate.max})`,
          );
        }
      }
      const prev = m.chain;
      let done!: () => void;
      m.chain = new Promise<void>((r) => (done = r));
      m.queuedJobs++;
      this.gate.queued++;
      try {
        await prev;
      } finally {
        m.queuedJobs--;
        this.gate.queued--;
      }
      m.activeJobs++;
      try {
        return params.packed
          ? await runPacked(
              await this.runtime(),
              m,
              params.packed,
              params.modelName ?? m.ref.file,
              job,
              this.config.limits,
            )
          : await this.runBatch(m, params, job);
      } finally {
        m.activeJobs--;
        done();
      }
    } finally {
      m.pins--;
      m.lastUsed = Date.now();
    }
  }

  private async runBatch(
    m: LoadedOnnx,
    params: EngineParsedParams<'onnx.infer'>,
    job: JobContext,
  ): Promise<OnnxInferResult> {
    const ort = await this.runtime();
    const modelName = params.modelName ?? m.ref.file;
    const maxBytes = this.config.limits.maxRequestBytes;
    const results: OnnxInferResult['results'] = [];
    for (const request of params.requests) {
      if (job.signal.aborted) {
        results.push({
          ok: false,
          error: toBody(stoppedError(job.signal, this.config.limits.jobTimeoutMs)),
        });
        continue;
      }
      try {
        results.push({
          ok: true,
          response: await this.runOne(ort, m, modelName, request, maxBytes),
        });
      } catch (err) {
        results.push({ ok: false, error: toBody(err) });
      }
    }
    return { results, executionProviders: m.executionProviders };
  }

  private async runOne(
    ort: Ort,
    m: LoadedOnnx,
    modelName: string,
    request: OipInferRequest,
    maxBytes: number,
  ): Promise<OipInferResponse> {
    let bytes = 0;
    for (const t of request.inputs) bytes += tensorBytes(t);
    if (bytes > maxBytes) {
      throw new IdlerigError(
        'LIMIT_EXCEEDED',
        `The request's tensors hold ${bytes} bytes, over the limit of ${maxBytes}`,
        { limit: 'maxRequestBytes', max: maxBytes, got: bytes },
      );
    }
    const feeds: Record<string, Tensor> = {};
    const seen = new Set<string>();
    for (const input of request.inputs) {
      const meta = m.inputMeta.get(input.name);
      if (!meta) {
        throw new IdlerigError(
          'INVALID_INPUT',
          `The model has no input named ${JSON.stringify(input.name)}; its inputs are ${m.inputs.map(describeTensor).join(', ')}`,
          { tensor: input.name, expected: m.inputs },
        );
      }
      if (seen.has(input.name))
        throw new IdlerigError(
          'INVALID_INPUT',
          `Input ${JSON.stringify(input.name)} is given twice`,
          {
            tensor: input.name,
          },
        );
      seen.add(input.name);
      feeds[input.name] = toTensor(ort, input, meta);
    }
    for (const info of m.inputs) {
      if (!seen.has(info.name)) {
        throw new IdlerigError('INVALID_INPUT', `Missing input tensor ${describeTensor(info)}`, {
          tensor: info.name,
          expectedShape: info.shape,
          expectedDatatype: info.datatype,
        });
      }
    }
    let fetches: string[] | undefined;
    if (request.outputs && request.outputs.length > 0) {
      fetches = request.outputs.map((o) => o.name);
      for (const name of fetches) {
        if (!m.outputNames.has(name))
          throw new IdlerigError(
            'INVALID_INPUT',
            `The model has no output named ${JSON.stringify(name)}; its outputs are ${m.outputs.map((o) => o.name).join(', ')}`,
            { tensor: name },
          );
      }
    }
    let out: Record<string, Tensor>;
    try {
      out = (fetches ? await m.session.run(feeds, fetches) : await m.session.run(feeds)) as Record<
        string,
        Tensor
      >;
    } catch (err) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `ONNX Runtime refused the input: ${(err as Error).message}`,
      );
    }
    const outputs: OipTensor[] = [];
    for (const name of fetches ?? m.session.outputNames) {
      const t = out[name];
      if (!t) continue;
      outputs.push(fromTensor(name, t));
    }
    return {
      model_name: modelName,
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs,
    };
  }
}
