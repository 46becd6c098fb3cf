// nvidia-smi's CSV queries: `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`.
// One line per GPU, fields separated by ", ", in the order asked. A field the GPU or driver
// cannot report prints "[N/A]" or "[Not Supported]" (older drivers) instead of a value; a field
// the driver does not know at all makes the whole query fail with
// `Field "compute_cap" is not a valid field to query.`
import type { TelemetrySample } from '../../../shared/api/power';
import { normalizePciBusId } from './pci';
import { runTool, type ToolOptions } from './exec';

/** Fields of the detection query. compute_cap needs driver 510 or newer: retried without it. */
export const NVIDIA_DETECT_FIELDS = [
  'index',
  'pci.bus_id',
  'name',
  'uuid',
  'driver_version',
  'memory.total',
  'memory.used',
  'memory.free',
  'compute_cap',
  'power.limit',
  'power.default_limit',
  'power.max_limit',
] as const;

/** Fields of the telemetry loop. */
export const NVIDIA_TELEMETRY_FIELDS = [
  'index',
  'pci.bus_id',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
  'clocks.mem',
  'fan.speed',
] as const;

export type NvidiaRow = Record<string, string | null>;

/** Values nvidia-smi prints where it has none. */
const NO_VALUE =
  /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost|Requested functionality has been deprecated)\]?$/i;

export function nvidiaValue(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const v = raw.trim();
  if (v === '' || NO_VALUE.test(v)) return null;
  return v;
}

export function nvidiaNumber(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined) return null;
  // With nounits the value is bare; tolerate a unit in case a caller forgot nounits.
  const n = Number.parseFloat(raw.replace(/\s*(MiB|W|%|MHz|C)$/i, ''));
  return Number.isFinite(n) ? n : null;
}

/** Parses one line of a `--format=csv,noheader,nounits` answer; null when it has the wrong shape. */
export function parseNvidiaLine(line: string, fields: readonly string[]): NvidiaRow | null {
  const trimmed = line.trim();
  if (!trimmed) return null;
  const parts = trimmed.split(', ');
  if (parts.length !== fields.length) return null;
  const row: NvidiaRow = {};
  fields.forEach((f, i) => {
    row[f] = nvidiaValue(parts[i]);
  });
  return row;
}

export function parseNvidiaCsv(text: string, fields: readonly string[]): NvidiaRow[] {
  const rows: NvidiaRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    const row = parseNvidiaLine(line, fields);
    if (row) rows.push(row);
  }
  return rows;
}

export function queryArgs(fields: readonly string[], loopMs?: number): string[] {
  const args = [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
  if (loopMs !== undefined) args.push(`-lms`, String(loopMs));
  return args;
}

export interface NvidiaGpu {
  index: number;
  pciBusId: string | null;
  name: string;
  uuid: string | null;
  driverVersion: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  memoryFreeMiB: number | null;
  computeCapability: string | null;
  powerLimitW: number | null;
  defaultPowerLimitW: number | null;
  maxPowerLimitW: number | null;
}

export function toNvidiaGpu(row: NvidiaRow, position: number): NvidiaGpu {
  const index = nvidiaNumber(row.index);
  return {
    index: index ?? position,
    pciBusId: normalizePciBusId(row['pci.bus_id']),
    name: row.name ?? 'NVIDIA GPU',
    uuid: row.uuid ?? null,
    driverVersion: row.driver_version ?? null,
    memoryTotalMiB: nvidiaNumber(row['memory.total']),
    memoryUsedMiB: nvidiaNumber(row['memory.used']),
    memoryFreeMiB: nvidiaNumber(row['memory.free']),
    computeCapability: row.compute_cap ?? null,
    powerLimitW: nvidiaNumber(row['power.limit']),
    defaultPowerLimitW: nvidiaNumber(row['power.default_limit']),
    maxPowerLimitW: nvidiaNumber(row['power.max_limit']),
  };
}

export interface NvidiaDetection {
  gpus: NvidiaGpu[];
  missing: boolean;
  error: string | null;
}

/** The detection query, retried without the fields an old driver refuses. */
export async function queryNvidiaGpus(opts: ToolOptions = {}): Promise<NvidiaDetection> {
  let fields: string[] = [...NVIDIA_DETECT_FIELDS];
  for (let attempt = 0; attempt < 4; attempt++) {
    const res = await runTool('nvidia-smi', queryArgs(fields), opts);
    if (res.missing) return { gpus: [], missing: true, error: null };
    const invalid = /Field "([^"]+)" is not a valid field to query/.exec(res.stdout + res.stderr);
    if (invalid && fields.includes(invalid[1]!) && invalid[1] !== 'index') {
      fields = fields.filter((f) => f !== invalid[1]);
      continue;
    }
    if (!res.ok) {
      // "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver…"
      const text = (res.stdout + res.stderr).trim();
      return {
        gpus: [],
        missing: false,
        error: text ? text.split('\n')[0]! : (res.error ?? 'nvidia-smi failed'),
      };
    }
    return {
      gpus: parseNvidiaCsv(res.stdout, fields).map((row, i) => toNvidiaGpu(row, i)),
      missing: false,
      error: null,
    };
  }
  return { gpus: [], missing: false, error: 'nvidia-smi refused every query' };
}

/**
 * One telemetry line to a sample. Without a power sensor ("[N/A]", common on laptop GPUs and
 * older drivers) the draw is estimated as power limit × utilization and marked as estimated.
 */
export function nvidiaRowToSample(
  row: NvidiaRow,
  t: number,
  fallbackPowerLimitW: number | null = null,
): TelemetrySample | null {
  const gpuId = normalizePciBusId(row['pci.bus_id']) ?? (row.index ? `nvidia-${row.index}` : null);
  if (!gpuId) return null;
  const utilization = nvidiaNumber(row['utilization.gpu']);
  const limit = nvidiaNumber(row['power.limit']) ?? fallbackPowerLimitW;
  let power = nvidiaNumber(row['power.draw']);
  let estimated = false;
  if (power === null && limit !== null && utilization !== null) {
    power = Math.round(((limit * utilization) / 100) * 100) / 100;
    estimated = true;
  }
  return {
    gpuId,
    t,
    utilizationPct: utilization,
    vramUsedMiB: nvidiaNumber(row['memory.used']),
    vramTotalMiB: nvidiaNumber(row['memory.total']),
    temperatureC: nvidiaNumber(row['temperature.gpu']),
    powerW: power,
    powerEstimated: estimated,
    powerLimitW: limit,
    clockSmMHz: nvidiaNumber(row['clocks.sm']),
    clockMemMHz: nvidiaNumber(row['clocks.mem']),
    fanPct: nvidiaNumber(row['fan.speed']),
  };
}

export interface PowerLimitResult {
  ok: boolean;
  /** "permission", "unsupported", "range", "missing" or "error" when not ok. */
  problem: 'permission' | 'unsupported' | 'range' | 'missing' | 'error' | null;
  message: string;
}

/** Fields of the power-limit query the power cap reads before it changes a limit. */
export const NVIDIA_POWER_FIELDS = [
  'index',
  'pci.bus_id',
  'uuid',
  'power.limit',
  'power.default_limit',
  'power.max_limit',
] as const;

export interface NvidiaPowerLimits {
  index: number;
  /** Normalised (0000:41:00.0), as GpuRecord.id. */
  pciBusId: string | null;
  uuid: string | null;
  limitW: number | null;
  defaultW: number | null;
  maxW: number | null;
}

/** Each GPU's power limit now, its default and its maximum; an error in words when it fails. */
export async function queryNvidiaPowerLimits(
  opts: ToolOptions = {},
): Promise<{ gpus: NvidiaPowerLimits[]; error: string | null }> {
  const res = await runTool('nvidia-smi', queryArgs(NVIDIA_POWER_FIELDS), opts);
  if (!res.ok) return { gpus: [], error: res.error ?? 'nvidia-smi failed' };
  return {
    gpus: parseNvidiaCsv(res.stdout, NVIDIA_POWER_FIELDS).map((row, i) => ({
      index: nvidiaNumber(row.index) ?? i,
      pciBusId: normalizePciBusId(row['pci.bus_id']),
      uuid: row.uuid ?? null,
      limitW: nvidiaNumber(row['power.limit']),
      defaultW: nvidiaNumber(row['power.default_limit']),
      maxW: nvidiaNumber(row['power.max_limit']),
    })),
    error: null,
  };
}

/**
 * `nvidia-smi -i GPU -pl W`; GPU is an index, a UUID or a PCI bus id. It exits 0 even when the
 * driver refuses ("Changing power management limit is not supported for GPU…", laptops), so
 * the answer is read from the text.
 */
export async function setNvidiaPowerLimit(
  gpu: number | string,
  watts: number,
  opts: ToolOptions = {},
): Promise<PowerLimitResult> {
  const res = await runTool('nvidia-smi', ['-i', String(gpu), '-pl', String(watts)], opts);
  if (res.missing) return { ok: false, problem: 'missing', message: 'nvidia-smi is not installed' };
  const text = `${res.stdout}\n${res.stderr}`.trim();
  const first = text.split('\n').find((l) => l.trim()) ?? '';
  if (/was set to/i.test(text) && res.ok) return { ok: true, problem: null, message: first };
  if (/Insufficient Permissions|requires root|permission/i.test(text))
    return { ok: false, problem: 'permission', message: first };
  if (/not supported/i.test(text)) return { ok: false, problem: 'unsupported', message: first };
  if (/not a valid power limit/i.test(text)) return { ok: false, problem: 'range', message: first };
  return { ok: false, problem: 'error', message: first || (res.error ?? 'nvidia-smi -pl failed') };
}
