// rocm-smi --showallinfo --json: {"card0": {"Card series": …, "PCI Bus": …, "VRAM Total Memory (B)": …},
// …, "system": {"Driver version": …}}. Every value is a string; absent sensors read "N/A".
import { normalizePciBusId } from './pci';
import { runTool, type ToolOptions } from './exec';

export interface RocmGpu {
  index: number;
  card: string;
  name: string;
  pciBusId: string | null;
  vramTotalMiB: number | null;
  vramUsedMiB: number | null;
  driverVersion: string | null;
  gfxVersion: string | null;
  maxPowerW: number | null;
}

const MIB = 1024 * 1024;

function str(obj: Record<string, unknown>, ...keys: string[]): string | null {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'string' && v.trim() && !/^N\/A$/i.test(v.trim())) return v.trim();
    if (typeof v === 'number') return String(v);
  }
  return null;
}

function num(obj: Record<string, unknown>, ...keys: string[]): number | null {
  const v = str(obj, ...keys);
  if (v === null) return null;
  const n = Number.parseFloat(v.replace(/[()]/g, ''));
  return Number.isFinite(n) ? n : null;
}

/** rocm-smi prints warnings before the JSON on some versions; take the object only. */
export function extractJson(text: string): unknown {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) throw new Error('no JSON object in rocm-smi output');
  return JSON.parse(text.slice(start, end + 1));
}

export function parseRocmSmiJson(text: string): RocmGpu[] {
  const doc = extractJson(text);
  if (!doc || typeof doc !== 'object') return [];
  const root = doc as Record<string, unknown>;
  const system = (root.system ?? {}) as Record<string, unknown>;
  const systemDriver = str(system, 'Driver version', 'Driver Version');
  const out: RocmGpu[] = [];
  for (const [key, value] of Object.entries(root)) {
    const m = /^card(\d+)$/.exec(key);
    if (!m || !value || typeof value !== 'object') continue;
    const card = value as Record<string, unknown>;
    const series = str(card, 'Card series', 'Card Series', 'Device Name', 'Marketing Name');
    const total = num(card, 'VRAM Total Memory (B)');
    const used = num(card, 'VRAM Total Used Memory (B)');
    out.push({
      index: Number(m[1]),
      card: key,
      name: marketingName(series) ?? str(card, 'Card SKU', 'Card model') ?? 'AMD GPU',
      pciBusId: normalizePciBusId(str(card, 'PCI Bus')),
      vramTotalMiB: total === null ? null : Math.round(total / MIB),
      vramUsedMiB: used === null ? null : Math.round(used / MIB),
      driverVersion: str(card, 'Driver version') ?? systemDriver,
      gfxVersion: str(card, 'GFX Version'),
      maxPowerW: num(card, 'Max Graphics Package Power (W)'),
    });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]" → "AMD Radeon RX 6800/6800 XT / 6900 XT". */
function marketingName(series: string | null): string | null {
  if (!series) return null;
  const inner = /\[([^\]]+)\]\s*$/.exec(series)?.[1];
  const name = inner ?? series;
  return /^(AMD|ATI)\b/i.test(name) ? name : `AMD ${name}`;
}

export async function queryRocmGpus(
  opts: ToolOptions = {},
): Promise<{ gpus: RocmGpu[]; missing: boolean; error: string | null }> {
  const res = await runTool('rocm-smi', ['--showallinfo', '--json'], opts);
  if (res.missing) return { gpus: [], missing: true, error: null };
  try {
    // rocm-smi exits non-zero when one sensor fails but still prints the JSON.
    return { gpus: parseRocmSmiJson(res.stdout), missing: false, error: null };
  } catch (err) {
    return {
      gpus: [],
      missing: false,
      error: res.error ?? `rocm-smi output unreadable: ${(err as Error).message}`,
    };
  }
}
