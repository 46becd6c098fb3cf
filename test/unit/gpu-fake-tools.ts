// Test helper: puts FAKE vendor tools (test/fixtures/gpu/bin) on PATH, replaying the recordings of
// one machine (test/fixtures/gpu/machines/<machine>). Only the tools that machine has recordings
// for are installed: the others are "not installed" there, exactly as on the real machine.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

export const GPU_FIXTURES = resolve(import.meta.dirname, '../fixtures/gpu');
export const MACHINES_DIR = join(GPU_FIXTURES, 'machines');

export function machineNames(): string[] {
  return readdirSync(MACHINES_DIR).sort();
}

export interface FakeTools {
  machineDir: string;
  binDir: string;
  /** Environment for spawned tools: fakes first on PATH, the machine selected. */
  env: NodeJS.ProcessEnv;
  /** The machine's Vulkan driver manifests folder. */
  icdDirs: string[];
  installed: string[];
  cleanup(): Promise<void>;
}

/** Which fakes a machine's recordings call for. */
function toolsFor(machineDir: string): string[] {
  const tools: string[] = [];
  if (existsSync(join(machineDir, 'nvidia-smi'))) tools.push('nvidia-smi');
  if (existsSync(join(machineDir, 'rocm-smi'))) tools.push('rocm-smi');
  if (existsSync(join(machineDir, 'lspci-vmm.txt'))) tools.push('lspci');
  if (existsSync(join(machineDir, 'system_profiler'))) tools.push('system_profiler');
  return tools;
}

export async function installFakeTools(
  machine: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<FakeTools> {
  const machineDir = join(MACHINES_DIR, machine);
  const binDir = await mkdtemp(join(tmpdir(), `idlerig-fake-${machine}-`));
  // The fakes are CommonJS scripts; the project's package.json says "type": "module".
  await writeFile(join(binDir, 'package.json'), '{"type":"commonjs"}\n');
  const installed = toolsFor(machineDir);
  for (const tool of installed) {
    await copyFile(join(GPU_FIXTURES, 'bin', tool), join(binDir, tool));
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extraEnv,
    PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`,
    IDLERIG_FAKE_GPU_MACHINE: machineDir,
  };
  return {
    machineDir,
    binDir,
    env,
    icdDirs: [join(machineDir, 'vulkan', 'icd.d')],
    installed,
    cleanup: () => rm(binDir, { recursive: true, force: true }),
  };
}

/** systeminformation runs its tools with process.env: point it at the fakes for a while. */
export function useProcessEnv(env: NodeJS.ProcessEnv): () => void {
  const saved = {
    PATH: process.env.PATH,
    IDLERIG_FAKE_GPU_MACHINE: process.env.IDLERIG_FAKE_GPU_MACHINE,
  };
  process.env.PATH = env.PATH;
  process.env.IDLERIG_FAKE_GPU_MACHINE = env.IDLERIG_FAKE_GPU_MACHINE;
  return () => {
    process.env.PATH = saved.PATH;
    if (saved.IDLERIG_FAKE_GPU_MACHINE === undefined) delete process.env.IDLERIG_FAKE_GPU_MACHINE;
    else process.env.IDLERIG_FAKE_GPU_MACHINE = saved.IDLERIG_FAKE_GPU_MACHINE;
  };
}
