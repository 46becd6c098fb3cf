// Which node-llama-cpp backends can run on a GPU, and why not, in plain words.
//
// What node-llama-cpp 3.21 ships as prebuilt binaries (npm optional dependencies):
//   linux-x64 / win-x64: CPU, CUDA 13 (@…-cuda, sm_75 and newer), CUDA 12 fallback (@…-cuda-ext,
//   sm_50 and newer), Vulkan. mac-arm64: Metal. mac-x64, linux-arm64: CPU only.
// CUDA 13 needs NVIDIA driver 580 or newer; CUDA 12 needs 525.60.13 (Linux) / 528.33 (Windows).
// The engine confirms the choice when it loads a model; this is the answer before that, for the
// dashboard and for `idlerig gpus`.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { GpuBackend, GpuVendor } from '../../../shared/api/power';

export type LlamaBuild = 'cuda' | 'cuda12' | 'vulkan' | 'metal';

export interface BackendEnvironment {
  platform: NodeJS.Platform;
  arch: string;
  /** Prebuilt node-llama-cpp GPU binaries installed here. */
  builds: ReadonlySet<LlamaBuild>;
  /** Vulkan driver manifests found (Linux); null where not checked (Windows drivers bring Vulkan). */
  vulkanIcds: readonly string[] | null;
}

export interface GpuFacts {
  vendor: GpuVendor;
  name: string;
  driverVersion: string | null;
  computeCapability: string | null;
  /** Kernel driver bound to the device (lspci -k); undefined: not known on this platform. */
  kernelDriver: string | null | undefined;
  integrated: boolean;
  /** nvidia-smi answered for this GPU. */
  vendorToolSawIt: boolean;
  /** rocm-smi answered for this GPU. */
  rocmSawIt: boolean;
  /** Why the vendor tool failed, if it did. */
  vendorToolError: string | null;
}

export interface Assessment {
  backends: GpuBackend[];
  usable: boolean;
  reason: string | null;
  notes: string[];
}

const CUDA12_MIN = { linux: '525.60.13', win32: '528.33' } as const;
const CUDA13_MIN = { linux: '580.65.06', win32: '580.88' } as const;

/** Compares dotted version strings numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function platformTag(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'win' : platform === 'darwin' ? 'mac' : platform;
}

/** The node-llama-cpp binaries installed, and the Vulkan drivers present. */
export async function probeBackendEnvironment(
  opts: { platform?: NodeJS.Platform; arch?: string; icdDirs?: string[] } = {},
): Promise<BackendEnvironment> {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  // The packages export no ./package.json: look for their folders where Node would.
  const searchPaths = createRequire(import.meta.url).resolve.paths('@node-llama-cpp/x') ?? [];
  const has = (pkg: string): boolean =>
    searchPaths.some((dir) => existsSync(join(dir, pkg, 'package.json')));
  const base = `@node-llama-cpp/${platformTag(platform)}-${arch}`;
  const builds = new Set<LlamaBuild>();
  if (has(`${base}-cuda`)) builds.add('cuda');
  if (has(`${base}-cuda-ext`)) builds.add('cuda12');
  if (has(`${base}-vulkan`)) builds.add('vulkan');
  if (has(`${base}-metal`)) builds.add('metal');
  let vulkanIcds: string[] | null = null;
  if (platform === 'linux') vulkanIcds = await findVulkanIcds(opts.icdDirs);
  return { platform, arch, builds, vulkanIcds };
}

export const DEFAULT_ICD_DIRS = [
  '/usr/share/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/etc/vulkan/icd.d',
];

async function findVulkanIcds(dirs = DEFAULT_ICD_DIRS): Promise<string[]> {
  const out: string[] = [];
  for (const f of (process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? '').split(':'))
    if (f) out.push(f.split('/').pop() ?? f);
  for (const dir of dirs) {
    try {
      for (const f of await readdir(dir)) if (f.endsWith('.json')) out.push(f);
    } catch {
      /* no such folder */
    }
  }
  return out;
}

const ICD_PATTERN: Partial<Record<GpuVendor, RegExp>> = {
  nvidia: /nvidia/i,
  amd: /radeon|amd/i,
  intel: /intel/i,
};

function cudaVerdict(f: GpuFacts, env: BackendEnvironment): { ok: boolean; note: string } {
  const p = env.platform === 'win32' ? 'win32' : 'linux';
  if (!(env.platform === 'linux' || env.platform === 'win32') || env.arch !== 'x64')
    return {
      ok: false,
      note: `CUDA: node-llama-cpp has no CUDA build for ${env.platform}-${env.arch}`,
    };
  if (!env.builds.has('cuda') && !env.builds.has('cuda12'))
    return { ok: false, note: "CUDA: node-llama-cpp's CUDA build is not installed" };
  if (f.kernelDriver !== undefined && f.kernelDriver !== 'nvidia') {
    return {
      ok: false,
      note:
        f.kernelDriver === 'nouveau'
          ? "CUDA: NVIDIA's driver is not installed (the open-source nouveau driver is in use)"
          : "CUDA: NVIDIA's driver is not installed (no driver is bound to this GPU)",
    };
  }
  if (!f.vendorToolSawIt || !f.driverVersion) {
    return {
      ok: false,
      note: f.vendorToolError
        ? `CUDA: the NVIDIA driver is not working (${f.vendorToolError})`
        : "CUDA: nvidia-smi is missing, so NVIDIA's driver is not installed or not working",
    };
  }
  const cc = f.computeCapability ? Number.parseFloat(f.computeCapability) : null;
  if (cc !== null && cc < 5.0)
    return {
      ok: false,
      note: `CUDA: compute capability ${f.computeCapability} is too old (node-llama-cpp's CUDA builds need 5.0 or newer)`,
    };
  const new13 = compareVersions(f.driverVersion, CUDA13_MIN[p]) >= 0;
  const new12 = compareVersions(f.driverVersion, CUDA12_MIN[p]) >= 0;
  const main = env.builds.has('cuda') && new13 && (cc === null || cc >= 7.5);
  if (main) return { ok: true, note: 'CUDA: CUDA 13 build' };
  if (env.builds.has('cuda12') && new12) return { ok: true, note: 'CUDA: CUDA 12 build' };
  if (!new12)
    return {
      ok: false,
      note: `CUDA: driver ${f.driverVersion} is too old (node-llama-cpp's CUDA builds need ${CUDA12_MIN[p]} or newer); update the NVIDIA driver`,
    };
  return {
    ok: false,
    note: `CUDA: driver ${f.driverVersion} needs the CUDA 12 build of node-llama-cpp (@node-llama-cpp/*-cuda-ext), which is not installed`,
  };
}

function vulkanVerdict(f: GpuFacts, env: BackendEnvironment): { ok: boolean; note: string } {
  if (!(env.platform === 'linux' || env.platform === 'win32') || env.arch !== 'x64')
    return {
      ok: false,
      note: `Vulkan: node-llama-cpp has no Vulkan build for ${env.platform}-${env.arch}`,
    };
  if (!env.builds.has('vulkan'))
    return { ok: false, note: "Vulkan: node-llama-cpp's Vulkan build is not installed" };
  if (f.kernelDriver !== undefined) {
    if (f.kernelDriver === null)
      return { ok: false, note: 'Vulkan: no kernel driver is bound to this GPU' };
    if (f.vendor === 'amd' && f.kernelDriver === 'radeon')
      return {
        ok: false,
        note: 'Vulkan: the GPU runs the old radeon kernel driver, which has no Vulkan support (amdgpu is needed)',
      };
    if (f.vendor === 'nvidia' && f.kernelDriver !== 'nvidia')
      return {
        ok: false,
        note: `Vulkan: NVIDIA's driver is not installed (${f.kernelDriver} is in use)`,
      };
  }
  const pattern = ICD_PATTERN[f.vendor];
  if (env.vulkanIcds !== null && pattern && !env.vulkanIcds.some((icd) => pattern.test(icd))) {
    return {
      ok: false,
      note:
        f.vendor === 'nvidia'
          ? "Vulkan: NVIDIA's Vulkan driver (nvidia_icd.json) is not installed"
          : 'Vulkan: no Vulkan driver for this GPU is installed (Mesa: mesa-vulkan-drivers)',
    };
  }
  return { ok: true, note: 'Vulkan: available' };
}

/** The backends node-llama-cpp can use on one GPU, with the reasons in plain words. */
export function assessGpu(f: GpuFacts, env: BackendEnvironment): Assessment {
  const backends: GpuBackend[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const consider = (backend: GpuBackend, v: { ok: boolean; note: string }): void => {
    if (v.ok) backends.push(backend);
    else failures.push(v.note);
    notes.push(v.note);
  };

  if (f.vendor === 'apple' || env.platform === 'darwin') {
    if (env.platform === 'darwin' && env.arch === 'arm64' && f.vendor === 'apple') {
      consider(
        'metal',
        env.builds.has('metal')
          ? { ok: true, note: 'Metal: available' }
          : { ok: false, note: "Metal: node-llama-cpp's Metal build is not installed" },
      );
    } else {
      consider('metal', {
        ok: false,
        note: 'Metal: node-llama-cpp uses Metal only on Apple Silicon; this Mac serves on the CPU',
      });
    }
  } else if (f.vendor === 'nvidia') {
    consider('cuda', cudaVerdict(f, env));
    consider('vulkan', vulkanVerdict(f, env));
  } else if (f.vendor === 'amd' || f.vendor === 'intel') {
    consider('vulkan', vulkanVerdict(f, env));
    if (f.vendor === 'amd' && f.rocmSawIt)
      notes.push('ROCm: node-llama-cpp ships no ROCm build; Vulkan is used instead');
  } else {
    failures.push(`${f.name} is a basic display adapter, not a GPU node-llama-cpp can compute on`);
    notes.push(failures[0]!);
  }
  if (f.integrated && backends.length > 0)
    notes.push('Integrated graphics: shares the system memory and is often no faster than the CPU');

  const usable = backends.length > 0;
  const reason = usable ? null : stripPrefix(failures);
  return { backends, usable, reason, notes };
}

/** "CUDA: driver too old" + "Vulkan: not installed" → one sentence for an unusable GPU. */
function stripPrefix(failures: string[]): string {
  if (failures.length === 1) return failures[0]!.replace(/^(CUDA|Vulkan|Metal): /, '');
  return failures.join('; ');
}
