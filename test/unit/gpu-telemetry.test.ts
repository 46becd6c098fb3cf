// Telemetry: ONE long-lived FAKE nvidia-smi in loop mode replaying recorded ticks; restarts with
// backoff; the pace change; amdgpu sysfs read from a recorded-style tree.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AmdSysfsSampler, NvidiaSampler } from '../../electron/provider/gpu/telemetry';
import type { TelemetrySample } from '../../shared/api/power';
import type { ScopedLogger } from '../../electron/provider/logs/logger';
import { installFakeTools } from './gpu-fake-tools';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function invocations(log: string): Promise<string[]> {
  try {
    return (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('NVIDIA telemetry through one fake nvidia-smi loop process', () => {
  it('fake rig: one process, a sample per GPU per tick, the recorded values in order', async () => {
    const logDir = await mkdtemp(join(tmpdir(), 'idlerig-smi-log-'));
    cleanups.push(() => rm(logDir, { recursive: true, force: true }));
    const log = join(logDir, 'calls.log');
    const fake = await installFakeTools('rig-2x3090', { FAKE_NVIDIA_SMI_LOG: log });
    cleanups.push(fake.cleanup);
    const sampler = new NvidiaSampler({ env: fake.env });
    cleanups.push(() => sampler.stop());
    const batches: TelemetrySample[][] = [];
    sampler.on('samples', (s) => batches.push(s));
    sampler.start(100);
    await until(() => batches.length >= 8);
    await sampler.stop();

    const calls = await invocations(log);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/--query-gpu=index,pci\.bus_id,utilization\.gpu,.* -lms 100$/);
    const flat = batches.flat();
    // Recorded ticks 1..4 of GPU 0: idle, idle, ramping up, full load.
    const gpu0 = flat.filter((s) => s.gpuId === '0000:41:00.0').slice(0, 4);
    expect(gpu0.map((s) => s.powerW)).toEqual([21.47, 21.52, 118.36, 331.02]);
    expect(gpu0.map((s) => s.utilizationPct)).toEqual([0, 0, 13, 97]);
    expect(flat.filter((s) => s.gpuId === '0000:61:00.0').length).toBeGreaterThanOrEqual(4);
    expect(flat.every((s) => !s.powerEstimated)).toBe(true);
    expect(sampler.status()).toMatchObject({ source: 'nvidia-smi', running: false, restarts: 0 });
  });

  it('fake laptop: "[N/A]" power is estimated from the power limit × utilization and marked', async () => {
    const fake = await installFakeTools('laptop-gtx1060');
    cleanups.push(fake.cleanup);
    const sampler = new NvidiaSampler({
      env: fake.env,
      fallbackPowerLimits: new Map([['0000:01:00.0', 70]]),
    });
    cleanups.push(() => sampler.stop());
    const samples: TelemetrySample[] = [];
    sampler.on('samples', (s) => samples.push(...s));
    sampler.start(50);
    await until(() => samples.length >= 4);
    await sampler.stop();
    expect(samples.slice(0, 4).map((s) => [s.utilizationPct, s.powerW, s.powerEstimated])).toEqual([
      [0, 0, true],
      [2, 1.4, true],
      [61, 42.7, true],
      [94, 65.8, true],
    ]);
    expect(samples[3]).toMatchObject({ temperatureC: 61, fanPct: null, powerLimitW: 70 });
  });

  it('fake nvidia-smi that dies: restarted with a growing delay', async () => {
    const logDir = await mkdtemp(join(tmpdir(), 'idlerig-smi-log-'));
    cleanups.push(() => rm(logDir, { recursive: true, force: true }));
    const log = join(logDir, 'calls.log');
    const fake = await installFakeTools('rig-2x3090', {
      FAKE_NVIDIA_SMI_LOG: log,
      FAKE_NVIDIA_SMI_EXIT_AFTER: '1',
    });
    cleanups.push(fake.cleanup);
    const delays: unknown[] = [];
    const logger: ScopedLogger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (msg, data) => {
        if (msg === 'telemetry sampler exited; restarting') delays.push(data?.restartInMs);
      },
    };
    const sampler = new NvidiaSampler({
      env: fake.env,
      log: logger,
      backoff: { initialMs: 100, maxMs: 400, stableMs: 60_000 },
    });
    cleanups.push(() => sampler.stop());
    let batches = 0;
    sampler.on('samples', () => batches++);
    sampler.start(50);
    await until(() => delays.length >= 5, 20_000);
    await sampler.stop();
    // Each run printed its tick and died: the delay doubles up to the maximum.
    expect(delays.slice(0, 5)).toEqual([100, 200, 400, 400, 400]);
    expect(batches).toBeGreaterThanOrEqual(4);
    expect(sampler.status().restarts).toBeGreaterThanOrEqual(4);
    // One process per run (the last one may be stopped before it logged its start).
    const runs = (await invocations(log)).length;
    expect(runs).toBeGreaterThanOrEqual(sampler.status().restarts);
    expect(runs).toBeLessThanOrEqual(sampler.status().restarts + 1);
  });

  it('fake rig: changing the pace restarts the loop with the new interval', async () => {
    const logDir = await mkdtemp(join(tmpdir(), 'idlerig-smi-log-'));
    cleanups.push(() => rm(logDir, { recursive: true, force: true }));
    const log = join(logDir, 'calls.log');
    const fake = await installFakeTools('rig-2x3090', { FAKE_NVIDIA_SMI_LOG: log });
    cleanups.push(fake.cleanup);
    const sampler = new NvidiaSampler({ env: fake.env });
    cleanups.push(() => sampler.stop());
    let n = 0;
    sampler.on('samples', () => n++);
    sampler.start(5000);
    await until(() => n >= 1);
    sampler.setIntervalMs(100);
    sampler.setIntervalMs(100);
    await until(() => n >= 4);
    await sampler.stop();
    const calls = await invocations(log);
    expect(calls.map((c) => c.split(' ').slice(-1)[0])).toEqual(['5000', '100']);
  });
});

describe('amdgpu telemetry from sysfs', () => {
  it('reads busy %, VRAM, power (µW), temperature (m°C), clocks and fan of each GPU', async () => {
    const root = await mkdtemp(join(tmpdir(), 'idlerig-sysfs-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const dev = join(root, '0000:03:00.0');
    const hw = join(dev, 'hwmon', 'hwmon3');
    await mkdir(hw, { recursive: true });
    const files: Record<string, string> = {
      [join(dev, 'gpu_busy_percent')]: '87\n',
      [join(dev, 'mem_info_vram_used')]: '5366611968\n',
      [join(dev, 'mem_info_vram_total')]: '17163091968\n',
      [join(dev, 'pp_dpm_sclk')]: '0: 500Mhz \n1: 2250Mhz *\n2: 2475Mhz \n',
      [join(dev, 'pp_dpm_mclk')]: '0: 96Mhz \n1: 456Mhz \n2: 673Mhz \n3: 1000Mhz *\n',
      [join(hw, 'power1_average')]: '231000000\n',
      [join(hw, 'power1_cap')]: '255000000\n',
      [join(hw, 'temp1_input')]: '71000\n',
      [join(hw, 'pwm1')]: '102\n',
    };
    for (const [f, v] of Object.entries(files)) await writeFile(f, v);
    const sampler = new AmdSysfsSampler({ gpuIds: ['0000:03:00.0'], root, now: () => 42 });
    expect(await sampler.sample()).toEqual([
      {
        gpuId: '0000:03:00.0',
        t: 42,
        utilizationPct: 87,
        vramUsedMiB: 5118,
        vramTotalMiB: 16368,
        temperatureC: 71,
        powerW: 231,
        powerEstimated: false,
        powerLimitW: 255,
        clockSmMHz: 2250,
        clockMemMHz: 1000,
        fanPct: 40,
      },
    ]);
  });
});
