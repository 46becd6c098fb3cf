// Shared set-up of the engine tests: a models folder with copies of the real fixtures, and a
// supervisor that starts the bundled engine process (test/helpers/engine-bundle.ts).
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EngineConfigInput, ModelRef } from '../../shared/engine-protocol';
import {
  EngineSupervisor,
  type SupervisorOptions,
} from '../../electron/provider/engine/supervisor';
import type { ScopedLogger } from '../../electron/provider/logs/logger';
import { bundles } from './engine-bundle';

export const FIXTURES = resolve(import.meta.dirname, '../fixtures');

/** The fixtures with their sha256 (test/fixtures/README.md). */
export const MODELS = {
  stories: {
    file: 'stories260K.gguf',
    sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d',
  },
  tiny: {
    file: 'llama-2-tiny-random.gguf',
    sha256: '81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb',
  },
  mnist: {
    file: 'mnist-8.onnx',
    sha256: '2f06e72de813a8635c9bc0397ac447a601bdbfa7df4bebc278723b958831c9bf',
  },
} as const satisfies Record<string, ModelRef>;

export interface LogLine {
  level: string;
  msg: string;
  data?: Record<string, unknown>;
}

/** A logger that keeps what it is told (and prints errors when ENGINE_TEST_LOGS=1). */
export function memoryLogger(): ScopedLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (msg: string, data?: Record<string, unknown>): void => {
      lines.push(data ? { level, msg, data } : { level, msg });
      if (process.env.ENGINE_TEST_LOGS) console.error(`[engine ${level}] ${msg}`, data ?? '');
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export async function modelsFolder(
  which: (keyof typeof MODELS)[] = ['stories', 'tiny', 'mnist'],
): Promise<{ dir: string; root: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'idlerig-engine-'));
  const dir = join(root, 'models');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir));
  for (const k of which) await copyFile(join(FIXTURES, MODELS[k].file), join(dir, MODELS[k].file));
  return { dir, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export async function startEngine(
  opts: {
    config?: Partial<EngineConfigInput>;
    models?: (keyof typeof MODELS)[];
    supervisor?: Partial<SupervisorOptions>;
  } = {},
): Promise<{
  engine: EngineSupervisor;
  log: ReturnType<typeof memoryLogger>;
  modelsDir: string;
  root: string;
  close(): Promise<void>;
}> {
  const { engine: entry } = await bundles();
  const folder = await modelsFolder(opts.models);
  const log = memoryLogger();
  const engine = new EngineSupervisor({
    entry,
    log,
    config: { modelsDir: folder.dir, ...opts.config },
    ...opts.supervisor,
  });
  await engine.start();
  return {
    engine,
    log,
    modelsDir: folder.dir,
    root: folder.root,
    async close() {
      await engine.close();
      await folder.cleanup();
    },
  };
}
