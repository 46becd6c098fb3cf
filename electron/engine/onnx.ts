// The tensor-model engine: onnxruntime-node in the engine process, spoken to in the Open
// Inference Protocol (KServe v2) tensor form. Inputs are checked against the model's own
// metadata (names, datatypes, shapes, element counts) before anything reaches ONNX Runtime,
// and a mismatch is a typed INVALID_INPUT naming the tensor and what the model expects.
//
// Execution providers are tried in order (CUDA / DirectML / CoreML where the platform and the
// installed binary have them), CPU last; the list that was accepted is reported. onnxruntime-node
// runs a session synchronously on the event loop, so a model's batches run one after another
// (a FIFO per model, bounded by maxQueuedJobs) and a cancel takes effect between requests.
import { acquirePinned } from './pinned';
import os from 'node:os';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type * as OrtModule from 'onnxruntime-node';
import { IdlerigError, type ErrorBody } from '../../shared/errors';
import type {
  EngineConfig,
  EngineInfo,
  EngineParsedParams,
  LoadedModel,
  ModelRef,
  OipDatatype,
  OipInferRequest,
  OipInferResponse,
  OipTensor,
  OnnxInferResult,
  OnnxProvider,
  PackedBatch,
  PackedTensors,
  TensorInfo,
} from '../../shared/engine-protocol';
import { chooseThreads, type ThreadChoice } from './threads';
import { stoppedError, type EngineLog, type JobContext } from './job';
import type { QueueGate } from './llama';
import type { ModelVerifier } from './verify';

type Ort = typeof OrtModule;
type OrtType = Tensor.Type;

const OIP_TO_ORT: Record<OipDatatype, OrtType> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};
const ORT_TO_OIP = Object.fromEntries(
  Object.entries(OIP_TO_ORT).map(([oip, ort]) => [ort, oip]),
) as Record<string, OipDatatype>;

type TypedCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const CTOR: Partial<Record<OrtType, TypedCtor>> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

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
          ? await this.runPacked(m, params.packed, params.modelName ?? m.ref.file, job)
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

  /**
   * A packed batch: the inputs are checked once for the whole batch, each request's tensors are
   * views into the batch's arrays, and the outputs go back packed the same way when every
   * request succeeded with equally shaped outputs (else one result per request).
   */
  private async runPacked(
    m: LoadedOnnx,
    batch: PackedBatch,
    modelName: string,
    job: JobContext,
  ): Promise<OnnxInferResult> {
    const ort = await this.runtime();
    const { count } = batch;
    const maxBytes = this.config.limits.maxRequestBytes;
    const failAll = (err: unknown): OnnxInferResult => ({
      results: Array.from({ length: count }, () => ({ ok: false as const, error: toBody(err) })),
      executionProviders: m.executionProviders,
    });
    // Check the batch as a whole: names, datatypes, shapes, lengths, bytes per request.
    const parts: {
      name: string;
      type: OrtType;
      shape: number[];
      n: number;
      data: ArrayBufferView;
    }[] = [];
    try {
      let bytes = 0;
      const seen = new Set<string>();
      for (const input of batch.inputs) {
        const meta = m.inputMeta.get(input.name);
        if (!meta || seen.has(input.name)) {
          throw new IdlerigError(
            'INVALID_INPUT',
            meta
              ? `Input ${JSON.stringify(input.name)} is given twice`
              : `The model has no input named ${JSON.stringify(input.name)}; its inputs are ${m.inputs.map(describeTensor).join(', ')}`,
            { tensor: input.name },
          );
        }
        seen.add(input.name);
        const n = input.shape.reduce((a, b) => a * b, 1);
        const view = input.data as ArrayBufferView & { length: number };
        // The datatype and the shape against the model (with the first request's data).
        toTensor(ort, { ...input, data: sub(view, 0, Math.min(n, view.length)) }, meta);
        const Ctor = CTOR[meta.type];
        if (!Ctor || !(view instanceof Ctor) || view.length !== n * count) {
          throw new IdlerigError(
            'INVALID_INPUT',
            `Packed input ${JSON.stringify(input.name)} must be a ${Ctor?.name ?? 'typed array'} of ${count} x ${n} elements`,
            { tensor: input.name },
          );
        }
        bytes += view.byteLength / count;
        parts.push({ name: input.name, type: meta.type, shape: input.shape, n, data: view });
      }
      for (const info of m.inputs) {
        if (!seen.has(info.name))
          throw new IdlerigError('INVALID_INPUT', `Missing input tensor ${describeTensor(info)}`, {
            tensor: info.name,
            expectedShape: info.shape,
            expectedDatatype: info.datatype,
          });
      }
      if (bytes > maxBytes) {
        throw new IdlerigError(
          'LIMIT_EXCEEDED',
          `The request's tensors hold ${bytes} bytes, over the limit of ${maxBytes}`,
          { limit: 'maxRequestBytes', max: maxBytes, got: bytes },
        );
      }
      for (const name of batch.outputs ?? []) {
        if (!m.outputNames.has(name))
          throw new IdlerigError(
            'INVALID_INPUT',
            `The model has no output named ${JSON.stringify(name)}; its outputs are ${m.outputs.map((o) => o.name).join(', ')}`,
            { tensor: name },
          );
      }
    } catch (err) {
      return failAll(err);
    }
    const fetches = batch.outputs && batch.outputs.length > 0 ? batch.outputs : null;
    const names = fetches ?? [...m.session.outputNames];
    const outs: (Record<string, Tensor> | null)[] = [];
    const errors: (ErrorBody | null)[] = [];
    for (let i = 0; i < count; i++) {
      if (job.signal.aborted) {
        outs.push(null);
        errors.push(toBody(stoppedError(job.signal, this.config.limits.jobTimeoutMs)));
        continue;
      }
      const feeds: Record<string, Tensor> = {};
      for (const p of parts)
        feeds[p.name] = new ort.Tensor(
          p.type as 'float32',
          sub(p.data, i * p.n, p.n) as Float32Array,
          p.shape,
        );
      try {
        outs.push(
          (fetches ? await m.session.run(feeds, fetches) : await m.session.run(feeds)) as Record<
            string,
            Tensor
          >,
        );
        errors.push(null);
      } catch (err) {
        outs.push(null);
        errors.push(
          toBody(
            new IdlerigError(
              'INVALID_INPUT',
              `ONNX Runtime refused the input: ${(err as Error).message}`,
            ),
          ),
        );
      }
    }
    const id = (i: number): { id?: string } => {
      const v = batch.ids?.[i];
      return v != null ? { id: v } : {};
    };
    // Packed answer when every request succeeded with equally shaped outputs.
    const first = outs[0];
    const uniform =
      errors.every((e) => e === null) &&
      first != null &&
      names.every((name) => {
        const t0 = first[name];
        return (
          t0 !== undefined &&
          t0.type !== 'string' &&
          outs.every((o) => o![name]!.type === t0.type && sameDims(o![name]!.dims, t0.dims))
        );
      });
    if (uniform && first) {
      const outputs: PackedTensors[] = names.map((name) => {
        const t0 = first[name]!;
        const n = t0.size;
        const Ctor = (t0.data as ArrayBufferView).constructor as new (
          n: number,
        ) => ArrayBufferView & { set(a: ArrayLike<number | bigint>, offset: number): void };
        const data = new Ctor(n * count);
        outs.forEach((o, i) => data.set(o![name]!.data as ArrayLike<number>, i * n));
        return {
          name,
          datatype: ORT_TO_OIP[t0.type] ?? 'BYTES',
          shape: [...t0.dims],
          data: t0.type === 'float16' ? fromHalf(data as Uint16Array) : data,
        };
      });
      return { results: [], packed: { count, outputs }, executionProviders: m.executionProviders };
    }
    return {
      results: outs.map((o, i) =>
        o
          ? {
              ok: true as const,
              response: {
                model_name: modelName,
                ...id(i),
                outputs: names.filter((name) => o[name]).map((name) => fromTensor(name, o[name]!)),
              },
            }
          : { ok: false as const, error: errors[i]! },
      ),
      executionProviders: m.executionProviders,
    };
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

function sub(view: ArrayBufferView, start: number, length: number): ArrayBufferView {
  return (view as unknown as { subarray(a: number, b: number): ArrayBufferView }).subarray(
    start,
    start + length,
  );
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function describeTensor(t: TensorInfo): string {
  return `${t.name} (${t.datatype} [${t.shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}])`;
}

function toBody(err: unknown): ErrorBody {
  if (err instanceof IdlerigError) return err.toBody();
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
}

function tensorBytes(t: OipTensor): number {
  if (ArrayBuffer.isView(t.data)) return t.data.byteLength;
  return t.data.length * 8;
}

/** Flattens nested arrays (row-major), refusing anything that is not an array of leaves. */
function flatten(data: unknown[], out: unknown[] = []): unknown[] {
  for (const v of data) {
    if (Array.isArray(v)) flatten(v, out);
    else out.push(v);
  }
  return out;
}

function toTensor(
  ort: Ort,
  input: OipTensor,
  meta: { type: OrtType; shape: (number | null)[] },
): Tensor {
  const expected = ORT_TO_OIP[meta.type];
  const shapeText = `[${meta.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
  const fail = (why: string): never => {
    throw new IdlerigError(
      'INVALID_INPUT',
      `Input tensor ${JSON.stringify(input.name)}: ${why}; the model expects ${expected ?? meta.type} with shape ${shapeText}`,
      {
        tensor: input.name,
        expectedShape: meta.shape.map((d) => d ?? -1),
        expectedDatatype: expected ?? meta.type,
        shape: input.shape,
        datatype: input.datatype,
      },
    );
  };
  if (!expected) fail(`its type ${meta.type} is not supported`);
  if (input.datatype !== expected) fail(`datatype ${input.datatype} given`);
  const shapeOk =
    input.shape.length === meta.shape.length &&
    meta.shape.every((d, i) => d === null || d === input.shape[i]);
  if (!shapeOk) fail(`shape [${input.shape.join(', ')}] given`);
  const count = input.shape.reduce((a, b) => a * b, 1);
  const type = meta.type;

  if (type === 'string') {
    if (ArrayBuffer.isView(input.data)) fail('BYTES data must be an array of strings');
    const flat = flatten(input.data as unknown[]);
    if (flat.length !== count) fail(`${flat.length} elements given for ${count}`);
    if (!flat.every((v) => typeof v === 'string')) fail('BYTES elements must be strings');
    return new ort.Tensor('string', flat as string[], input.shape);
  }
  const Ctor = CTOR[type]!;
  let data: ArrayBufferView;
  if (ArrayBuffer.isView(input.data)) {
    const view = input.data as unknown as ArrayLike<number | bigint> & ArrayBufferView;
    if (view.length !== count) fail(`${view.length} elements given for ${count}`);
    if (view instanceof Ctor) data = view;
    else if (type === 'float16') data = toHalf(Array.from(view as ArrayLike<number>, Number));
    else if (Ctor === BigInt64Array || Ctor === BigUint64Array)
      data = (Ctor as BigInt64ArrayConstructor).from(Array.from(view, (v) => BigInt(v)));
    else data = (Ctor as Float64ArrayConstructor).from(Array.from(view, (v) => Number(v)));
  } else {
    const flat = flatten(input.data as unknown[]);
    if (flat.length !== count) fail(`${flat.length} elements given for ${count}`);
    if (type === 'bool') {
      if (!flat.every((v) => typeof v === 'boolean' || v === 0 || v === 1))
        fail('BOOL elements must be true/false');
      data = Uint8Array.from(flat, (v) => (v === true || v === 1 ? 1 : 0));
    } else if (type === 'int64' || type === 'uint64') {
      if (
        !flat.every(
          (v) =>
            (typeof v === 'number' && Number.isInteger(v)) ||
            (typeof v === 'string' && /^-?\d+$/.test(v)),
        )
      )
        fail('integer elements expected');
      const big = flat.map((v) => BigInt(v as number | string));
      data = type === 'int64' ? BigInt64Array.from(big) : BigUint64Array.from(big);
    } else {
      const float = type === 'float16' || type === 'float32' || type === 'float64';
      if (!flat.every((v) => typeof v === 'number' && (float || Number.isInteger(v))))
        fail(float ? 'number elements expected' : 'integer elements expected');
      data =
        type === 'float16'
          ? toHalf(flat as number[])
          : (Ctor as Float64ArrayConstructor).from(flat as number[]);
    }
  }
  return new ort.Tensor(type as 'float32', data as Float32Array, input.shape);
}

function fromTensor(name: string, t: Tensor): OipTensor {
  const datatype = ORT_TO_OIP[t.type] ?? 'BYTES';
  let data: OipTensor['data'] = t.data as OipTensor['data'];
  if (t.type === 'float16') data = fromHalf(t.data as Uint16Array);
  return { name, datatype, shape: [...t.dims], data };
}

// IEEE 754 half precision, for FP16 tensors given or returned as numbers.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(values: number[]): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) h = sign | 0x7c00 | (mant ? 0x200 : 0);
    else {
      const e = exp - 127 + 15;
      if (e >= 0x1f) h = sign | 0x7c00;
      else if (e <= 0) h = e < -10 ? sign : sign | ((mant | 0x800000) >> (1 - e + 13));
      else h = sign | (e << 10) | (mant >> 13);
    }
    out[i] = h;
  }
  return out;
}
function fromHalf(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] =
      e === 0
        ? s * 2 ** -14 * (f / 1024)
        : e === 0x1f
          ? f
            ? NaN
            : s * Infinity
          : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return out;
}
