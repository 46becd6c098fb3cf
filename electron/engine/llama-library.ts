// node-llama-cpp's native library in the engine process: one Llama instance for the configured
// backend (auto / cuda / vulkan / metal / cpu), loaded lazily so that the engine process is ready
// in milliseconds and pays for the native library on first use. A backend change retires the
// instance; it is disposed once no model loaded with it is left (llama-models.ts).
import type { Llama } from 'node-llama-cpp';
import type * as NodeLlamaCppModule from 'node-llama-cpp';
import { IdlerigError } from '../../shared/errors';
import type { EngineInfo, LlmBackendChoice } from '../../shared/engine-protocol';
import type { EngineLog } from './job';

export type NodeLlamaCpp = typeof NodeLlamaCppModule;

export class LlamaLibrary {
  private lib: NodeLlamaCpp | null = null;
  private llamaPromise: Promise<Llama> | null = null;
  private llama: Llama | null = null;
  private retiredLlama: Llama | null = null;

  constructor(
    private readonly backend: () => LlmBackendChoice,
    private readonly log: EngineLog,
  ) {}

  /** The node-llama-cpp module (imported once). */
  async module(): Promise<NodeLlamaCpp> {
    this.lib ??= await import('node-llama-cpp');
    return this.lib;
  }

  /** The Llama instance of the configured backend, loaded on first use. */
  ensure(): Promise<Llama> {
    this.llamaPromise ??= (async () => {
      const lib = await this.module();
      const backend = this.backend();
      const started = performance.now();
      try {
        const llama = await lib.getLlama({
          gpu: backend === 'auto' ? 'auto' : backend === 'cpu' ? false : backend,
          build: 'never',
          skipDownload: true,
          progressLogs: false,
          logLevel: lib.LlamaLogLevel.warn,
          logger: (level, message) => {
            const text = message.trimEnd();
            if (!text) return;
            const l =
              level === 'fatal' || level === 'error'
                ? 'error'
                : level === 'warn'
                  ? 'warn'
                  : 'debug';
            this.log(l, `llama.cpp: ${text}`);
          },
          // Threads are set per context (threads.ts), not shared from a global pool.
          maxThreads: 0,
        });
        this.llama = llama;
        this.log('info', 'llama.cpp loaded', {
          backend: llama.gpu === false ? 'cpu' : llama.gpu,
          requested: backend,
          cpuMathCores: llama.cpuMathCores,
          ms: Math.round(performance.now() - started),
        });
        return llama;
      } catch (err) {
        throw new IdlerigError(
          'UNAVAILABLE',
          `The ${backend} backend of llama.cpp is not available on this machine: ${(err as Error).message || (err as Error).name}`,
        );
      }
    })();
    this.llamaPromise.catch(() => {
      this.llamaPromise = null;
    });
    return this.llamaPromise;
  }

  /** The loaded backend's name ('cpu', 'cuda', ...), or 'unloaded'. */
  backendName(): string {
    const gpu = this.llama?.gpu;
    return gpu === undefined ? 'unloaded' : gpu === false ? 'cpu' : gpu;
  }

  async info(): Promise<NonNullable<EngineInfo['llm']>> {
    const llama = await this.ensure();
    const vram = llama.gpu === false ? null : await llama.getVramState().catch(() => null);
    return {
      backend: this.backendName(),
      gpuDevices: llama.gpu === false ? [] : await llama.getGpuDeviceNames().catch(() => []),
      supportsGpuOffloading: llama.supportsGpuOffloading,
      vram: vram ? { total: vram.total, free: vram.free } : null,
      cpuMathCores: llama.cpuMathCores,
      llamaCppRelease: llama.llamaCppRelease?.release ?? null,
    };
  }

  /**
   * The backend changed: the loaded instance (if any) retires, the next ensure() loads a new
   * one. Returns whether there was one.
   */
  retire(): boolean {
    if (!this.llama) return false;
    this.retiredLlama = this.llama;
    this.llama = null;
    this.llamaPromise = null;
    return true;
  }

  /** Disposes the retired instance unless `inUse` says a model loaded with it is still there. */
  async disposeRetired(inUse: (llama: Llama) => boolean): Promise<void> {
    const old = this.retiredLlama;
    if (!old || inUse(old)) return;
    this.retiredLlama = null;
    await old.dispose().catch(() => {});
  }

  /** Disposes the current instance (shutdown). */
  async dispose(): Promise<void> {
    if (this.llama) await this.llama.dispose().catch(() => {});
    this.llama = null;
    this.llamaPromise = null;
  }
}
