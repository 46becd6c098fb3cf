// A market job on the node's engine: the wire input (shared/market-protocol.ts) as an engine job
// (EngineService.runJob), streamed chunks, cancel through an AbortSignal, and the result as the
// wire needs it.
// The engine knows nothing of the market; this is the one place that translates.
import { IdlerigError } from '../../../shared/errors';
import type { JobInputBody, WireTensor } from '../../../shared/market-protocol';
import type { OipDatatype, OipTensor } from '../../../shared/engine-protocol';
import type { EngineService } from '../engine/service';
import type { InstalledModel } from '../models/registry';

export interface LlmRun {
  text: string;
  finishReason: 'stop' | 'length' | 'cancelled';
  tokensIn: number;
  tokensOut: number;
  /** From the job's arrival in the engine to its first token. */
  ttftMs: number | null;
  decodeTokensPerS: number | null;
}

export interface TensorRun {
  outputs: WireTensor[];
  ms: number;
}

/** What the market's job runner needs of an engine (the real one, or a test's). */
export interface MarketEngine {
  /** The installed, verified model with this sha256 (null: none). */
  findModel(sha256: string): InstalledModel | null;
  runLlm(
    model: InstalledModel,
    body: Extract<JobInputBody, { kind: 'chat' | 'completion' }>,
    opts: { jobId: string; signal: AbortSignal; onChunk(text: string, tokens: number): void },
  ): Promise<LlmRun>;
  runTensor(
    model: InstalledModel,
    body: Extract<JobInputBody, { kind: 'tensor' }>,
    opts: { jobId: string; signal: AbortSignal },
  ): Promise<TensorRun>;
  /** A tensor model's inputs and outputs (for the gateway's /v2 metadata); loads it once. */
  tensorSpecs?(model: InstalledModel): Promise<{ inputs: TensorSpec[]; outputs: TensorSpec[] }>;
}

export interface TensorSpec {
  name: string;
  datatype: string;
  shape: number[];
}

export function isVerified(m: InstalledModel): boolean {
  return typeof m.verifiedAt === 'string' && m.verifiedAt.length > 0;
}

/** The node's engine (EngineService.runJob: it reports each job's energy itself). */
export function nodeEngine(
  engine: EngineService,
  models: () => readonly InstalledModel[],
): MarketEngine {
  return {
    findModel(sha256) {
      return models().find((m) => m.sha256 === sha256 && isVerified(m)) ?? null;
    },
    async runLlm(model, body, opts) {
      let tokensOut = 0;
      try {
        const outcome = await engine.runJob(
          {
            id: opts.jobId,
            modelId: model.id,
            input:
              body.kind === 'chat'
                ? { kind: 'chat', messages: body.messages, sampling: body.sampling }
                : { kind: 'completion', prompt: body.prompt, sampling: body.sampling },
          },
          {
            signal: opts.signal,
            onChunk: (c) => {
              tokensOut += c.tokens;
              opts.onChunk(c.text, c.tokens);
            },
          },
        );
        if (outcome.finishReason === 'error')
          throw new IdlerigError('INTERNAL', 'The engine ended the job with an error');
        return {
          text: 'text' in outcome.output ? outcome.output.text : '',
          finishReason: outcome.finishReason,
          tokensIn: outcome.usage?.prompt_tokens ?? 0,
          tokensOut: outcome.usage?.completion_tokens ?? tokensOut,
          ttftMs: outcome.timings.ttftMs,
          decodeTokensPerS: outcome.timings.decodeTokensPerSecond,
        };
      } catch (err) {
        // Cancelled before the engine took it: nothing ran, nothing is charged.
        if (err instanceof IdlerigError && err.code === 'CANCELLED' && opts.signal.aborted) {
          return {
            text: '',
            finishReason: 'cancelled',
            tokensIn: 0,
            tokensOut,
            ttftMs: null,
            decodeTokensPerS: null,
          };
        }
        throw err;
      }
    },
    async runTensor(model, body, opts) {
      const outcome = await engine.runJob(
        {
          id: opts.jobId,
          modelId: model.id,
          input: {
            kind: 'tensor',
            request: {
              inputs: body.inputs.map(fromWire),
              ...(body.outputs ? { outputs: body.outputs.map((name) => ({ name })) } : {}),
            },
          },
        },
        { signal: opts.signal },
      );
      if (!('response' in outcome.output))
        throw new IdlerigError('INTERNAL', 'The engine gave no tensor response');
      return { outputs: outcome.output.response.outputs.map(toWire), ms: outcome.timings.totalMs };
    },
    async tensorSpecs(model) {
      const use = engine.useModel(model.id);
      try {
        const info = await engine.supervisor.request('models.load', {
          kind: 'onnx',
          model: use.ref,
        });
        const spec = (t: { name: string; datatype: string; shape: number[] }): TensorSpec => ({
          name: t.name.slice(0, 256),
          datatype: t.datatype.slice(0, 16),
          shape: t.shape.slice(0, 16),
        });
        return {
          inputs: (info.onnx?.inputs ?? []).slice(0, 256).map(spec),
          outputs: (info.onnx?.outputs ?? []).slice(0, 256).map(spec),
        };
      } finally {
        use.release();
      }
    },
  };
}

type TypedCtor = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayLike<number | bigint>;
  BYTES_PER_ELEMENT: number;
};

const TYPED: Partial<Record<OipDatatype, TypedCtor>> = {
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array as unknown as TypedCtor,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array as unknown as TypedCtor,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** A wire tensor (JSON data or little-endian bytes in base64) as the engine takes it. */
export function fromWire(t: WireTensor): OipTensor {
  const datatype = t.datatype as OipDatatype;
  if (t.data !== undefined) return { name: t.name, shape: t.shape, datatype, data: t.data };
  const bytes = Buffer.from(t.b64 ?? '', 'base64');
  if (datatype === 'BOOL')
    return { name: t.name, shape: t.shape, datatype, data: [...bytes].map((b) => b !== 0) };
  if (datatype === 'BYTES') {
    const out: string[] = [];
    for (let i = 0; i + 4 <= bytes.length;) {
      const n = bytes.readUInt32LE(i);
      out.push(bytes.subarray(i + 4, i + 4 + n).toString('utf8'));
      i += 4 + n;
    }
    return { name: t.name, shape: t.shape, datatype, data: out };
  }
  const Ctor = TYPED[datatype];
  if (!Ctor)
    throw new IdlerigError(
      'INVALID_INPUT',
      `Tensor ${t.name}: datatype ${t.datatype} is not supported here`,
    );
  if (bytes.length % Ctor.BYTES_PER_ELEMENT !== 0)
    throw new IdlerigError(
      'INVALID_INPUT',
      `Tensor ${t.name}: ${bytes.length} bytes is not a whole number of ${t.datatype} values`,
    );
  // Copy to an aligned buffer of its own.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const data = new Ctor(copy.buffer, 0, bytes.length / Ctor.BYTES_PER_ELEMENT);
  return { name: t.name, shape: t.shape, datatype, data: data as unknown as OipTensor['data'] };
}

/** An engine output as JSON data on the wire (bigints as numbers, typed arrays as arrays). */
export function toWire(t: OipTensor): WireTensor {
  const data = Array.from(t.data as ArrayLike<unknown>, (v) =>
    typeof v === 'bigint' ? Number(v) : v,
  );
  return { name: t.name, shape: t.shape, datatype: t.datatype, data };
}
