// Energy attribution: jobs get the energy of the slices they ran in, shared by weight among jobs
// running at once; whatever no job ran in is idle draw; the sum is the integrated power.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnergyLedger } from '../../electron/provider/energy/ledger';
import { openJobsDb } from '../../electron/provider/jobs/db';
import { JobStore } from '../../electron/provider/jobs/store';
import { JobQueries } from '../../electron/provider/jobs/queries';
import { NvidiaSampler } from '../../electron/provider/gpu/telemetry';
import { priceAt } from '../../electron/provider/policy/tariff';
import { defaultPowerSettings, type TelemetrySample } from '../../shared/api/power';
import { installFakeTools } from './gpu-fake-tools';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const T0 = Date.parse('2025-06-02T10:00:00Z'); // Monday noon in Berlin
const WS = 1 / 3600; // one watt-second in Wh

function reading(
  gpuId: string,
  s: number,
  powerW: number | null,
  estimated = false,
): TelemetrySample {
  return {
    gpuId,
    t: T0 + s * 1000,
    utilizationPct: 50,
    vramUsedMiB: null,
    vramTotalMiB: null,
    temperatureC: 50,
    powerW,
    powerEstimated: estimated,
    powerLimitW: 350,
    clockSmMHz: null,
    clockMemMHz: null,
    fanPct: null,
  };
}

function ledger(now = { t: T0 }, dir: string | null = null, store?: JobStore): EnergyLedger {
  const electricity = defaultPowerSettings().electricity; // 0.30 EUR/kWh
  return new EnergyLedger({
    dir,
    ...(store ? { store } : {}),
    price: (at) => priceAt(electricity, at, 'Europe/Berlin'),
    now: () => now.t,
    timeZone: 'Europe/Berlin',
  });
}

/** Power 100 W for 0–10 s, 300 W for 10–20 s, 200 W for 20–30 s, a reading every second. */
function feed(l: EnergyLedger, upTo: number, from = 0, gpu = 'gpu0'): void {
  for (let s = from; s <= upTo; s++)
    l.onSamples([reading(gpu, s, s < 10 ? 100 : s < 20 ? 300 : 200)]);
}

describe('energy attribution', () => {
  it('two overlapping jobs share the slices they overlap; one job alone gets its own; the rest is idle', () => {
    const l = ledger();
    // A: 2–14 s, B: 8–20 s (overlap 8–14 s), C: 22–28 s alone.
    feed(l, 2);
    l.jobStarted('A', { at: T0 + 2000 });
    feed(l, 8, 3);
    l.jobStarted('B', { at: T0 + 8000 });
    feed(l, 14, 9);
    const a = l.jobEnded('A', { at: T0 + 14_000, revenue: 0.001 })!;
    feed(l, 20, 15);
    const b = l.jobEnded('B', { at: T0 + 20_000 })!;
    feed(l, 22, 21);
    l.jobStarted('C', { at: T0 + 22_000 });
    feed(l, 28, 23);
    const c = l.jobEnded('C', { at: T0 + 28_000, revenue: 0.00005 })!;
    feed(l, 30, 29);

    // A: 6 s × 100 W alone + 2 s × 100 W / 2 + 4 s × 300 W / 2
    expect(a.kwh * 1000).toBeCloseTo((600 + 100 + 600) * WS, 10);
    // B: 2 s × 100 W / 2 + 4 s × 300 W / 2 + 6 s × 300 W alone
    expect(b.kwh * 1000).toBeCloseTo((100 + 600 + 1800) * WS, 10);
    expect(c.kwh * 1000).toBeCloseTo(1200 * WS, 10);
    expect(c.avgW).toBeCloseTo(200, 6);
    expect(a.avgW).toBeCloseTo(1300 / 12, 6);
    // Idle: 0–2 s at 100 W, 20–22 s and 28–30 s at 200 W.
    expect(l.totals.idleWh).toBeCloseTo(1000 * WS, 10);
    // The totals are the integrated power: 100 W × 10 s + 300 W × 10 s + 200 W × 10 s.
    const integrated = 6000 * WS;
    expect(l.totals.integratedWh).toBeCloseTo(integrated, 10);
    expect((a.kwh + b.kwh + c.kwh) * 1000 + l.totals.idleWh).toBeCloseTo(integrated, 10);

    // Cost and net at 0.30 EUR/kWh.
    expect(a.cost).toBeCloseTo(a.kwh * 0.3, 12);
    expect(a.net).toBeCloseTo(0.001 - a.cost, 12);
    expect(b.revenue).toBeNull();
    expect(c.net).toBeLessThan(0); // paid less than its electricity

    const day = l.summary().today;
    expect(day.date).toBe('2025-06-02');
    expect(day.jobs).toBe(3);
    expect(day.jobKwh + day.idleKwh).toBeCloseTo(integrated / 1000, 12);
    expect(day.idleCost).toBeCloseTo(day.idleKwh * 0.3, 12);
    expect(day.revenue).toBeCloseTo(0.00105, 12);
    expect(day.net).toBeCloseTo(0.00105 - day.jobCost, 12);
  });

  it('shares by weight, and only among the jobs on the same GPU', () => {
    const l = ledger();
    const both = (s: number): void => l.onSamples([reading('g0', s, 200), reading('g1', s, 100)]);
    both(0);
    l.jobStarted('big', { at: T0, weight: 3, gpuIds: ['g0'] });
    l.jobStarted('small', { at: T0, weight: 1, gpuIds: ['g0'] });
    l.jobStarted('other', { at: T0, gpuIds: ['g1'] });
    for (let s = 1; s <= 10; s++) both(s);
    const big = l.jobEnded('big', { at: T0 + 10_000 })!;
    const small = l.jobEnded('small', { at: T0 + 10_000 })!;
    const other = l.jobEnded('other', { at: T0 + 10_000 })!;
    expect(big.kwh * 1000).toBeCloseTo(0.75 * 2000 * WS, 10);
    expect(small.kwh * 1000).toBeCloseTo(0.25 * 2000 * WS, 10);
    expect(other.kwh * 1000).toBeCloseTo(1000 * WS, 10);
    expect(l.totals.idleWh).toBe(0);
  });

  it('does not invent energy while the sampler is silent, and marks estimated power', () => {
    const clock = { t: T0 };
    const l = ledger(clock);
    l.onSamples([reading('g', 0, 100, true)]);
    clock.t = T0 + 120_000; // two minutes without a reading: only 30 s are held
    expect(l.summary().today.idleKwh * 1000).toBeCloseTo(100 * 30 * WS, 10);
    clock.t = T0 + 180_000;
    expect(l.summary().today.idleKwh * 1000).toBeCloseTo(100 * 30 * WS, 10);
    expect(l.summary().today.estimated).toBe(true);
    expect(l.powerNowW()).toBeNull(); // the last reading is stale
  });

  it('prices every slice at its own time-of-use tariff', () => {
    const electricity = defaultPowerSettings().electricity;
    electricity.tariff = {
      enabled: true,
      periods: [{ days: [0], from: '12:00', to: '12:01', pricePerKwh: 1 }],
    };
    const l = new EnergyLedger({
      dir: null,
      price: (at) => priceAt(electricity, at, 'Europe/Berlin'),
      now: () => T0 + 120_000,
      timeZone: 'Europe/Berlin',
    });
    // 12:00–12:02 local at 360 W: the first minute at 1 EUR/kWh, the second at 0.30.
    for (let s = 0; s <= 120; s += 10) l.onSamples([reading('g', s, 360)]);
    const day = l.summary().today;
    expect(day.idleKwh).toBeCloseTo(0.012, 12);
    expect(day.idleCost).toBeCloseTo(0.006 * 1 + 0.006 * 0.3, 12);
  });

  it('keeps days and jobs across a restart (rows of the job database, a real file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idlerig-energy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const clock = { t: T0 };
    const open = () => {
      const { db } = openJobsDb(join(dir, 'jobs.db'));
      return {
        db,
        l: ledger(clock, join(dir, 'energy'), new JobStore(db, { timeZone: 'Europe/Berlin' })),
      };
    };
    const first = open();
    await first.l.load();
    feed(first.l, 5);
    first.l.jobStarted('J', { at: T0 + 1000 });
    feed(first.l, 4, 2);
    first.l.jobEnded('J', { at: T0 + 4000, revenue: 0.01 });
    clock.t = T0 + 5000;
    await first.l.flush();
    const before = first.l.summary();
    expect(before.today.jobs).toBe(1);
    expect(before.today.idleKwh).toBeGreaterThan(0);
    first.db.close();

    const again = open();
    cleanups.push(() => {
      again.db.close();
    });
    await again.l.load();
    const after = again.l.summary();
    expect(after.today).toEqual(before.today);
    expect(after.jobs).toEqual(before.jobs);
    expect(after.jobs[0]).toMatchObject({ id: 'J', revenue: 0.01, currency: 'EUR' });
    expect(new JobQueries(again.db).get('J')).toMatchObject({ currency: 'EUR', revenue: 0.01 });
  });

  it('a flush (the node calls it from an interval) never rejects, and keeps idle energy it could not write', async () => {
    const { db } = openJobsDb(':memory:');
    const errors: string[] = [];
    const log = {
      error: (m: string) => errors.push(m),
      warn: () => {},
      info: () => {},
      debug: () => {},
    };
    const clock = { t: T0 };
    const l = new EnergyLedger({
      dir: null,
      store: new JobStore(db, { log: log as never }),
      price: () => ({ pricePerKwh: 0.3, currency: 'EUR' }),
      now: () => clock.t,
      log: log as never,
    });
    feed(l, 3);
    clock.t = T0 + 3000;
    db.close();
    await expect(l.flush()).resolves.toBeUndefined();
    expect(errors.some((e) => /could not record idle energy/.test(e))).toBe(true);
    expect(l.totals.idleWh).toBeGreaterThan(0);
  });
});

describe('energy from the telemetry path (fake nvidia-smi loop)', () => {
  it('fake rig: Σ jobs + idle equals the power integrated from the samples themselves', async () => {
    const fake = await installFakeTools('rig-2x3090');
    cleanups.push(fake.cleanup);
    const sampler = new NvidiaSampler({ env: fake.env });
    cleanups.push(() => sampler.stop());
    const l = new EnergyLedger({ dir: null, price: () => ({ pricePerKwh: 0.3, currency: 'EUR' }) });
    const seen: TelemetrySample[] = [];
    sampler.on('samples', (s) => {
      seen.push(...s);
      l.onSamples(s);
      if (seen.length === 6) l.jobStarted('one', { gpuIds: ['0000:41:00.0'] });
      if (seen.length === 10) l.jobStarted('two');
      if (seen.length === 16) l.jobEnded('one');
      if (seen.length === 20) l.jobEnded('two');
    });
    sampler.start(60);
    while (seen.length < 24) await new Promise((r) => setTimeout(r, 20));
    await sampler.stop();

    // Independent integration: each reading holds until the same GPU's next one.
    let expected = 0;
    for (const id of ['0000:41:00.0', '0000:61:00.0']) {
      const s = seen.filter((x) => x.gpuId === id);
      for (let i = 1; i < s.length; i++)
        expected += (s[i - 1]!.powerW! * (s[i]!.t - s[i - 1]!.t)) / 3.6e6;
    }
    expect(l.totals.integratedWh).toBeCloseTo(expected, 9);
    expect(l.totals.jobWh + l.totals.idleWh).toBeCloseTo(expected, 9);
    expect(l.totals.jobWh).toBeGreaterThan(0);
    expect(l.summary().jobs).toHaveLength(2);
  });
});
