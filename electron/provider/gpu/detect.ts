// GPU detection: every source this platform has, merged into one record per GPU.
//   Linux:   nvidia-smi (CSV), rocm-smi (JSON), lspci (every PCI display device + kernel driver),
//            systeminformation (lspci + nvidia-smi again, plus clinfo).
//   Windows: systeminformation (WMI) + nvidia-smi.
//   macOS:   system_profiler + systeminformation.
// Records are matched by PCI bus id where the tool reports one, else by vendor and name.
import { totalmem } from 'node:os';
import type { GpuInventory, GpuRecord, GpuSource, GpuVendor } from '../../../shared/api/power';
import { normalizePciBusId } from './pci';
import { queryNvidiaGpus, type NvidiaDetection } from './nvidia-smi';
import { queryRocmGpus, type RocmGpu } from './rocm-smi';
import { queryLspci, type PciDisplayDevice } from './lspci';
import { querySystemProfiler, type AppleGpu } from './apple';
import { assessGpu, probeBackendEnvironment, type BackendEnvironment } from './backends';

/** The part of systeminformation's graphics controller record used here. */
export interface SiController {
  vendor?: string;
  model?: string;
  name?: string;
  busAddress?: string;
  pciBus?: string;
  vram?: number | null;
  vramDynamic?: boolean;
  driverVersion?: string;
  memoryTotal?: number;
  memoryFree?: number;
}

export interface DetectOptions {
  platform?: NodeJS.Platform;
  arch?: string;
  /** Environment of the tools (PATH). systeminformation always uses process.env. */
  env?: NodeJS.ProcessEnv;
  /** false skips systeminformation; a function replaces it. */
  systeminformation?: boolean | (() => Promise<SiController[]>);
  backendEnv?: BackendEnvironment;
  icdDirs?: string[];
  totalMemMiB?: number;
  now?: () => Date;
  timeoutMs?: number;
}

interface Draft {
  vendor: GpuVendor;
  name: string;
  index: number | null;
  pciBusId: string | null;
  vramTotalMiB: number | null;
  vramFreeMiB: number | null;
  driverVersion: string | null;
  computeCapability: string | null;
  powerLimitW: number | null;
  integrated: boolean;
  /** lspci's kernel driver; undefined where lspci did not see the device. */
  kernelDriver: string | null | undefined;
  sources: Set<GpuSource>;
  nvidiaSmi: boolean;
  rocm: boolean;
  unifiedMemory: boolean;
}

const VIRTUAL_ADAPTER =
  /Microsoft (Basic|Remote) Display|Virtual Display|Parsec Virtual|Citrix Indirect|Meta Virtual Monitor/i;

function vendorFromText(text: string): GpuVendor {
  const t = text.toLowerCase();
  if (t.includes('nvidia')) return 'nvidia';
  if (t.includes('advanced micro devices') || /\b(amd|ati|radeon)\b/.test(t)) return 'amd';
  if (t.includes('intel')) return 'intel';
  if (t.includes('apple')) return 'apple';
  return 'other';
}

const AMD_APU =
  /Radeon (Vega|Graphics|\d{3}M)\b|Renoir|Cezanne|Rembrandt|Phoenix|Raphael|Barcelo|Lucienne|Picasso|Raven|Mendocino|Van Gogh|Strix/i;

function looksIntegrated(vendor: GpuVendor, name: string): boolean {
  if (vendor === 'apple') return true;
  if (vendor === 'intel') return !/\bArc\b/i.test(name);
  if (vendor === 'amd') return AMD_APU.test(name);
  return false;
}

function sameName(a: string, b: string): boolean {
  const norm = (s: string): string =>
    s
      .toLowerCase()
      .replace(/\b(nvidia|amd|intel|corporation|geforce|radeon)\b/g, '')
      .replace(/[^a-z0-9]/g, '');
  const x = norm(a);
  const y = norm(b);
  return x.length > 0 && y.length > 0 && (x.includes(y) || y.includes(x));
}

async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

async function siControllers(): Promise<SiController[]> {
  const si = await import('systeminformation');
  const data = await si.graphics();
  return data.controllers as SiController[];
}

export async function detectGpus(opts: DetectOptions = {}): Promise<GpuInventory> {
  const platform = opts.platform ?? process.platform;
  const now = opts.now ?? (() => new Date());
  const toolOpts = { env: opts.env, timeoutMs: opts.timeoutMs ?? 10_000 };
  const linux = platform === 'linux';
  const none = { gpus: [], missing: true, error: null };

  const [nvidia, rocm, lspci, apple, backendEnv] = await Promise.all([
    linux || platform === 'win32'
      ? queryNvidiaGpus(toolOpts)
      : Promise.resolve<NvidiaDetection>(none),
    linux
      ? queryRocmGpus(toolOpts)
      : Promise.resolve<{ gpus: RocmGpu[]; missing: boolean; error: string | null }>(none),
    linux
      ? queryLspci(toolOpts)
      : Promise.resolve<{ devices: PciDisplayDevice[]; missing: boolean; error: string | null }>({
          devices: [],
          missing: true,
          error: null,
        }),
    platform === 'darwin'
      ? querySystemProfiler(toolOpts)
      : Promise.resolve<{ gpus: AppleGpu[]; missing: boolean; error: string | null }>(none),
    opts.backendEnv
      ? Promise.resolve(opts.backendEnv)
      : probeBackendEnvironment({
          platform,
          ...(opts.arch ? { arch: opts.arch } : {}),
          ...(opts.icdDirs ? { icdDirs: opts.icdDirs } : {}),
        }),
  ]);
  // systeminformation reads lspci and nvidia-smi itself on Linux: without lspci it finds nothing
  // there, so it is skipped (it would only spawn a handful of shells for nothing).
  const useSi =
    opts.systeminformation !== false &&
    (typeof opts.systeminformation === 'function' || !linux || !lspci.missing);
  const si: SiController[] | Error = useSi
    ? await withTimeout<SiController[] | Error>(
        (typeof opts.systeminformation === 'function'
          ? opts.systeminformation()
          : siControllers()
        ).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
        15_000,
        new Error('systeminformation did not answer within 15 s'),
      )
    : [];

  const drafts: Draft[] = [];
  const blank = (vendor: GpuVendor, name: string): Draft => ({
    vendor,
    name,
    index: null,
    pciBusId: null,
    vramTotalMiB: null,
    vramFreeMiB: null,
    driverVersion: null,
    computeCapability: null,
    powerLimitW: null,
    integrated: looksIntegrated(vendor, name),
    kernelDriver: undefined,
    sources: new Set(),
    nvidiaSmi: false,
    rocm: false,
    unifiedMemory: false,
  });
  const byBus = (bus: string | null): Draft | undefined =>
    bus ? drafts.find((d) => d.pciBusId === bus) : undefined;

  for (const g of nvidia.gpus) {
    const d = blank('nvidia', g.name);
    Object.assign(d, {
      index: g.index,
      pciBusId: g.pciBusId,
      vramTotalMiB: g.memoryTotalMiB,
      vramFreeMiB: g.memoryFreeMiB,
      driverVersion: g.driverVersion,
      computeCapability: g.computeCapability,
      powerLimitW: g.powerLimitW ?? g.defaultPowerLimitW,
      nvidiaSmi: true,
    });
    d.sources.add('nvidia-smi');
    drafts.push(d);
  }
  for (const g of rocm.gpus) {
    const d = byBus(g.pciBusId) ?? blank('amd', g.name);
    if (!drafts.includes(d)) drafts.push(d);
    d.index ??= g.index;
    d.pciBusId ??= g.pciBusId;
    d.vramTotalMiB ??= g.vramTotalMiB;
    if (d.vramFreeMiB === null && g.vramTotalMiB !== null && g.vramUsedMiB !== null)
      d.vramFreeMiB = g.vramTotalMiB - g.vramUsedMiB;
    d.driverVersion ??= g.driverVersion;
    d.powerLimitW ??= g.maxPowerW;
    d.rocm = true;
    d.sources.add('rocm-smi');
  }
  for (const dev of lspci.devices) {
    let d = byBus(dev.pciBusId);
    if (!d) {
      d = blank(dev.vendor, dev.name);
      d.pciBusId = dev.pciBusId;
      drafts.push(d);
    }
    d.kernelDriver = dev.driver;
    d.integrated = d.integrated || looksIntegrated(d.vendor, dev.name);
    d.sources.add('lspci');
  }
  for (const g of apple.gpus) {
    const d = blank(g.vendor === 'other' ? 'other' : g.vendor, g.name);
    if (g.vendor === 'apple') {
      d.unifiedMemory = true;
      d.vramTotalMiB = Math.round(opts.totalMemMiB ?? totalmem() / (1024 * 1024));
    } else {
      d.vramTotalMiB = g.vramMiB;
    }
    d.integrated = g.vendor === 'apple' || (g.builtin && g.vramMiB === null);
    d.index = drafts.filter((x) => x.sources.has('system_profiler')).length;
    d.sources.add('system_profiler');
    drafts.push(d);
  }
  const siError = si instanceof Error ? si : null;
  for (const c of si instanceof Error ? [] : si) {
    const name = c.name || c.model || '';
    if (!name || VIRTUAL_ADAPTER.test(name)) continue;
    const vendor = vendorFromText(`${c.vendor ?? ''} ${name}`);
    const bus = normalizePciBusId(c.pciBus) ?? normalizePciBusId(c.busAddress);
    let d =
      byBus(bus) ??
      drafts.find(
        (x) => !x.sources.has('systeminformation') && x.vendor === vendor && sameName(x.name, name),
      );
    if (!d) {
      d = blank(vendor, c.name ?? `${c.vendor ?? ''} ${c.model ?? ''}`.trim());
      d.pciBusId = bus;
      drafts.push(d);
    }
    const vram = c.memoryTotal ?? (c.vramDynamic ? null : (c.vram ?? null));
    if (d.vramTotalMiB === null && vram) d.vramTotalMiB = vram;
    if (d.vramFreeMiB === null && c.memoryFree !== undefined) d.vramFreeMiB = c.memoryFree;
    if (d.driverVersion === null && c.driverVersion) d.driverVersion = c.driverVersion;
    if (c.vramDynamic && d.vendor !== 'nvidia') d.integrated = true;
    d.sources.add('systeminformation');
  }

  // Windows and macOS have no lspci: the kernel driver is unknown there, not missing.
  const gpus: GpuRecord[] = drafts
    .sort((a, b) =>
      a.pciBusId && b.pciBusId
        ? a.pciBusId.localeCompare(b.pciBusId)
        : (a.index ?? 99) - (b.index ?? 99),
    )
    .map((d, i) => {
      const a = assessGpu(
        {
          vendor: d.vendor,
          name: d.name,
          driverVersion: d.driverVersion,
          computeCapability: d.computeCapability,
          kernelDriver: linux && lspci.missing ? undefined : d.kernelDriver,
          integrated: d.integrated,
          vendorToolSawIt: d.nvidiaSmi,
          rocmSawIt: d.rocm,
          vendorToolError: d.vendor === 'nvidia' ? nvidia.error : null,
        },
        backendEnv,
      );
      const notes = [...a.notes];
      if (d.unifiedMemory && d.vramTotalMiB !== null)
        notes.push(
          `Unified memory: shares the system's ${Math.round(d.vramTotalMiB / 1024)} GiB with the CPU`,
        );
      return {
        id: d.pciBusId ?? `${d.vendor}-${d.index ?? i}`,
        index: d.index,
        vendor: d.vendor,
        name: d.name,
        vramTotalMiB: d.vramTotalMiB,
        vramFreeMiB: d.vramFreeMiB,
        driverVersion: d.driverVersion,
        pciBusId: d.pciBusId,
        computeCapability: d.computeCapability,
        powerLimitW: d.powerLimitW,
        integrated: d.integrated,
        backends: a.backends,
        usable: a.usable,
        reason: a.reason,
        notes,
        sources: [...d.sources].sort(),
      };
    });

  const toolErrors: { tool: string; message: string }[] = [];
  if (nvidia.error) toolErrors.push({ tool: 'nvidia-smi', message: nvidia.error });
  // rocm-smi installed on a machine whose AMD GPU is gone (or never was) fails: noise, unless
  // there is an AMD GPU it should have seen.
  if (rocm.error && (lspci.missing || lspci.devices.some((d) => d.vendor === 'amd')))
    toolErrors.push({ tool: 'rocm-smi', message: rocm.error });
  if (lspci.error) toolErrors.push({ tool: 'lspci', message: lspci.error });
  if (apple.error) toolErrors.push({ tool: 'system_profiler', message: apple.error });
  if (siError) toolErrors.push({ tool: 'systeminformation', message: siError.message });

  const usable = gpus.filter((g) => g.usable);
  return {
    detectedAt: now().toISOString(),
    gpus,
    provider: usable.length > 0 ? 'gpu' : 'cpu',
    summary: summarize(gpus),
    toolErrors,
  };
}

const BACKEND_LABEL = { cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' } as const;

export function summarize(gpus: GpuRecord[]): string {
  const usable = gpus.filter((g) => g.usable);
  if (gpus.length === 0) return 'CPU provider: no GPU was found.';
  if (usable.length === 0) {
    const first = gpus[0]!;
    return `CPU provider: no usable GPU (${first.name}: ${first.reason ?? 'not supported'}).`;
  }
  const list = usable
    .map((g) => `${g.name} with ${g.backends.map((b) => BACKEND_LABEL[b]).join(' or ')}`)
    .join(', ');
  return `GPU provider: ${usable.length} of ${gpus.length} GPU${gpus.length === 1 ? '' : 's'} usable (${list}).`;
}
