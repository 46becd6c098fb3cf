// An ONNX Runtime session as the engine uses it: opened, described, run, released.
//
// Why not only onnxruntime-node's public InferenceSession: its run() wraps every native run in a
// setImmediate and a promise, checks the feeds and fetches again and re-wraps the outputs. For a
// small model that is a large part of the job (mnist-8 on a 2-core EPYC: ~34.5 µs a run through
// the native session, ~38 µs through the public run()), and the engine runs a packed batch of
// hundreds of such runs back to back. The public class is a thin layer over the binding's own
// synchronous session (onnxruntime-node/dist/binding.js, `binding.InferenceSession`: loadModel,
// inputMetadata, outputMetadata, run, dispose); the engine opens that one directly when this
// onnxruntime-node build has it (checked when the session opens), and falls back to the public
// API otherwise, with runSync null. Same library, same session options, same kernels.
import { createRequire } from 'node:module';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Ort, OrtType } from './onnx-tensors';

type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Tensor>;

/** Input or output metadata in the public API's form (InferenceSession.ValueMetadata). */
export type ValueMetadata = InferenceSession.ValueMetadata;

export interface EngineSession {
  /** How it was opened: the binding's synchronous session, or the public InferenceSession. */
  readonly via: 'binding' | 'public';
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  readonly outputNames: readonly string[];
  /**
   * One run in its own turn of the event loop (as the public API runs); `fetches`: the outputs
   * wanted (all of them when null).
   */
  run(feeds: Feeds, fetches: readonly string[] | null): Promise<Outputs>;
  /**
   * The same run, synchronous (it blocks the event loop for the run's duration); null when the
   * session was opened through the public API. Throws what ONNX Runtime throws.
   */
  readonly runSync: ((feeds: Feeds, fetches: readonly string[] | null) => Outputs) | null;
  release(): Promise<void>;
}

/** The binding's session (onnxruntime-node/dist/binding.d.ts). */
interface RawMetadata {
  name: string;
  isTensor: boolean;
  symbolicDimensions: string[];
  shape: number[];
  type: number;
}
interface RawSession {
  loadModel(path: string, options: InferenceSession.SessionOptions): void;
  readonly inputMetadata: RawMetadata[];
  readonly outputMetadata: RawMetadata[];
  run(feeds: Feeds, fetches: Record<string, null>, options: InferenceSession.RunOptions): Outputs;
  dispose(): void;
}
interface RawBinding {
  binding: { InferenceSession: new () => RawSession };
  initOrt: () => void;
}

/** The binding's element type numbers (ONNX TensorProto.DataType), as onnxruntime-node maps them. */
const TYPES: (OrtType | undefined)[] = [
  undefined,
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
];

let raw: RawBinding | null | undefined;

/** onnxruntime-node's binding module, or null when this build does not look as expected. */
function rawBinding(): RawBinding | null {
  if (raw !== undefined) return raw;
  try {
    const mod = createRequire(import.meta.url)('onnxruntime-node/dist/binding.js') as RawBinding;
    raw =
      typeof mod?.initOrt === 'function' && typeof mod.binding?.InferenceSession === 'function'
        ? mod
        : null;
  } catch {
    raw = null;
  }
  return raw;
}

function toMetadata(m: RawMetadata): ValueMetadata {
  if (!m.isTensor) return { name: m.name, isTensor: false };
  const type = TYPES[m.type];
  if (type === undefined) throw new Error(`Unsupported data type ${m.type} of ${m.name}`);
  const shape = m.shape.map((d, i) => (d >= 0 ? d : (m.symbolicDimensions[i] ?? '?')));
  return { name: m.name, isTensor: true, type, shape };
}

const NO_RUN_OPTIONS: InferenceSession.RunOptions = Object.freeze({});

/**
 * Opens `path` with `options`: through the binding when it is there (the public API's own
 * loading steps: initOrt, loadModel, the metadata converted the same way), else (or when `via`
 * is 'public') through ort.InferenceSession.create.
 */
export async function openSession(
  ort: Ort,
  path: string,
  options: InferenceSession.SessionOptions,
  via: 'binding' | 'public' = 'binding',
): Promise<EngineSession> {
  const b = via === 'binding' ? rawBinding() : null;
  if (b) {
    b.initOrt();
    const session = new b.binding.InferenceSession();
    session.loadModel(path, options);
    let inputMetadata: ValueMetadata[];
    let outputMetadata: ValueMetadata[];
    try {
      inputMetadata = session.inputMetadata.map(toMetadata);
      outputMetadata = session.outputMetadata.map(toMetadata);
    } catch (err) {
      session.dispose();
      throw err;
    }
    const outputNames = outputMetadata.map((m) => m.name);
    const allOutputs = Object.fromEntries(outputNames.map((n) => [n, null])) as Record<
      string,
      null
    >;
    const runSync = (feeds: Feeds, fetches: readonly string[] | null): Outputs =>
      session.run(
        feeds,
        fetches
          ? (Object.fromEntries(fetches.map((n) => [n, null])) as Record<string, null>)
          : allOutputs,
        NO_RUN_OPTIONS,
      );
    return {
      via: 'binding',
      inputMetadata,
      outputMetadata,
      outputNames,
      runSync,
      // Like the public run(): one run per turn of the event loop, so that a caller running
      // requests one by one lets messages, cancels and pings in between.
      run: (feeds, fetches) =>
        new Promise<Outputs>((resolve, reject) =>
          setImmediate(() => {
            try {
              resolve(runSync(feeds, fetches));
            } catch (err) {
              reject(err);
            }
          }),
        ),
      release: async () => session.dispose(),
    };
  }
  const session = await ort.InferenceSession.create(path, options);
  return {
    via: 'public',
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    outputNames: session.outputNames,
    runSync: null,
    run: (feeds, fetches) =>
      (fetches ? session.run(feeds, [...fetches]) : session.run(feeds)) as Promise<Outputs>,
    release: () => session.release(),
  };
}
