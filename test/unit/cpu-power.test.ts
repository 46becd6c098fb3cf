// A CPU provider's power: the CPU pseudo-device's samples (the CPU's full-load figure × its
// utilization from os.cpus() times, always marked estimated), the figure's estimate and the
// user's own (settings power.cpuWatts), and a real node without GPU detection whose job gets
// energy from them instead of 0 Wh.
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import {
  CPU_DEVICE_ID,
  CpuSampler,
  cpuPowerFigure,
  type CpuTimes,
} from '../../electron/provider/gpu/telemetry';
import { applyPowerPatch } from '../../electron/provider/policy/settings-patch';
import {
  CPU_WATTS_PER_THREAD,
  PowerSettingsSchema,
  defaultPowerSettings,
  estimateCpuWatts,
} from '../../shared/api/power';
import { CURRENCY_CODES, isCurrencyCode } from '../../shared/currencies';
import { until } from '../helpers/wait';
import { tempDir } from '../helpers/tmp';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('CPU power figure', () => {
  it('estimates logical CPUs × the per-thread figure, bounded, and keeps the user figure', () => {
    expect(estimateCpuWatts(16)).toBe(16 * CPU_WATTS_PER_THREAD);
    expect(estimateCpuWatts(1)).toBe(10);
    expect(estimateCpuWatts(512)).toBe(400);
    expect(cpuPowerFigure(null, 8)).toMatchObject({ watts: 48, estimated: true });
    expect(cpuPowerFigure(null, 8).basis).toContain('8 logical CPUs × 6 W');
    expect(cpuPowerFigure(65, 8)).toMatchObject({ watts: 65, estimated: false });
  });

  it('settings: cpuWatts defaults to null (estimate), a v5 file without it parses, the patch sets and clears it', () => {
    const defaults = defaultPowerSettings();
    expect(defaults.cpuWatts).toBeNull();
    const { cpuWatts: _drop, ...older } = defaults;
    expect(PowerSettingsSchema.parse(older).cpuWatts).toBeNull();
    expect(applyPowerPatch(defaults, { cpuWatts: 95 }).cpuWatts).toBe(95);
    expect(applyPowerPatch({ ...defaults, cpuWatts: 95 }, { cpuWatts: null }).cpuWatts).toBeNull();
    expect(() => applyPowerPatch(defaults, { cpuWatts: 0 })).toThrow(/cpuWatts/);
  });

  it('the currency is an ISO 4217 code: known codes pass, made-up ones are refused', () => {
    for (const c of ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'INR'])
      expect(isCurrencyCode(c)).toBe(true);
    expect(isCurrencyCode('XYZ')).toBe(false);
    expect(CURRENCY_CODES.length).toBeGreaterThan(150);
    const s = defaultPowerSettings();
    expect(() => applyPowerPatch(s, { electricity: { currency: 'ABC' } })).toThrow(/ISO 4217/);
  });
});

describe('CpuSampler', () => {
  it('power = full-load watts × utilization between two samples, estimated, as device "cpu"', () => {
    let times: CpuTimes = { busyMs: 0, totalMs: 0, logicalCpus: 4 };
    let user: number | null = null;
    const sampler = new CpuSampler({ userWatts: () => user, times: () => times, now: () => 1000 });
    times = { busyMs: 500, totalMs: 2000, logicalCpus: 4 }; // 25 % busy
    const a = sampler.sample();
    expect(a).toMatchObject({
      gpuId: CPU_DEVICE_ID,
      utilizationPct: 25,
      powerW: 24 * 0.25, // estimate: 4 × 6 W = 24 W
      powerEstimated: true,
      powerLimitW: 24,
    });
    user = 100;
    times = { busyMs: 500 + 1500, totalMs: 4000, logicalCpus: 4 }; // 75 % busy
    expect(sampler.sample()).toMatchObject({ utilizationPct: 75, powerW: 75, powerLimitW: 100 });
    expect(sampler.status()).toMatchObject({
      source: 'cpu',
      cpu: { watts: 100, estimated: false, logicalCpus: 4 },
    });
  });
});

describe('a CPU provider node (no GPU detection)', () => {
  it('a job that keeps the CPU busy gets estimated energy, not 0 Wh; the telemetry status names the figure', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const node = new ProviderNode({
      dataDir: t.dir,
      mode: 'headless',
      power: { detect: false, pace: { busyMs: 50, idleMs: 50, idleAfterMs: 100 }, tickMs: 100 },
    });
    await node.start();
    cleanups.push(() => node.stop());
    const router = new Router(nodeHandlers(node), node.logger.scope('api'));
    const ctx = { transport: 'internal' as const };
    // Without a figure of the user's, the price floor assumes the same estimate as the energy.
    await until(() => node.power.telemetryRecent(60).status.source === 'cpu');
    // (The policy decides again at its next tick after the sampler started.)
    await until(() => node.policy().priceFloor.basis.startsWith('the CPU power'));
    const estimate = node.power.telemetryRecent(60).status.cpu!;
    expect(estimate.estimated).toBe(true);
    expect(node.policy().priceFloor).toMatchObject({
      watts: estimate.watts,
      basis: `the CPU power ${estimate.basis}`,
    });
    await router.call('settings.update', { power: { cpuWatts: 120 } }, ctx);
    await until(() => node.power.telemetryRecent(60).samples.length > 0);
    const { status } = await router.call('telemetry.recent', { seconds: 60 }, ctx);
    expect(status.source).toBe('cpu');
    expect(status.cpu).toMatchObject({ watts: 120, estimated: false });
    expect(status.message).toContain('120 W');

    // Before any job is measured, the price floor assumes the user's CPU figure.
    expect(node.policy().priceFloor).toMatchObject({ watts: 120, basis: 'your CPU power figure' });

    node.power.jobStarted('cpu-job');
    // Keep this process's CPU busy for a while so the machine's utilization is above zero.
    const end = Date.now() + 600;
    const burn = async (): Promise<void> => {
      while (Date.now() < end) {
        const slice = Date.now() + 20;
        while (Date.now() < slice) Math.sqrt(Math.random());
        await new Promise((r) => setImmediate(r));
      }
    };
    await burn();
    const record = node.power.jobEnded('cpu-job');
    expect(record).not.toBeNull();
    expect(record!.kwh).toBeGreaterThan(0);
    expect(record!.estimated).toBe(true);
    expect(record!.avgW).toBeLessThanOrEqual(120);
  });
});
