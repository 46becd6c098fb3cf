// Will this model run here, and how? Estimated before the download from the GGUF header (read
// remotely with node-llama-cpp's GGUF reader: a few hundred KB to a few MB of the file, by Range)
// and this machine's GPUs and RAM: full GPU / partial offload / CPU only / will not fit, with a
// confidence. ONNX models are estimated from their file size.
//
// The arithmetic is done here in plain TypeScript rather than by GgufInsights: GgufInsights needs
// node-llama-cpp's native addon loaded in the calling process (DESIGN.md keeps native code in the
// engine process), and its resolver, run without a GPU backend, ignores GPU overrides for the
// context (it estimated 0 bytes of VRAM for the KV cache when told a 2 MB GPU had every layer).
// What is computed, and how:
//   weights    per tensor from the header's tensor offsets (exact: byte sizes in the file),
//              grouped per layer (blk.N.*) and the rest (embeddings, output)
//   KV cache   layers x context x (K + V width per token) x 2 bytes (f16, llama.cpp's default)
//   overhead   llama.cpp's compute buffer: the logits of one 512-token batch (vocab x 512 x 4
//              bytes) + activations (~32 x embedding width x 512 x 4) + 64 MiB of slack
import { totalmem, freemem } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FitEstimate, FitVerdict, ModelEngine } from '../../../shared/api/models';
import type { GpuInventory } from '../../../shared/api/power';
import { formatBytes } from '../../../shared/format';
import { fetchChecked } from './download-http';

export interface MachineFacts {
  gpus: Array<{ name: string; vramTotalBytes: number; vramFreeBytes: number }>;
  ramTotalBytes: number;
  ramFreeBytes: number;
  source: 'gpu-module' | 'os-only';
}

export type MachineFactsProvider = () => Promise<MachineFacts>;

/** RAM from the OS and no GPU: what is known until the GPU module reports. */
export const osOnlyFacts: MachineFactsProvider = async () => ({
  gpus: [],
  ramTotalBytes: totalmem(),
  ramFreeBytes: freemem(),
  source: 'os-only',
});

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Machine facts from the GPU module's inventory (electron/provider/gpu): usable GPUs only. */
export function factsFromInventory(
  inv: GpuInventory,
  ram = { total: totalmem(), free: freemem() },
): MachineFacts {
  return {
    gpus: inv.gpus
      .filter((g) => g.usable && g.vramTotalMiB !== null)
      .map((g) => ({
        name: g.name,
        vramTotalBytes: (g.vramTotalMiB ?? 0) * MiB,
        vramFreeBytes: (g.vramFreeMiB ?? g.vramTotalMiB ?? 0) * MiB,
      })),
    ramTotalBytes: ram.total,
    ramFreeBytes: ram.free,
    source: 'gpu-module',
  };
}

/**
 * The part of a GGUF header the estimate reads (node-llama-cpp's GgufFileInfo has this shape, and
 * readGgufHeader returns exactly this, as plain data).
 */
export interface GgufHeader {
  metadata?: { general?: { architecture?: string } };
  architectureMetadata: unknown;
  tensorInfo?: ReadonlyArray<{
    name: string;
    offset: number | bigint;
    dimensions: ReadonlyArray<number | bigint>;
  }>;
  fullTensorInfo?: GgufHeader['tensorInfo'];
  infoEndOffset?: number;
}

/** What a GGUF needs, from its header. */
export interface GgufNeeds {
  architecture: string;
  trainContext: number | null;
  layers: number;
  /** Bytes of each layer's tensors (blk.N.*). */
  layerBytes: number[];
  /** Bytes of the other tensors (embeddings, output norm, output). */
  otherBytes: number;
  /** Bytes of the output head (output.weight, or the tied embeddings), which llama.cpp offloads last. */
  outputBytes: number;
  /** KV cache bytes per token, per layer. */
  kvBytesPerTokenPerLayer: number;
  embedding: number;
  vocab: number;
  /** Sliding-window, recurrent or mixture-of-experts: the plain formula is less certain. */
  unusual: string | null;
}

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.length > 0) return Math.max(...v.map((x) => Number(x)));
  return null;
}

/** Reduces a GGUF header to the facts the estimate uses. fileSize: the whole file's bytes. */
export function ggufNeeds(info: GgufHeader, fileSize: number): GgufNeeds {
  const arch = info.metadata?.general?.architecture ?? 'unknown';
  const a = info.architectureMetadata as Record<string, unknown> & {
    attention?: Record<string, unknown>;
  };
  const tensors = [...(info.fullTensorInfo ?? info.tensorInfo ?? [])].sort(
    (x, y) => Number(x.offset) - Number(y.offset),
  );
  const dataStart = info.infoEndOffset ?? 0;
  const dataBytes = Math.max(0, fileSize - dataStart);
  const layerBytes: number[] = [];
  let otherBytes = 0;
  let outputBytes = 0;
  let embedBytes = 0;
  let vocab = 0;
  tensors.forEach((t, i) => {
    const start = Number(t.offset);
    const end = i + 1 < tensors.length ? Number(tensors[i + 1]!.offset) : dataBytes;
    const size = Math.max(0, end - start);
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m) {
      const n = Number(m[1]);
      layerBytes[n] = (layerBytes[n] ?? 0) + size;
    } else {
      otherBytes += size;
      if (t.name === 'output.weight') outputBytes = size;
      if (t.name === 'token_embd.weight') {
        embedBytes = size;
        vocab = Number(t.dimensions[t.dimensions.length - 1] ?? 0);
      }
    }
  });
  if (outputBytes === 0) outputBytes = embedBytes; // tied embeddings
  const blockCount = num(a.block_count) ?? layerBytes.length;
  for (let i = 0; i < blockCount; i++) layerBytes[i] ??= 0;
  const att = a.attention ?? {};
  const embedding = num(a.embedding_length) ?? 0;
  const heads = num(att.head_count) ?? 0;
  const headsKv = num(att.head_count_kv) ?? heads;
  const keyLen = num(att.key_length) ?? (heads > 0 ? embedding / heads : 0);
  const valueLen = num(att.value_length) ?? keyLen;
  const kvWidth = headsKv * (keyLen + valueLen);
  const unusual =
    att.sliding_window !== undefined
      ? 'sliding-window attention'
      : a.ssm !== undefined || a.wkv !== undefined || /mamba|rwkv/i.test(arch)
        ? 'a recurrent architecture'
        : num(a.expert_count) !== null && (num(a.expert_count) ?? 0) > 1
          ? 'a mixture of experts'
          : kvWidth === 0
            ? 'attention sizes missing from the header'
            : null;
  return {
    architecture: arch,
    trainContext: num(a.context_length),
    layers: blockCount,
    layerBytes,
    otherBytes,
    outputBytes,
    kvBytesPerTokenPerLayer: kvWidth * 2,
    embedding,
    vocab: vocab || num(a.vocab_size) || 32_000,
    unusual,
  };
}

export interface FitInput {
  modelId: string;
  variantId: string | null;
  engine: ModelEngine;
  fileSize: number;
  /** From the header (GGUF); null: estimate from the file size. */
  needs: GgufNeeds | null;
  /** The catalog's context length, when there is no header. */
  contextLength: number | null;
  facts: MachineFacts;
  /** Why the header could not be read, if it was tried. */
  headerError?: string;
  /** The header read failed because the network could not be reached. */
  offline?: boolean;
}

/** The context the estimate is for: the model's own, capped at 4,096 (node-llama-cpp's default for estimates). */
export const DEFAULT_FIT_CONTEXT = 4096;

export function estimateFit(input: FitInput): FitEstimate {
  const { facts, needs } = input;
  const reasons: string[] = [];
  const ramUsable = Math.max(0, facts.ramTotalBytes - Math.max(GiB, facts.ramTotalBytes * 0.1));
  const gpus = facts.gpus.filter((g) => g.vramFreeBytes > 0);
  const vramFree = gpus.reduce((s, g) => s + g.vramFreeBytes, 0);
  const vramUsable = vramFree * 0.95;
  const machine = {
    gpus: facts.gpus.map((g) => ({ ...g })),
    ramTotalBytes: facts.ramTotalBytes,
    ramFreeBytes: facts.ramFreeBytes,
    source: facts.source,
  };
  if (facts.source === 'os-only') {
    reasons.push('GPU detection has not reported yet: this estimate assumes no GPU.');
  } else if (gpus.length === 0) {
    reasons.push('No usable GPU was found: the model would run on the CPU.');
  }

  // ONNX, or a GGUF whose header could not be read: by file size.
  if (!needs) {
    if (input.offline)
      reasons.push(
        "Offline: the model's header could not be fetched, so this is estimated from the file size alone.",
      );
    else if (input.headerError)
      reasons.push(
        `The model header could not be read (${input.headerError}); estimated from the file size.`,
      );
    const weights = input.fileSize;
    const overhead = input.engine === 'onnx' ? Math.max(64 * MiB, input.fileSize) : 256 * MiB;
    const total = weights + overhead;
    const ctx =
      input.engine === 'onnx'
        ? null
        : Math.min(input.contextLength ?? DEFAULT_FIT_CONTEXT, DEFAULT_FIT_CONTEXT);
    let verdict: FitVerdict;
    if (input.engine === 'onnx') {
      reasons.push(
        'ONNX models run on the CPU here unless CUDA for ONNX is set up (an explicit step).',
      );
      verdict = total <= ramUsable ? 'cpu-only' : 'will-not-fit';
    } else if (gpus.length > 0 && total <= vramUsable) verdict = 'full-gpu';
    else if (total <= ramUsable) verdict = gpus.length > 0 ? 'partial-offload' : 'cpu-only';
    else verdict = 'will-not-fit';
    return {
      modelId: input.modelId,
      variantId: input.variantId,
      verdict,
      confidence: 'low',
      contextSize: ctx,
      gpuLayers: null,
      totalLayers: null,
      need: { weightsBytes: weights, kvCacheBytes: 0, overheadBytes: overhead, totalBytes: total },
      machine,
      basis: 'file-size',
      offline: input.offline ?? false,
      summary: summaryOf(verdict, total, null, null),
      reasons,
    };
  }

  const ctx = Math.min(
    needs.trainContext ?? input.contextLength ?? DEFAULT_FIT_CONTEXT,
    DEFAULT_FIT_CONTEXT,
  );
  const layerWeights = needs.layerBytes.reduce((s, b) => s + b, 0);
  const weights = layerWeights + needs.otherBytes;
  const kvPerLayer = needs.kvBytesPerTokenPerLayer * ctx;
  const kv = kvPerLayer * needs.layers;
  const overhead = needs.vocab * 512 * 4 + 32 * needs.embedding * 512 * 4 + 64 * MiB;
  const total = weights + kv + overhead;
  let confidence: FitEstimate['confidence'] = 'high';
  if (needs.unusual) {
    confidence = 'medium';
    reasons.push(`The model uses ${needs.unusual}; the estimate is less certain.`);
  }
  if (facts.source === 'os-only') confidence = confidence === 'high' ? 'medium' : confidence;

  let verdict: FitVerdict;
  let gpuLayers = 0;
  let ramNeed = total;
  if (gpus.length > 0 && total <= vramUsable) {
    verdict = 'full-gpu';
    gpuLayers = needs.layers;
    if (total > vramUsable * 0.85) {
      confidence = 'medium';
      reasons.push(
        `It fits in VRAM with little room to spare (${formatBytes(total)} of ${formatBytes(vramFree)} free).`,
      );
    }
  } else {
    // Layers go to the GPU one by one; the output head and the compute buffer first.
    if (gpus.length > 0) {
      const perLayer = layerWeights / Math.max(1, needs.layers) + kvPerLayer;
      const room = vramUsable - overhead - needs.outputBytes;
      gpuLayers =
        perLayer > 0 ? Math.max(0, Math.min(needs.layers, Math.floor(room / perLayer))) : 0;
    }
    if (gpuLayers > 0) {
      const avgLayer = layerWeights / Math.max(1, needs.layers);
      ramNeed =
        (needs.layers - gpuLayers) * (avgLayer + kvPerLayer) +
        (needs.otherBytes - needs.outputBytes) +
        128 * MiB;
      verdict = ramNeed <= ramUsable ? 'partial-offload' : 'will-not-fit';
      reasons.push(
        `${gpuLayers} of ${needs.layers} layers fit on the GPU; the rest run on the CPU, slower.`,
      );
    } else {
      if (gpus.length > 0)
        reasons.push(`Not even one layer fits in the GPU's ${formatBytes(vramFree)} of free VRAM.`);
      verdict = total <= ramUsable ? 'cpu-only' : 'will-not-fit';
    }
    if (verdict !== 'will-not-fit' && ramNeed > ramUsable * 0.85) {
      confidence = 'medium';
      reasons.push(
        `It needs most of this machine's memory (${formatBytes(ramNeed)} of ${formatBytes(ramUsable)} usable).`,
      );
    }
    if (verdict !== 'will-not-fit' && ramNeed > facts.ramFreeBytes) {
      reasons.push(
        `Other programs use memory now: ${formatBytes(facts.ramFreeBytes)} is free at the moment.`,
      );
    }
    if (verdict === 'will-not-fit') {
      reasons.push(
        `It needs about ${formatBytes(gpuLayers > 0 ? ramNeed : total)} of RAM; this machine has ${formatBytes(facts.ramTotalBytes)} (${formatBytes(ramUsable)} usable).`,
      );
    }
  }
  return {
    modelId: input.modelId,
    variantId: input.variantId,
    verdict,
    confidence,
    contextSize: ctx,
    gpuLayers,
    totalLayers: needs.layers,
    need: { weightsBytes: weights, kvCacheBytes: kv, overheadBytes: overhead, totalBytes: total },
    machine,
    basis: 'gguf-header',
    offline: false,
    summary: summaryOf(verdict, total, gpuLayers, needs.layers, ctx),
    reasons,
  };
}

function summaryOf(
  verdict: FitVerdict,
  total: number,
  gpuLayers: number | null,
  layers: number | null,
  ctx?: number,
): string {
  const at = ctx ? ` at a ${ctx.toLocaleString('en-US')}-token context` : '';
  switch (verdict) {
    case 'full-gpu':
      return `Runs fully on the GPU (about ${formatBytes(total)}${at}).`;
    case 'partial-offload':
      return gpuLayers !== null && layers !== null
        ? `Runs partly on the GPU (${gpuLayers} of ${layers} layers), the rest on the CPU.`
        : 'Runs partly on the GPU, the rest on the CPU.';
    case 'cpu-only':
      return `Runs on the CPU only (about ${formatBytes(total)} of RAM${at}).`;
    case 'will-not-fit':
      return `Will not fit in this machine's memory (needs about ${formatBytes(total)}${at}).`;
  }
}

// Runs in a worker thread: node-llama-cpp's module graph installs a signal-exit handler on
// import, which, in the node's own thread, turns a graceful SIGTERM into an abrupt one (it
// re-sends the signal when it finds no other listener, and `process.once` listeners are removed
// before they run). Signals never reach a worker thread, so the reader is loaded there.
// The reader's network requests do not leave from the worker: its fetch is handed to the node's
// thread, which makes it with the downloader's checks (download-http.ts fetchChecked: https or
// loopback only, and every redirect checked the same way, so a server cannot steer the header
// read to plain http or to this machine's own services).
const HEADER_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fetches = new Map();
let nextFetch = 1;
globalThis.fetch = (input, init = {}) =>
  new Promise((resolve, reject) => {
    const fetchId = nextFetch++;
    fetches.set(fetchId, { resolve, reject });
    const headers = {};
    new Headers(init.headers || {}).forEach((v, k) => (headers[k] = v));
    const url = typeof input === 'string' ? input : input.url || String(input);
    parentPort.postMessage({ kind: 'fetch', fetchId, url, headers });
  });
const reader = import(workerData.entry);
parentPort.on('message', async (m) => {
  if (m.kind === 'fetched') {
    const f = fetches.get(m.fetchId);
    fetches.delete(m.fetchId);
    if (!f) return;
    if (m.ok) f.resolve(new Response(m.status === 204 ? null : m.body, { status: m.status, statusText: m.statusText, headers: m.headers }));
    else f.reject(Object.assign(new Error(m.message), { code: m.code }));
    return;
  }
  const { id, source } = m;
  try {
    const { readGgufFileInfo } = await reader;
    const info = await readGgufFileInfo(source, {
      logWarnings: false,
      spliceSplitFiles: false,
      ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
      fetchRetryOptions: { retries: 1, minTimeout: 200, maxTimeout: 1000 },
    });
    const tensors = (info.fullTensorInfo || info.tensorInfo || []).map((t) => ({
      name: t.name,
      offset: Number(t.offset),
      dimensions: t.dimensions.map(Number),
    }));
    parentPort.postMessage({
      id,
      ok: true,
      header: {
        metadata: { general: { architecture: info.metadata && info.metadata.general && info.metadata.general.architecture } },
        architectureMetadata: JSON.parse(JSON.stringify(info.architectureMetadata || {}, (k, v) => typeof v === 'bigint' ? Number(v) : v)),
        tensorInfo: tensors,
        infoEndOffset: info.infoEndOffset,
      },
    });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, message: String((err && err.message) || err), code: err && err.code });
  }
});
`;

type HeaderReply =
  | {
      kind?: undefined;
      id: number;
      ok: boolean;
      header?: GgufHeader;
      message?: string;
      code?: string;
    }
  | { kind: 'fetch'; fetchId: number; url: string; headers: Record<string, string> };

/** A header read never needs more than this in one answer (the reader asks for ranges). */
const HEADER_FETCH_MAX_BYTES = 64 * 1024 * 1024;

/** One worker for all header reads, ended after 30 s without work. */
class HeaderReader {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve(h: GgufHeader): void; reject(e: Error): void }
  >();
  private idle: NodeJS.Timeout | null = null;
  /** Aborts the worker's requests in flight when it is ended. */
  private fetches = new AbortController();

  read(source: string, signal?: AbortSignal): Promise<GgufHeader> {
    const worker = this.ensure();
    const id = this.nextId++;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    return new Promise<GgufHeader>((resolvePromise, reject) => {
      const onAbort = (): void => {
        this.settle(id);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (h) => {
          signal?.removeEventListener('abort', onAbort);
          resolvePromise(h);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      worker.postMessage({ id, source });
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const entry = pathToFileURL(createRequire(import.meta.url).resolve('node-llama-cpp')).href;
    const worker = new Worker(HEADER_WORKER, { eval: true, workerData: { entry } });
    worker.unref();
    worker.on('message', (m: HeaderReply) => {
      if (m.kind === 'fetch') return this.fetchFor(worker, m.fetchId, m.url, m.headers);
      const p = this.pending.get(m.id);
      this.settle(m.id);
      if (!p) return;
      if (m.ok && m.header) p.resolve(m.header);
      else
        p.reject(
          Object.assign(new Error(m.message ?? 'could not read the GGUF header'), {
            ...(m.code ? { code: m.code } : {}),
          }),
        );
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.worker = null;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
    });
    this.worker = worker;
    return worker;
  }

  /** The worker's fetch, made here through the download policy; the answer goes back to it. */
  private fetchFor(
    worker: Worker,
    fetchId: number,
    url: string,
    headers: Record<string, string>,
  ): void {
    const signal = AbortSignal.any([this.fetches.signal, AbortSignal.timeout(30_000)]);
    fetchChecked(url, headers, {
      signal,
      timeoutMs: 15_000,
      maxBytes: HEADER_FETCH_MAX_BYTES,
    }).then(
      (r) =>
        worker.postMessage({
          kind: 'fetched',
          fetchId,
          ok: true,
          status: r.status,
          statusText: r.statusText,
          headers: r.headers,
          body: r.body,
        }),
      (err: unknown) =>
        worker.postMessage({
          kind: 'fetched',
          fetchId,
          ok: false,
          message: err instanceof Error ? err.message : String(err),
          code: (err as { code?: unknown })?.code ?? null,
        }),
    );
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0 && this.worker && !this.idle) {
      this.idle = setTimeout(() => {
        this.idle = null;
        if (this.pending.size === 0) void this.worker?.terminate();
      }, 30_000);
      this.idle.unref();
    }
  }

  /** Ends the worker (the node is stopping). */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    for (const p of this.pending.values()) p.reject(new Error('stopped'));
    this.pending.clear();
    this.fetches.abort();
    this.fetches = new AbortController();
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

const headerReader = new HeaderReader();

/** Ends the GGUF header worker, if one runs. */
export function closeHeaderReader(): Promise<void> {
  return headerReader.close();
}

/** Reads a GGUF header (local path or URL) without the big tokenizer arrays, in a worker thread. */
export function readGgufHeader(pathOrUrl: string, signal?: AbortSignal): Promise<GgufHeader> {
  return headerReader.read(pathOrUrl, signal);
}
