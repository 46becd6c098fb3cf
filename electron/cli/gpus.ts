// `idlerig gpus [--json]`: the detected GPUs, their backends and the reasons, as the Dashboard
// shows them. A running node on the data folder is asked through its API (it has detected them
// already); otherwise the detection runs here (it only reads: no lock needed).
import type { GpuInventory, GpuRecord } from '../../shared/api/power';
import { detectGpus, type DetectOptions } from '../provider/gpu/detect';
import { findOwner, resolveDataDir, unreachableError } from './context';

export const GPUS_HELP = `  idlerig gpus [--json] [--data-dir DIR]
      The GPUs found, the backends node-llama-cpp can use on each, and why not.
`;

const BACKEND = { cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' } as const;

function gib(mib: number | null): string {
  return mib === null ? '?' : `${(mib / 1024).toFixed(mib >= 10 * 1024 ? 0 : 1)} GiB`;
}

export function formatGpu(g: GpuRecord, i: number): string {
  const vram =
    g.vramTotalMiB === null
      ? 'VRAM unknown'
      : `${gib(g.vramTotalMiB)} ${g.integrated ? 'shared memory' : 'VRAM'}${g.vramFreeMiB !== null ? ` (${gib(g.vramFreeMiB)} free)` : ''}`;
  const facts = [
    vram,
    g.driverVersion ? `driver ${g.driverVersion}` : null,
    g.computeCapability ? `compute ${g.computeCapability}` : null,
    g.pciBusId ? `PCI ${g.pciBusId}` : null,
  ].filter(Boolean);
  const lines = [`GPU ${i}  ${g.name}`, `       ${facts.join(', ')}`];
  lines.push(
    g.usable
      ? `       Usable with ${g.backends.map((b) => BACKEND[b]).join(', ')}`
      : `       Not usable: ${g.reason ?? 'no backend'}`,
  );
  for (const note of g.notes) {
    if (g.usable && /: available$|build$/.test(note)) continue;
    if (!g.usable && g.reason?.includes(note.replace(/^(CUDA|Vulkan|Metal): /, ''))) continue;
    lines.push(`       - ${note}`);
  }
  return lines.join('\n');
}

export function formatInventory(inv: GpuInventory): string {
  const parts = inv.gpus.map((g, i) => formatGpu(g, i));
  parts.push(inv.summary);
  for (const e of inv.toolErrors) parts.push(`Warning: ${e.tool}: ${e.message}`);
  return `${parts.join('\n\n')}\n`;
}

export async function gpusVerb(opts: {
  dataDir?: string;
  json: boolean;
  /** Tests: detection options when no node runs. */
  detect?: DetectOptions;
}): Promise<number> {
  const paths = resolveDataDir(opts.dataDir);
  const owner = await findOwner(paths);
  if (owner.kind === 'unreachable') throw unreachableError(owner, paths.root);
  const inv: GpuInventory =
    owner.kind === 'served'
      ? await owner.client.call('gpus.list', {})
      : await detectGpus(opts.detect ?? {});
  process.stdout.write(opts.json ? `${JSON.stringify(inv)}\n` : formatInventory(inv));
  return 0;
}
