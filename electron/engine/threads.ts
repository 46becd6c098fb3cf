// How many CPU threads a model decodes with. On a 2-core machine llama.cpp decoded the test
// models ~20x faster with 1 thread than with 2 (1,300-1,500 tok/s against 67-83 tok/s, measured
// with node-llama-cpp 3.21.1): ggml's workers spin on a barrier after every operation, and when
// they outnumber the cores left over by the engine's own event loop (which runs sampling and
// streaming between tokens), the app and the OS, every barrier waits for a descheduled thread.
// A small model's per-token work is too small to split anyway.
//
// The rule (an explicit override always wins):
//   1. a small model (weights under SMALL_MODEL_BYTES) -> 1 thread, on any machine;
//   2. otherwise cores - 1 (one core stays free for the event loop), at least 1, at most 16.
// `cores` is node-llama-cpp's count of math (performance) cores, or the CPUs the OS offers.

/** Under this size a model's per-token matrix products are too small to share among threads. */
export const SMALL_MODEL_BYTES = 256 * 1024 * 1024;
export const MAX_DEFAULT_THREADS = 16;

export interface ThreadChoice {
  threads: number;
  /** Which branch of the rule chose it, in words (reported by the engine). */
  rule: string;
}

export function chooseThreads(opts: {
  cores: number;
  modelBytes: number;
  override?: number | null;
}): ThreadChoice {
  const cores = Math.max(1, Math.floor(opts.cores));
  if (opts.override != null && opts.override >= 1) {
    return { threads: Math.floor(opts.override), rule: 'override' };
  }
  if (opts.modelBytes < SMALL_MODEL_BYTES) {
    return { threads: 1, rule: 'small model (< 256 MiB): 1 thread' };
  }
  const threads = Math.min(MAX_DEFAULT_THREADS, Math.max(1, cores - 1));
  return {
    threads,
    rule: `cores - 1 (${cores} cores): ${threads} thread${threads > 1 ? 's' : ''}`,
  };
}
