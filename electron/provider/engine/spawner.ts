// Starting the engine process: the spawner interface (child_process.fork headless, Electron's
// utilityProcess in the desktop shell: electron/main/engine-spawner.ts), where the bundled entry
// is, and the environment the process gets.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ParentToEngine } from '../../../shared/engine-protocol';

/** A started engine process, whatever started it. */
export interface EngineChild {
  readonly pid: number | undefined;
  send(message: ParentToEngine): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the process is gone (signal null when it exited by itself). */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** Lines the process wrote to stdout/stderr (native libraries print there). */
  onOutput?(listener: (stream: 'stdout' | 'stderr', line: string) => void): void;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export type EngineSpawner = (entry: string, options: { env: NodeJS.ProcessEnv }) => EngineChild;

/**
 * The variables of the parent's environment the engine process keeps; nothing else crosses
 * (no wallet or API secrets, no NODE_OPTIONS that would load a debugger or a loader into it).
 * What they are for:
 * - finding programs, libraries and a home: PATH, HOME, USER, LOGNAME, SHELL, TMPDIR, TMP, TEMP,
 *   LD_LIBRARY_PATH (CUDA / Vulkan / ROCm libraries outside the default paths),
 *   DYLD_LIBRARY_PATH, DYLD_FALLBACK_LIBRARY_PATH (macOS);
 * - Windows, where DLL loading and the runtime need them: SystemRoot, windir, SystemDrive,
 *   COMSPEC, PATHEXT, ProgramFiles, ProgramFiles(x86), ProgramData, APPDATA, LOCALAPPDATA,
 *   USERPROFILE, NUMBER_OF_PROCESSORS, PROCESSOR_ARCHITECTURE;
 * - locale and time for native logs: LANG, LC_ALL, LC_CTYPE, TZ;
 * - GPUs the user chose or the driver needs: CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER,
 *   CUDA_PATH, CUDA_HOME, NVIDIA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES,
 *   GPU_DEVICE_ORDINAL, HSA_OVERRIDE_GFX_VERSION, VK_ICD_FILENAMES, VK_DRIVER_FILES,
 *   VK_LAYER_PATH, XDG_RUNTIME_DIR, DISPLAY, WAYLAND_DISPLAY (Vulkan loaders look there);
 * - every variable starting with a prefix of ENGINE_ENV_PREFIXES: the libraries' own settings
 *   (NODE_LLAMA_CPP_*, GGML_*, LLAMA_*, ORT_*, OMP_*, KMP_*, MKL_*, OPENBLAS_*, GOMP_*).
 */
export const ENGINE_ENV_KEYS = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LD_LIBRARY_PATH',
  'DYLD_LIBRARY_PATH',
  'DYLD_FALLBACK_LIBRARY_PATH',
  'SystemRoot',
  'windir',
  'SystemDrive',
  'COMSPEC',
  'PATHEXT',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramData',
  'APPDATA',
  'LOCALAPPDATA',
  'USERPROFILE',
  'NUMBER_OF_PROCESSORS',
  'PROCESSOR_ARCHITECTURE',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'CUDA_VISIBLE_DEVICES',
  'CUDA_DEVICE_ORDER',
  'CUDA_PATH',
  'CUDA_HOME',
  'NVIDIA_VISIBLE_DEVICES',
  'HIP_VISIBLE_DEVICES',
  'ROCR_VISIBLE_DEVICES',
  'GPU_DEVICE_ORDINAL',
  'HSA_OVERRIDE_GFX_VERSION',
  'VK_ICD_FILENAMES',
  'VK_DRIVER_FILES',
  'VK_LAYER_PATH',
  'XDG_RUNTIME_DIR',
  'DISPLAY',
  'WAYLAND_DISPLAY',
] as const;

export const ENGINE_ENV_PREFIXES = [
  'NODE_LLAMA_CPP_',
  'GGML_',
  'LLAMA_',
  'ORT_',
  'OMP_',
  'KMP_',
  'MKL_',
  'OPENBLAS_',
  'GOMP_',
] as const;

/**
 * The engine process's environment: the kept part of `parent` (ENGINE_ENV_KEYS, matched without
 * regard to case on Windows, and ENGINE_ENV_PREFIXES), then `extra` (the host's own additions),
 * then IDLERIG_ENGINE=1.
 */
export function engineEnv(
  parent: NodeJS.ProcessEnv,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const keys = new Set<string>(
    process.platform === 'win32' ? ENGINE_ENV_KEYS.map((k) => k.toUpperCase()) : ENGINE_ENV_KEYS,
  );
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    const k = process.platform === 'win32' ? key.toUpperCase() : key;
    if (keys.has(k) || ENGINE_ENV_PREFIXES.some((p) => k.startsWith(p))) out[key] = value;
  }
  return { ...out, ...extra, IDLERIG_ENGINE: '1' };
}

/**
 * Headless: child_process.fork with structured-clone messages ('advanced' serialization, so
 * tensors travel as typed arrays). Under Electron, pass instead a spawner over
 * utilityProcess.fork(entry, [], { stdio: 'pipe', env, serviceName: 'Idlerig engine' }):
 * send = postMessage, onMessage = on('message'), onExit = on('exit', (code) => ...),
 * kill('SIGKILL') = process.kill(child.pid, 'SIGKILL'), kill('SIGTERM') = child.kill().
 */
export const forkSpawner: EngineSpawner = (entry, { env }) => {
  const child = fork(entry, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env,
    execArgv: [],
  });
  let exited = false;
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  const onGone = (code: number | null, signal: string | null): void => {
    if (exited) return;
    exited = true;
    for (const l of exitListeners) l(code, signal);
  };
  child.on('exit', (code, signal) => onGone(code, signal));
  child.on('error', (err) => {
    // fork failed, or a message could not be sent: the process is unusable.
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    } else onGone(null, `spawn error: ${err.message}`);
  });
  return {
    pid: child.pid,
    send(message) {
      if (child.connected) child.send(message);
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onExit(listener) {
      exitListeners.push(listener);
    },
    onOutput(listener) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const s = child[stream];
        if (!s) continue;
        createInterface({ input: s }).on('line', (line) => listener(stream, line));
      }
    },
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    },
  };
};

/**
 * dist/main/engine.js beside the bundle this module is part of (dist/main/index.js, cli.js), or
 * one folder up when the bundler put this module in a shared chunk (dist/main/chunks/...).
 */
export function defaultEngineEntry(): string {
  const candidates = ['./engine.js', '../engine.js'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}
