// GPU telemetry. NVIDIA: ONE long-lived `nvidia-smi --query-gpu=… -lms N` process prints a line
// per GPU every N ms; a process per sample would cost far more than the sampling itself. It is
// restarted with a growing delay when it dies, and restarted with a new N when the pace changes
// (every second while jobs run, slower when idle). AMD on Linux: amdgpu's sysfs files, read in
// place (no process at all). No GPU (a CPU provider): a pseudo-device 'cpu' whose power is the
// CPU's figure × its utilization, estimated, so the energy of CPU jobs is not 0 Wh.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  CPU_WATTS_PER_THREAD,
  estimateCpuWatts,
  type TelemetrySample,
  type TelemetryStatus,
} from '../../../shared/api/power';
import type { ScopedLogger } from '../logs/logger';
import {
  NVIDIA_TELEMETRY_FIELDS,
  nvidiaRowToSample,
  parseNvidiaLine,
  queryArgs,
} from './nvidia-smi';
import { normalizePciBusId } from './pci';

export interface Sampler extends EventEmitter<SamplerEvents> {
  start(intervalMs: number): void;
  setIntervalMs(intervalMs: number): void;
  stop(): Promise<void>;
  status(): TelemetryStatus;
}

export type SamplerEvents = { samples: [TelemetrySample[]]; status: [TelemetryStatus] };

export interface NvidiaSamplerOptions {
  env?: NodeJS.ProcessEnv;
  /** Watts to estimate from when a GPU reports neither power draw nor power limit (by gpu id). */
  fallbackPowerLimits?: ReadonlyMap<string, number>;
  now?: () => number;
  log?: ScopedLogger;
  /** Restart delays: initialMs, doubling up to maxMs; reset after the process ran stableMs. */
  backoff?: { initialMs: number; maxMs: number; stableMs: number };
}

/** Samples every NVIDIA GPU through one `nvidia-smi … -lms N` process. */
export class NvidiaSampler extends EventEmitter<SamplerEvents> implements Sampler {
  private child: ChildProcess | null = null;
  private intervalMs = 5000;
  private running = false;
  private restarts = 0;
  private failuresInARow = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private partial = '';
  private lastError: string | null = null;
  private readonly backoff: { initialMs: number; maxMs: number; stableMs: number };
  private readonly now: () => number;

  constructor(private readonly opts: NvidiaSamplerOptions = {}) {
    super();
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 60_000, stableMs: 60_000 };
    this.now = opts.now ?? Date.now;
  }

  start(intervalMs: number): void {
    if (this.running) return this.setIntervalMs(intervalMs);
    this.running = true;
    this.intervalMs = intervalMs;
    this.spawnProcess();
  }

  /** Changes the pace; nvidia-smi's loop interval is fixed per process, so this restarts it. */
  setIntervalMs(intervalMs: number): void {
    if (intervalMs === this.intervalMs) return;
    this.intervalMs = intervalMs;
    if (!this.running) return;
    this.opts.log?.debug('telemetry pace changed', { intervalMs });
    const old = this.child;
    this.child = null;
    if (old) {
      old.removeAllListeners('exit');
      old.kill('SIGTERM');
    }
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    this.spawnProcess();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  status(): TelemetryStatus {
    const running = this.child !== null && this.child.exitCode === null;
    return {
      source: 'nvidia-smi',
      running,
      intervalMs: this.intervalMs,
      restarts: this.restarts,
      message: running
        ? `nvidia-smi samples every ${formatInterval(this.intervalMs)}`
        : this.running
          ? `nvidia-smi stopped${this.lastError ? ` (${this.lastError})` : ''}; restarting`
          : 'Telemetry is stopped',
    };
  }

  /** The pid of the sampler process (tests, benchmark). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnProcess(): void {
    this.partial = '';
    this.startedAt = this.now();
    const child = spawn('nvidia-smi', queryArgs(NVIDIA_TELEMETRY_FIELDS, this.intervalMs), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.opts.env ?? process.env,
      windowsHide: true,
    });
    this.child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onData(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      const line = chunk.trim().split('\n').pop();
      if (line) this.lastError = line;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError = err.code === 'ENOENT' ? 'nvidia-smi is not installed' : err.message;
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      if (!this.running) return;
      const ranMs = this.now() - this.startedAt;
      this.failuresInARow = ranMs >= this.backoff.stableMs ? 1 : this.failuresInARow + 1;
      const delay = Math.min(
        this.backoff.maxMs,
        this.backoff.initialMs * 2 ** (this.failuresInARow - 1),
      );
      this.opts.log?.warn('telemetry sampler exited; restarting', {
        code,
        signal,
        error: this.lastError,
        restartInMs: delay,
      });
      this.emit('status', this.status());
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.running) return;
        this.restarts++;
        this.spawnProcess();
        this.emit('status', this.status());
      }, delay);
      this.restartTimer.unref();
    });
  }

  private onData(chunk: string): void {
    const text = this.partial + chunk;
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.partial = text;
      return;
    }
    this.partial = text.slice(end + 1);
    const t = this.now();
    const samples: TelemetrySample[] = [];
    let start = 0;
    while (start < end) {
      let nl = text.indexOf('\n', start);
      if (nl < 0 || nl > end) nl = end;
      const row = parseNvidiaLine(text.slice(start, nl), NVIDIA_TELEMETRY_FIELDS);
      start = nl + 1;
      if (!row) continue;
      const sample = nvidiaRowToSample(row, t, this.fallbackFor(row['pci.bus_id'] ?? null));
      if (sample) samples.push(sample);
    }
    if (samples.length > 0) {
      if (this.failuresInARow > 0 && t - this.startedAt >= this.backoff.stableMs)
        this.failuresInARow = 0;
      this.emit('samples', samples);
    }
  }

  private fallbackFor(busId: string | null): number | null {
    const limits = this.opts.fallbackPowerLimits;
    if (!limits || limits.size === 0 || !busId) return null;
    return limits.get(normalizePciBusId(busId) ?? busId) ?? null;
  }
}

export function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

// ---------------------------------------------------------------------------------------------
// amdgpu (Linux sysfs)
// ---------------------------------------------------------------------------------------------

export interface AmdSysfsOptions {
  /** gpu id (PCI bus id) of every AMD GPU to sample. */
  gpuIds: string[];
  /** Where PCI devices live; tests point this at a fixture tree. */
  root?: string;
  now?: () => number;
}

async function readNumber(path: string): Promise<number | null> {
  try {
    const n = Number.parseFloat((await readFile(path, 'utf8')).trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The current level of a pp_dpm_* table: the line marked with "*", e.g. "1: 2250Mhz *". */
async function readDpm(path: string): Promise<number | null> {
  try {
    const text = await readFile(path, 'utf8');
    const line = text.split('\n').find((l) => l.trim().endsWith('*'));
    const m = line ? /(\d+)\s*Mhz/i.exec(line) : null;
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** A sampler that reads in place on a timer (no process): sysfs files, the CPU's times. */
abstract class IntervalSampler extends EventEmitter<SamplerEvents> implements Sampler {
  protected timer: NodeJS.Timeout | null = null;
  protected intervalMs = 5000;

  /** One reading, emitted as 'samples'. */
  protected abstract tick(): void;
  abstract status(): TelemetryStatus;

  start(intervalMs: number): void {
    this.intervalMs = intervalMs;
    this.schedule();
  }

  setIntervalMs(intervalMs: number): void {
    if (intervalMs === this.intervalMs) return;
    this.intervalMs = intervalMs;
    if (this.timer) this.schedule();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }
}

/** Samples AMD GPUs from amdgpu's sysfs files: no process, a few small reads per GPU. */
export class AmdSysfsSampler extends IntervalSampler {
  private busy = false;
  private readonly root: string;
  private readonly now: () => number;
  private hwmon = new Map<string, string | null>();

  constructor(private readonly opts: AmdSysfsOptions) {
    super();
    this.root = opts.root ?? '/sys/bus/pci/devices';
    this.now = opts.now ?? Date.now;
  }

  override start(intervalMs: number): void {
    super.start(intervalMs);
    void this.sample();
  }

  protected tick(): void {
    void this.sample();
  }

  status(): TelemetryStatus {
    return {
      source: 'sysfs',
      running: this.timer !== null,
      intervalMs: this.intervalMs,
      restarts: 0,
      message:
        this.timer !== null
          ? `amdgpu sysfs read every ${formatInterval(this.intervalMs)}`
          : 'Telemetry is stopped',
    };
  }

  private async hwmonDir(dev: string): Promise<string | null> {
    if (this.hwmon.has(dev)) return this.hwmon.get(dev)!;
    let dir: string | null;
    try {
      const entries = await readdir(join(dev, 'hwmon'));
      const first = entries.find((e) => e.startsWith('hwmon'));
      dir = first ? join(dev, 'hwmon', first) : null;
    } catch {
      dir = null;
    }
    this.hwmon.set(dev, dir);
    return dir;
  }

  async sample(): Promise<TelemetrySample[]> {
    if (this.busy) return [];
    this.busy = true;
    try {
      const t = this.now();
      const out: TelemetrySample[] = [];
      for (const gpuId of this.opts.gpuIds) {
        const dev = join(this.root, gpuId);
        const hw = await this.hwmonDir(dev);
        const [busy, used, total, powerAvg, powerIn, cap, temp, fanPct, sclk, mclk] =
          await Promise.all([
            readNumber(join(dev, 'gpu_busy_percent')),
            readNumber(join(dev, 'mem_info_vram_used')),
            readNumber(join(dev, 'mem_info_vram_total')),
            hw ? readNumber(join(hw, 'power1_average')) : null,
            hw ? readNumber(join(hw, 'power1_input')) : null,
            hw ? readNumber(join(hw, 'power1_cap')) : null,
            hw ? readNumber(join(hw, 'temp1_input')) : null,
            hw ? readNumber(join(hw, 'pwm1')) : null,
            readDpm(join(dev, 'pp_dpm_sclk')),
            readDpm(join(dev, 'pp_dpm_mclk')),
          ]);
        const micro = powerAvg ?? powerIn;
        const limit = cap === null ? null : cap / 1e6;
        let power = micro === null ? null : Math.round(micro / 1e4) / 100;
        let estimated = false;
        if (power === null && limit !== null && busy !== null) {
          power = Math.round(limit * busy) / 100;
          estimated = true;
        }
        out.push({
          gpuId,
          t,
          utilizationPct: busy,
          vramUsedMiB: used === null ? null : Math.round(used / 1048576),
          vramTotalMiB: total === null ? null : Math.round(total / 1048576),
          temperatureC: temp === null ? null : temp / 1000,
          powerW: power,
          powerEstimated: estimated,
          powerLimitW: limit,
          clockSmMHz: sclk,
          clockMemMHz: mclk,
          fanPct: fanPct === null ? null : Math.round((fanPct / 255) * 100),
        });
      }
      if (out.length > 0) this.emit('samples', out);
      return out;
    } finally {
      this.busy = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CPU (a CPU provider: no GPU to sample)
// ---------------------------------------------------------------------------------------------

/** The id of the CPU pseudo-device in telemetry samples and the energy ledger. */
export const CPU_DEVICE_ID = 'cpu';

/** Busy and total CPU time so far, summed over every logical CPU (os.cpus()). */
export interface CpuTimes {
  busyMs: number;
  totalMs: number;
  logicalCpus: number;
}

export function osCpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  const list = cpus();
  for (const c of list) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.irq + t.idle;
    total += all;
    busy += all - t.idle;
  }
  return { busyMs: busy, totalMs: total, logicalCpus: Math.max(1, list.length) };
}

/** The CPU's full-load watts: the user's figure (settings power.cpuWatts) or the estimate. */
export function cpuPowerFigure(
  userWatts: number | null,
  logicalCpus: number,
): NonNullable<TelemetryStatus['cpu']> {
  if (userWatts !== null)
    return { watts: userWatts, estimated: false, logicalCpus, basis: 'set on the Power page' };
  return {
    watts: estimateCpuWatts(logicalCpus),
    estimated: true,
    logicalCpus,
    basis: `estimated: ${logicalCpus} logical CPUs × ${CPU_WATTS_PER_THREAD} W`,
  };
}

export interface CpuSamplerOptions {
  /** The user's figure now (settings power.cpuWatts); null: estimate. Read at every sample. */
  userWatts: () => number | null;
  times?: () => CpuTimes;
  now?: () => number;
}

/**
 * Samples the CPU as a pseudo-device: utilization from the change in os.cpus() times between two
 * samples, power = full-load watts × utilization, always marked estimated (no sensor is read).
 * The utilization is the whole machine's, other programs included.
 */
export class CpuSampler extends IntervalSampler {
  private last: CpuTimes;
  private readonly times: () => CpuTimes;
  private readonly now: () => number;

  constructor(private readonly opts: CpuSamplerOptions) {
    super();
    this.times = opts.times ?? osCpuTimes;
    this.now = opts.now ?? Date.now;
    this.last = this.times();
  }

  override start(intervalMs: number): void {
    this.last = this.times();
    super.start(intervalMs);
  }

  protected tick(): void {
    this.sample();
  }

  figure(): NonNullable<TelemetryStatus['cpu']> {
    return cpuPowerFigure(this.opts.userWatts(), this.last.logicalCpus);
  }

  status(): TelemetryStatus {
    const cpu = this.figure();
    return {
      source: 'cpu',
      running: this.timer !== null,
      intervalMs: this.intervalMs,
      restarts: 0,
      message:
        this.timer !== null
          ? `No GPU: CPU power estimated as ${cpu.watts} W (${cpu.basis}) × CPU utilization, every ${formatInterval(this.intervalMs)}`
          : 'Telemetry is stopped',
      cpu,
    };
  }

  /** One reading since the previous one (also called by tests). */
  sample(): TelemetrySample {
    const cur = this.times();
    const dTotal = cur.totalMs - this.last.totalMs;
    const dBusy = cur.busyMs - this.last.busyMs;
    this.last = cur;
    const util = dTotal > 0 ? Math.min(100, Math.max(0, (100 * dBusy) / dTotal)) : 0;
    const { watts } = cpuPowerFigure(this.opts.userWatts(), cur.logicalCpus);
    const sample: TelemetrySample = {
      gpuId: CPU_DEVICE_ID,
      t: this.now(),
      utilizationPct: Math.round(util * 10) / 10,
      vramUsedMiB: null,
      vramTotalMiB: null,
      temperatureC: null,
      powerW: Math.round(watts * util) / 100,
      powerEstimated: true,
      powerLimitW: watts,
      clockSmMHz: null,
      clockMemMHz: null,
      fanPct: null,
    };
    this.emit('samples', [sample]);
    return sample;
  }
}
