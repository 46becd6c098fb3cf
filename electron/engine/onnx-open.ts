// Opening an ONNX Runtime session (in the engine's ONNX thread, onnx-worker.ts): execution
// providers are tried in order (CUDA / DirectML / CoreML where the platform and the installed
// binary have them), CPU last, and the list that was accepted is reported with the model's
// inputs and outputs as the Open Inference Protocol names them.
import type { InferenceSession } from 'onnxruntime-node';
import { IdlerigError } from '../../shared/errors';
import type { OnnxProvider, TensorInfo } from '../../shared/engine-protocol';
import type { EngineLog } from './job';
import type { PackedModel } from './onnx-packed';
import { ORT_TO_OIP, type Ort, type OrtType } from './onnx-tensors';

export interface OpenOptions {
  /** The configured providers in order (null: the platform's default list). */
  providers: OnnxProvider[] | null;
  threads: number;
}

/** Providers this onnxruntime-node build can use here (CUDA needs its libraries installed). */
export function availableProviders(ort: Ort): string[] {
  try {
    return ort
      .listSupportedBackends()
      .filter((b) => b.bundled)
      .map((b) => b.name);
  } catch {
    return ['cpu'];
  }
}

function candidates(ort: Ort, providers: OnnxProvider[] | null): OnnxProvider[][] {
  const wanted: OnnxProvider[] =
    providers ??
    (process.platform === 'win32'
      ? ['dml', 'cpu']
      : process.platform === 'darwin'
        ? ['coreml', 'cpu']
        : ['cuda', 'cpu']);
  const have = new Set(availableProviders(ort));
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

export async function openSession(
  ort: Ort,
  path: string,
  file: string,
  opts: OpenOptions,
  log: EngineLog,
): Promise<PackedModel> {
  let session: InferenceSession | null = null;
  let providers: string[] = [];
  let lastError: unknown = null;
  for (const eps of candidates(ort, opts.providers)) {
    try {
      session = await ort.InferenceSession.create(path, {
        executionProviders: eps,
        intraOpNumThreads: opts.threads,
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
        log('warn', `ONNX Runtime: ${eps[0]} is not usable here; trying the next provider`, {
          error: (err as Error).message.slice(0, 300),
        });
    }
  }
  if (!session) {
    throw new IdlerigError(
      'INVALID_INPUT',
      `ONNX Runtime could not load ${JSON.stringify(file)}: ${(lastError as Error | null)?.message ?? 'unknown error'}`,
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
  return {
    session,
    inputs,
    outputs,
    inputMeta,
    outputNames: new Set(session.outputNames),
    executionProviders: providers,
  };
}
