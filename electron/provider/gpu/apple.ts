// macOS: `system_profiler SPDisplaysDataType -json`. Apple Silicon reports one GPU with its cores
// and Metal family and no VRAM (it shares the unified memory); Intel Macs report an Intel iGPU
// and often an AMD Radeon Pro with "spdisplays_vram": "8 GB".
import { runTool, type ToolOptions } from './exec';

export interface AppleGpu {
  name: string;
  vendor: 'apple' | 'amd' | 'intel' | 'nvidia' | 'other';
  cores: number | null;
  /** Dedicated VRAM; null for unified or shared memory. */
  vramMiB: number | null;
  sharedVramMiB: number | null;
  metal: string | null;
  builtin: boolean;
}

function sizeToMiB(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^([\d.]+)\s*(MB|GB)$/i.exec(value.trim());
  if (!m) return null;
  const n = Number.parseFloat(m[1]!);
  return m[2]!.toUpperCase() === 'GB' ? n * 1024 : n;
}

function vendorOf(entry: Record<string, unknown>): AppleGpu['vendor'] {
  const v = String(entry.spdisplays_vendor ?? entry.sppci_vendor ?? '').toLowerCase();
  const name = String(entry.sppci_model ?? entry._name ?? '').toLowerCase();
  if (v.includes('apple') || name.startsWith('apple ')) return 'apple';
  if (v.includes('amd') || v.includes('ati') || name.includes('radeon')) return 'amd';
  if (v.includes('intel') || name.includes('intel')) return 'intel';
  if (v.includes('nvidia') || name.includes('nvidia')) return 'nvidia';
  return 'other';
}

export function parseSystemProfiler(text: string): AppleGpu[] {
  const doc = JSON.parse(text) as { SPDisplaysDataType?: unknown };
  const list = Array.isArray(doc.SPDisplaysDataType) ? doc.SPDisplaysDataType : [];
  const out: AppleGpu[] = [];
  for (const raw of list) {
    if (!raw || typeof raw !== 'object') continue;
    const entry = raw as Record<string, unknown>;
    const type = String(entry.sppci_device_type ?? 'spdisplays_gpu');
    if (type !== 'spdisplays_gpu') continue;
    const cores = Number.parseInt(String(entry.sppci_cores ?? ''), 10);
    const metal = entry.spdisplays_mtlgpufamilysupport ?? entry.spdisplays_metal;
    out.push({
      name: String(entry.sppci_model ?? entry._name ?? 'GPU'),
      vendor: vendorOf(entry),
      cores: Number.isFinite(cores) ? cores : null,
      vramMiB: sizeToMiB(entry.spdisplays_vram),
      sharedVramMiB: sizeToMiB(entry.spdisplays_vram_shared),
      metal: typeof metal === 'string' ? metal.replace(/^spdisplays_/, '') : null,
      builtin: String(entry.sppci_bus ?? '') === 'spdisplays_builtin',
    });
  }
  return out;
}

export async function querySystemProfiler(
  opts: ToolOptions = {},
): Promise<{ gpus: AppleGpu[]; missing: boolean; error: string | null }> {
  const res = await runTool('system_profiler', ['SPDisplaysDataType', '-json'], {
    timeoutMs: 20_000,
    ...opts,
  });
  if (res.missing) return { gpus: [], missing: true, error: null };
  if (!res.ok) return { gpus: [], missing: false, error: res.error };
  try {
    return { gpus: parseSystemProfiler(res.stdout), missing: false, error: null };
  } catch (err) {
    return {
      gpus: [],
      missing: false,
      error: `system_profiler output unreadable: ${(err as Error).message}`,
    };
  }
}
