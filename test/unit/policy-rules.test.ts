// The earning policy as a pure function: every rule, its reason, and the order of the reasons.
// Times are in Europe/Berlin (explicitly, and through TZ for the process's own zone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computePriceFloor,
  decidePolicy,
  evaluateOffer,
  nextScheduleChange,
  pauseUntil,
  type PolicyDecision,
  type PolicyInput,
} from '../../electron/provider/policy/policy';
import { localParts } from '../../electron/provider/policy/local-time';
import { priceAt } from '../../electron/provider/policy/tariff';
import {
  defaultPowerSettings,
  type PowerSettings,
  type TelemetrySample,
} from '../../shared/api/power';

const TZ = 'Europe/Berlin';

function power(change: (p: PowerSettings) => void = () => undefined): PowerSettings {
  const p = defaultPowerSettings();
  change(p);
  return p;
}

function input(over: Partial<PolicyInput> & { power?: PowerSettings } = {}): PolicyInput {
  const { power: p, ...rest } = over;
  return {
    settings: { pause: null, power: p ?? power() },
    now: new Date('2025-06-02T10:00:00Z'),
    timeZone: TZ,
    telemetry: [],
    idleSeconds: null,
    powerSource: 'ac',
    previous: null,
    ...rest,
  };
}

/** Schedule days from per-day allowed hours (Monday first). */
function grid(allowed: Record<number, number[]>): string[] {
  return Array.from({ length: 7 }, (_, d) =>
    Array.from({ length: 24 }, (_, h) => ((allowed[d] ?? []).includes(h) ? '1' : '0')).join(''),
  );
}

const sample = (temperatureC: number, t: number): TelemetrySample => ({
  gpuId: '0000:41:00.0',
  t,
  utilizationPct: 99,
  vramUsedMiB: 5000,
  vramTotalMiB: 24576,
  temperatureC,
  powerW: 340,
  powerEstimated: false,
  powerLimitW: 350,
  clockSmMHz: 1800,
  clockMemMHz: 9751,
  fanPct: 60,
});

describe('schedule', () => {
  // Monday 22:00 → Tuesday 06:00 (local).
  const night = power((p) => {
    p.schedule = { enabled: true, days: grid({ 0: [22, 23], 1: [0, 1, 2, 3, 4, 5] }) };
  });

  it('runs across midnight and says when it resumes', () => {
    // 2025-06-02 is a Monday; Berlin is UTC+2 in summer.
    const at = (iso: string): PolicyDecision =>
      decidePolicy(input({ power: night, now: new Date(iso) }));
    expect(at('2025-06-02T19:59:00Z')).toMatchObject({
      accepting: false,
      reasonCode: 'OUTSIDE_SCHEDULE',
      reason: 'Outside your schedule; earning resumes at 22:00',
      nextChangeAt: '2025-06-02T20:00:00.000Z',
    });
    expect(at('2025-06-02T20:00:00Z')).toMatchObject({ accepting: true, reasonCode: 'NO_GATEWAY' });
    expect(at('2025-06-02T22:30:00Z')).toMatchObject({ accepting: true }); // 00:30 Tuesday
    const last = at('2025-06-03T03:59:59Z'); // 05:59:59 Tuesday
    expect(last.accepting).toBe(true);
    expect(last.checks.find((c) => c.rule === 'schedule')!.detail).toBe(
      'Within your schedule until 06:00',
    );
    expect(at('2025-06-03T04:00:00Z')).toMatchObject({
      accepting: false,
      reason: 'Outside your schedule; earning resumes at Mon 22:00',
      nextChangeAt: '2025-06-09T20:00:00.000Z',
    });
  });

  it('across the spring DST change: the skipped hour is skipped, local hours still count', () => {
    // Sunday 2025-03-30, Berlin: 02:00 CET does not exist, clocks go to 03:00 CEST (01:00Z).
    const days = grid({ 5: [22, 23], 6: [0, 1, 2] }); // Sat 22:00 → Sun 03:00 local
    const p = power((x) => {
      x.schedule = { enabled: true, days };
    });
    const d = decidePolicy(input({ power: p, now: new Date('2025-03-30T00:30:00Z') })); // 01:30 CET
    expect(d.accepting).toBe(true);
    expect(d.nextChangeAt).toBe('2025-03-30T01:00:00.000Z'); // 03:00 CEST, one hour later
    expect(localParts(new Date('2025-03-30T01:00:00Z'), TZ)).toMatchObject({ hour: 3 });
    expect(decidePolicy(input({ power: p, now: new Date('2025-03-30T01:00:00Z') }))).toMatchObject({
      accepting: false,
      reasonCode: 'OUTSIDE_SCHEDULE',
      reason: 'Outside your schedule; earning resumes at Sat 22:00',
    });
  });

  it('across the autumn DST change: the repeated hour is allowed twice', () => {
    // Sunday 2025-10-26, Berlin: 03:00 CEST (01:00Z) goes back to 02:00 CET; 02:00–03:00 runs twice.
    const p = power((x) => {
      x.schedule = { enabled: true, days: grid({ 6: [2] }) };
    });
    const start = nextScheduleChange(p.schedule.days, new Date('2025-10-25T23:30:00Z'), TZ);
    expect(start?.toISOString()).toBe('2025-10-26T00:00:00.000Z'); // 02:00 CEST
    const end = nextScheduleChange(p.schedule.days, start!, TZ);
    expect(end?.toISOString()).toBe('2025-10-26T02:00:00.000Z'); // 03:00 CET: two real hours
    for (const iso of ['2025-10-26T00:30:00Z', '2025-10-26T01:30:00Z'])
      expect(decidePolicy(input({ power: p, now: new Date(iso) })).accepting).toBe(true);
    expect(decidePolicy(input({ power: p, now: new Date('2025-10-26T02:00:00Z') })).accepting).toBe(
      false,
    );
  });

  describe('in the process’s own zone (TZ=Europe/Berlin, no explicit zone)', () => {
    let saved: string | undefined;
    beforeAll(() => {
      saved = process.env.TZ;
      process.env.TZ = TZ;
    });
    afterAll(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    it('gives the same answers as the explicit zone across both DST changes', () => {
      expect(new Date('2025-03-30T01:00:00Z').getHours()).toBe(3); // TZ is in effect
      const spring = grid({ 5: [22, 23], 6: [0, 1, 2] });
      const autumn = grid({ 6: [2] });
      for (const [days, from] of [
        [spring, '2025-03-30T00:30:00Z'],
        [autumn, '2025-10-25T23:30:00Z'],
        [autumn, '2025-10-26T00:00:00Z'],
      ] as const) {
        expect(nextScheduleChange(days, new Date(from))?.toISOString()).toBe(
          nextScheduleChange(days, new Date(from), TZ)?.toISOString(),
        );
      }
      const p = power((x) => {
        x.schedule = { enabled: true, days: spring };
      });
      const { timeZone: _tz, ...noZone } = input({
        power: p,
        now: new Date('2025-03-30T01:00:00Z'),
      });
      expect(decidePolicy(noZone).reason).toBe(
        'Outside your schedule; earning resumes at Sat 22:00',
      );
    });
  });
});

describe('idle-only, battery', () => {
  const idleOnly = power((p) => {
    p.idleOnly = { enabled: true, minutes: 10 };
  });

  it('waits for the idle threshold; headless (no idle data) counts as idle', () => {
    expect(decidePolicy(input({ power: idleOnly, idleSeconds: 599 }))).toMatchObject({
      accepting: false,
      state: 'idle',
      reasonCode: 'USER_ACTIVE',
      reason: 'Waiting for you to be away: earns after 10 minutes without input',
    });
    expect(decidePolicy(input({ power: idleOnly, idleSeconds: 600 })).accepting).toBe(true);
    const headless = decidePolicy(input({ power: idleOnly, idleSeconds: null }));
    expect(headless.accepting).toBe(true);
    expect(headless.checks.find((c) => c.rule === 'idle')!.detail).toBe(
      'No desktop session: counts as idle',
    );
    expect(decidePolicy(input({ idleSeconds: 5 })).accepting).toBe(true); // idle-only off
  });

  it('pauses on battery unless told not to', () => {
    expect(decidePolicy(input({ powerSource: 'battery' }))).toMatchObject({
      accepting: false,
      reasonCode: 'ON_BATTERY',
      reason: 'Paused while the computer runs on battery',
    });
    const allowed = power((p) => {
      p.pauseOnBattery = false;
    });
    expect(decidePolicy(input({ power: allowed, powerSource: 'battery' })).accepting).toBe(true);
    expect(decidePolicy(input({ powerSource: 'unknown' })).accepting).toBe(true);
  });
});

describe('temperature', () => {
  const limit = power((p) => {
    p.temperature = { maxC: 83, hysteresisC: 8 };
  });

  function run(temps: number[]): PolicyDecision[] {
    const out: PolicyDecision[] = [];
    let previous: PolicyDecision | null = null;
    temps.forEach((c, i) => {
      const now = new Date(Date.UTC(2025, 5, 2, 10, 0, i));
      previous = decidePolicy(
        input({ power: limit, now, telemetry: [sample(c, now.getTime())], previous }),
      );
      out.push(previous);
    });
    return out;
  }

  it('stops at the limit and resumes only at limit − hysteresis', () => {
    const temps = [70, 82, 83, 84, 80, 76, 75.5, 75, 79, 82, 83];
    const d = run(temps);
    expect(d.map((x) => x.accepting)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      false,
    ]);
    expect(d[2]).toMatchObject({
      reasonCode: 'TOO_HOT',
      reason: 'Paused: a GPU reached the 83 °C limit; jobs resume once it is at 75 °C or below',
    });
  });

  it('does not flap when the temperature hovers around the limit', () => {
    const noisy = [82.9, 83.1, 82.8, 83.0, 82.7, 83.2, 82.9, 82.6, 83.0, 82.5];
    const d = run(noisy);
    const changes = d.filter((x, i) => i > 0 && x.accepting !== d[i - 1]!.accepting).length;
    expect(changes).toBe(1); // tripped once, stays tripped
    // Reasons are stable text (no live numbers): the log gets one line per real change.
    expect(new Set(d.slice(1).map((x) => x.reason)).size).toBe(1);
  });

  it('keeps its latch while telemetry is missing or stale', () => {
    const hot = run([90]).at(-1)!;
    const now = new Date(Date.UTC(2025, 5, 2, 10, 5));
    const stale = [sample(60, now.getTime() - 60_000)];
    expect(
      decidePolicy(input({ power: limit, now, telemetry: stale, previous: hot })).accepting,
    ).toBe(false);
    expect(
      decidePolicy(input({ power: limit, now, telemetry: [], previous: null })).accepting,
    ).toBe(true);
  });
});

describe('price floor', () => {
  const gpus = [
    { id: 'a', name: 'RTX 3090', usable: true, powerLimitW: 350 },
    { id: 'b', name: 'RTX 3090', usable: true, powerLimitW: 300 },
  ];

  it('is the electricity cost of the expected power plus the margin', () => {
    const floor = computePriceFloor(input({ gpus }));
    // 0.65 kW × 0.30 EUR/kWh × 1.20
    expect(floor).toEqual({
      currency: 'EUR',
      perHour: 0.234,
      pricePerKwh: 0.3,
      marginPercent: 20,
      watts: 650,
      basis: "the GPUs' power limits",
    });
    expect(computePriceFloor(input({ gpus, expectedJobWatts: 280 }))).toMatchObject({
      perHour: 0.1008,
      basis: 'measured power of recent jobs',
    });
    expect(computePriceFloor(input({}))).toMatchObject({ watts: 65, basis: 'an assumed 65 W CPU' });
  });

  it('follows the time-of-use tariff', () => {
    const tou = power((p) => {
      p.electricity.tariff = {
        enabled: true,
        periods: [
          { days: [0, 1, 2, 3, 4], from: '17:00', to: '21:00', pricePerKwh: 0.45 },
          { days: [0, 1, 2, 3, 4, 5, 6], from: '22:00', to: '06:00', pricePerKwh: 0.18 },
        ],
      };
    });
    const at = (iso: string): number =>
      computePriceFloor(input({ power: tou, gpus, now: new Date(iso) })).pricePerKwh;
    expect(at('2025-06-02T10:00:00Z')).toBe(0.3); // Monday 12:00: base
    expect(at('2025-06-02T15:30:00Z')).toBe(0.45); // Monday 17:30: peak
    expect(at('2025-06-02T23:00:00Z')).toBe(0.18); // Tuesday 01:00: night, started Monday
    expect(at('2025-06-08T21:30:00Z')).toBe(0.18); // Sunday 23:30 → night runs into Monday
    expect(at('2025-06-08T22:30:00Z')).toBe(0.18); // Monday 00:30, from Sunday's period
    expect(priceAt(tou.electricity, new Date('2025-06-07T16:00:00Z'), TZ).period).toBeNull(); // Sat 18:00
  });

  it('declines work that pays less than the floor, with both figures in the reason', () => {
    const d = decidePolicy(
      input({ gpus, market: { configured: true, connected: true, bestOfferPerHour: 0.2 } }),
    );
    expect(d).toMatchObject({ accepting: false, state: 'idle', reasonCode: 'PRICE_BELOW_FLOOR' });
    expect(d.reason).toBe(
      'Jobs pay less than your electricity: the market offers 0.200 EUR/h, your floor is 0.234 EUR/h (650 W at 0.300 EUR/kWh + 20 %)',
    );
    expect(
      decidePolicy(
        input({ gpus, market: { configured: true, connected: true, bestOfferPerHour: 0.3 } }),
      ),
    ).toMatchObject({
      accepting: true,
      state: 'earning',
      reasonCode: 'WAITING_FOR_JOBS',
      reason: 'Connected, waiting for jobs',
    });
    expect(
      decidePolicy(
        input({
          gpus,
          activeJobs: 2,
          market: { configured: true, connected: true, bestOfferPerHour: 0.3 },
        }),
      ),
    ).toMatchObject({
      state: 'earning',
      reasonCode: 'ACCEPTING',
      reason: 'Earning: running 2 jobs',
    });
    const floor = d.priceFloor;
    expect(evaluateOffer(floor, { price: 0.03, estimatedSeconds: 600 })).toMatchObject({
      accept: false,
      reasonCode: 'PRICE_BELOW_FLOOR',
      minimum: 0.039,
    });
    expect(evaluateOffer(floor, { price: 0.05, estimatedSeconds: 600 }).accept).toBe(true);
  });
});

describe('manual pause', () => {
  it('holds until it expires, then the next rule speaks', () => {
    const now = new Date('2025-06-02T10:00:00Z');
    const until = pauseUntil({ minutes: 60 }, now);
    expect(until).toBe('2025-06-02T11:00:00.000Z');
    const pause = { since: now.toISOString(), until };
    const at = (iso: string): PolicyDecision =>
      decidePolicy({ ...input({ now: new Date(iso) }), settings: { pause, power: power() } });
    expect(at('2025-06-02T10:59:59Z')).toMatchObject({
      state: 'paused',
      reasonCode: 'PAUSED_BY_USER',
      reason: 'Paused by you until 13:00',
      pausedUntil: until,
      nextChangeAt: until,
    });
    expect(at('2025-06-02T11:00:00Z')).toMatchObject({
      state: 'offline',
      reasonCode: 'NO_GATEWAY',
    });
    const forever = decidePolicy({
      ...input(),
      settings: { pause: { since: now.toISOString(), until: null }, power: power() },
    });
    expect(forever).toMatchObject({ reason: 'Paused by you', pausedUntil: null });
  });

  it('"until tomorrow" ends at 07:00 local time the next day, DST included', () => {
    expect(pauseUntil({ until: 'tomorrow' }, new Date('2025-06-02T21:30:00Z'), TZ)).toBe(
      '2025-06-03T05:00:00.000Z',
    );
    // Saturday night before the spring change: Sunday 07:00 is already CEST.
    expect(pauseUntil({ until: 'tomorrow' }, new Date('2025-03-29T22:00:00Z'), TZ)).toBe(
      '2025-03-30T05:00:00.000Z',
    );
    // After midnight, "tomorrow" is the next calendar day; month ends roll over.
    expect(pauseUntil({ until: 'tomorrow' }, new Date('2025-05-31T22:30:00Z'), TZ)).toBe(
      '2025-06-02T05:00:00.000Z',
    );
    expect(pauseUntil({ minutes: null }, new Date())).toBeNull();
  });
});

describe('every decision', () => {
  it('carries a reason code, a reason in words and the verdict of every rule', () => {
    const sources = ['ac', 'battery', 'unknown'] as const;
    let previous: PolicyDecision | null = null;
    for (let i = 0; i < 200; i++) {
      const now = new Date(Date.UTC(2025, 0, 1) + i * 3_700_000);
      const p = power((x) => {
        x.schedule = { enabled: i % 2 === 0, days: grid({ 0: [1, 2, 3], 3: [10, 11], 6: [23] }) };
        x.idleOnly = { enabled: i % 3 === 0, minutes: 5 };
      });
      previous = decidePolicy(
        input({
          power: p,
          now,
          previous,
          powerSource: sources[i % 3]!,
          idleSeconds: i % 5 === 0 ? null : (i * 37) % 900,
          telemetry: [sample(60 + (i % 40), now.getTime())],
          ...(i % 4 === 0
            ? {
                market: {
                  configured: true,
                  connected: i % 8 === 0,
                  bestOfferPerHour: (i % 7) / 20,
                },
              }
            : {}),
          settings: {
            pause: i % 11 === 0 ? { since: now.toISOString(), until: null } : null,
            power: p,
          },
        }),
      );
      expect(previous.reasonCode).toMatch(/^[A-Z_]+$/);
      expect(previous.reason.length).toBeGreaterThan(10);
      expect(previous.checks.map((c) => c.rule)).toEqual([
        'pause',
        'battery',
        'temperature',
        'schedule',
        'idle',
        'price',
        'powerCap',
      ]);
      for (const c of previous.checks) expect(c.detail.length).toBeGreaterThan(3);
      expect(previous.accepting).toBe(previous.checks.every((c) => c.ok));
    }
  });

  it('gives the manual pause precedence, then battery, temperature, schedule, idle, price', () => {
    const p = power((x) => {
      x.schedule = { enabled: true, days: grid({}) };
      x.idleOnly = { enabled: true, minutes: 10 };
    });
    const now = new Date('2025-06-02T10:00:00Z');
    const all: PolicyInput = input({
      power: p,
      now,
      powerSource: 'battery',
      idleSeconds: 0,
      telemetry: [sample(95, now.getTime())],
      market: { configured: true, connected: true, bestOfferPerHour: 0 },
      settings: { pause: { since: now.toISOString(), until: null }, power: p },
    });
    expect(decidePolicy(all).reasonCode).toBe('PAUSED_BY_USER');
    const noPause = { ...all, settings: { pause: null, power: p } };
    expect(decidePolicy(noPause).reasonCode).toBe('ON_BATTERY');
    expect(decidePolicy({ ...noPause, powerSource: 'ac' }).reasonCode).toBe('TOO_HOT');
    expect(decidePolicy({ ...noPause, powerSource: 'ac', telemetry: [] }).reasonCode).toBe(
      'OUTSIDE_SCHEDULE',
    );
  });

  it('says how a declared power cap is kept', () => {
    const capped = power((p) => {
      p.powerCap = { wattsPerGpu: 250 };
    });
    const gpus = [{ id: 'a', name: 'x', usable: true, powerLimitW: 350 }];
    expect(
      decidePolicy(
        input({
          power: capped,
          gpus,
          powerCapApplied: {
            method: 'nvidia-smi',
            detail: 'Power limit set to 250 W per GPU with nvidia-smi -pl',
          },
        }),
      ),
    ).toMatchObject({
      maxParallelJobs: null,
      powerCap: { method: 'nvidia-smi', wattsPerGpu: 250 },
    });
    const refused = decidePolicy(
      input({
        power: capped,
        gpus,
        powerCapApplied: {
          method: 'parallelism',
          detail: 'Driver power limit not set: nvidia-smi -pl needs administrator rights',
        },
      }),
    );
    expect(refused.maxParallelJobs).toBe(1);
    expect(refused.powerCap.detail).toBe(
      'Driver power limit not set: nvidia-smi -pl needs administrator rights. The 250 W cap is kept by running one job per GPU at a time',
    );
    expect(computePriceFloor(input({ power: capped, gpus }))).toMatchObject({
      watts: 250,
      basis: 'your power cap',
    });
  });
});
