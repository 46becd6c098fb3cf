// `idlerig gpus [--json]`: the detected GPUs, their backends and the reasons, as the Dashboard
// shows them. A running node on the data folder is asked through its API (it has detected them
// already); otherwise the detection runs here (it only reads: no lock needed).
import type { GpuInventory, GpuRecord, TelemetrySample } from '../../shared/api/power';
import { detectGpus, type DetectOptions } from '../provider/gpu/detect';
import { AmdSysfsSampler, NvidiaSampler } from '../provider/gpu/telemetry';
import { findOwner, resolveDataDir, unreachableError } from './context';

export const GPUS_HELP = `  idlerig gpus [--json] [--data-dir DIR]
      The GPUs found, the backends node-llama-cpp can use on each, and why not; beside
      each, its utilization, temperature and power draw now.
`;

const BACKEND = { cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' } as const;

function gib(mib: number | null): string {
  return mib === null ? '?' : `${(mib / 1024).toFixed(mib >= 10 * 1024 ? 0 : 1)} GiB`;
}

/** "Now: 37% busy, 52 °C, 88 W of 250 W" (a power figure estimated from the limit: "~88 W"). */
export function formatLive(s: TelemetrySample): string {
  const parts = [
    s.utilizationPct !== null ? `${Math.round(s.utilizationPct)}% busy` : 'utilization unknown',
    s.temperatureC !== null ? `${Math.round(s.temperatureC)} °C` : null,
    s.powerW !== null
      ? `${s.powerEstimated ? '~' : ''}${Math.round(s.powerW)} W${s.powerLimitW !== null ? ` of ${Math.round(s.powerLimitW)} W` : ''}`
      : null,
    s.vramUsedMiB !== null && s.vramTotalMiB !== null
      ? `${gib(s.vramUsedMiB)} of ${gib(s.vramTotalMiB)} VRAM in use`
      : null,
  ].filter(Boolean);
  return `Now: ${parts.join(', ')}`;
}

export function formatGpu(g: GpuRecord, i: number, live?: TelemetrySample): string {
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
  if (live) lines.push(`       ${formatLive(live)}`);
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

export function formatInventory(
  inv: GpuInventory,
  live: ReadonlyMap<string, TelemetrySample> = new Map(),
): string {
  const parts = inv.gpus.map((g, i) => formatGpu(g, i, live.get(g.id)));
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
  let inv: GpuInventory;
  let samples: TelemetrySample[];
  if (owner.kind === 'served') {
    inv = await owner.client.call('gpus.list', {});
    samples = (await owner.client.call('telemetry.recent', { seconds: 30 })).samples;
  } else {
    inv = await detectGpus(opts.detect ?? {});
    samples = await sampleOnce(inv, opts.detect?.env).catch(() => []);
  }
  // The latest sample of each GPU.
  const live = new Map<string, TelemetrySample>();
  for (const s of samples) if ((live.get(s.gpuId)?.t ?? -1) <= s.t) live.set(s.gpuId, s);
  process.stdout.write(
    opts.json
      ? `${JSON.stringify({ ...inv, live: [...live.values()] })}\n`
      : formatInventory(inv, live),
  );
  return 0;
}

/** One telemetry reading of every GPU, as the node's sampler takes it (no node runs). */
async function sampleOnce(inv: GpuInventory, env?: NodeJS.ProcessEnv): Promise<TelemetrySample[]> {
  if (inv.gpus.some((g) => g.sources.includes('nvidia-smi'))) {
    const sampler = new NvidiaSampler(env ? { env } : {});
    try {
      return await new Promise<TelemetrySample[]>((resolve) => {
        const timer = setTimeout(() => resolve([]), 4000);
        sampler.once('samples', (s) => {
          clearTimeout(timer);
          resolve(s);
        });
        sampler.start(500);
      });
    } finally {
      await sampler.stop();
    }
  }
  const amd = inv.gpus.filter((g) => g.vendor === 'amd' && g.pciBusId !== null);
  if (amd.length > 0 && process.platform === 'linux')
    return new AmdSysfsSampler({ gpuIds: amd.map((g) => g.pciBusId!) }).sample();
  return [];
}
