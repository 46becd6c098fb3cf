// The earning policy: ONE pure function of (settings, clock, telemetry, idle state, power source,
// and its own previous answer for the temperature hysteresis) → accepting or not, with a stable
// reason code and the reason in words. No I/O, no timers: the node feeds it and logs its changes.
//
// Rules, in the order their reason wins: manual pause, battery, temperature, schedule, idle-only,
// price floor. When every rule passes, the market connection decides between "earning" and
// "offline".
import type { NodeState } from '../../../shared/api/status';
import type {
  PolicyCheck,
  PolicyState,
  PowerSettings,
  PriceFloor,
  TelemetrySample,
} from '../../../shared/api/power';
import { formatClock, fromLocal, localParts, nextLocalHour } from './local-time';
import { priceAt } from './tariff';

export interface PauseSetting {
  since: string;
  until: string | null;
}

export interface PolicyGpu {
  id: string;
  name: string;
  usable: boolean;
  powerLimitW: number | null;
}

export interface MarketView {
  /** A gateway is configured at all. */
  configured: boolean;
  connected: boolean;
  /** Best price per hour of work the market offers now, in the electricity currency; null: unknown. */
  bestOfferPerHour: number | null;
  /** While no gateway is connected: seconds until the next redial. */
  retryInSeconds?: number | null;
  /** Every connected gateway paused its offers (the operator's words). */
  pausedReason?: string | null;
  /** Why no gateway can be joined at all (node key locked, login refused), in words. */
  problem?: string | null;
}

export interface PolicyInput {
  settings: { pause: PauseSetting | null; power: PowerSettings };
  now: Date;
  /** IANA zone for the schedule and tariffs; default: the process's zone. */
  timeZone?: string;
  /** Latest telemetry sample of each GPU (older than `staleMs` counts as unknown). */
  telemetry: readonly TelemetrySample[];
  /** Seconds since the user's last input (Electron's powerMonitor); null: headless, counts as idle. */
  idleSeconds: number | null;
  powerSource: 'ac' | 'battery' | 'unknown';
  /** The previous decision: the temperature latch lives there. */
  previous: PolicyDecision | null;
  gpus?: readonly PolicyGpu[];
  /** How the declared power cap is applied (from the power-cap controller). */
  powerCapApplied?: { method: 'nvidia-smi' | 'parallelism' | 'none'; detail: string };
  /** Average power of recent jobs, measured; preferred basis of the price floor. */
  expectedJobWatts?: number | null;
  /** A CPU provider's power figure (telemetry's CPU sampler): the user's or the estimate. */
  cpuPower?: { watts: number; basis: string };
  /** Absent: no market client yet (no gateway configured). */
  market?: MarketView;
  activeJobs?: number;
  staleMs?: number;
}

export interface PolicyDecision extends PolicyState {
  state: NodeState;
  pausedUntil: string | null;
  /** Temperature latch: true from reaching the limit until every GPU is below limit − hysteresis. */
  tooHot: boolean;
}

/** What the price floor assumes when nothing better is known: a CPU provider's package power. */
export const CPU_PROVIDER_WATTS = 65;

const round = (n: number, digits = 4): number => Math.round(n * 10 ** digits) / 10 ** digits;

function money(n: number, currency: string): string {
  const abs = Math.abs(n);
  const text =
    abs === 0 ? '0' : abs < 0.01 ? n.toPrecision(2) : abs < 1 ? n.toFixed(3) : n.toFixed(2);
  return `${text} ${currency}`;
}

export function computePriceFloor(input: PolicyInput): PriceFloor {
  const { power } = input.settings;
  const price = priceAt(power.electricity, input.now, input.timeZone);
  const usable = (input.gpus ?? []).filter((g) => g.usable);
  let watts: number;
  let basis: string;
  if (input.expectedJobWatts && input.expectedJobWatts > 0) {
    watts = input.expectedJobWatts;
    basis = 'measured power of recent jobs';
  } else if (usable.length > 0 && power.powerCap.wattsPerGpu !== null) {
    watts = power.powerCap.wattsPerGpu * usable.length;
    basis = 'your power cap';
  } else if (usable.length > 0 && usable.every((g) => g.powerLimitW !== null)) {
    watts = usable.reduce((s, g) => s + (g.powerLimitW ?? 0), 0);
    basis = usable.length === 1 ? "the GPU's power limit" : "the GPUs' power limits";
  } else if (usable.length === 0 && power.cpuWatts !== null) {
    watts = power.cpuWatts;
    basis = 'your CPU power figure';
  } else if (usable.length === 0 && input.cpuPower) {
    watts = input.cpuPower.watts;
    basis = `the CPU power ${input.cpuPower.basis}`;
  } else {
    watts = CPU_PROVIDER_WATTS;
    basis = usable.length > 0 ? 'an assumed 65 W (GPU power unknown)' : 'an assumed 65 W CPU';
  }
  const perHour = (watts / 1000) * price.pricePerKwh * (1 + power.marginPercent / 100);
  return {
    currency: price.currency,
    perHour: round(perHour),
    pricePerKwh: price.pricePerKwh,
    marginPercent: power.marginPercent,
    watts: round(watts, 1),
    basis,
  };
}

/** The next instant the schedule's answer changes, scanning up to eight days ahead. */
export function nextScheduleChange(
  days: readonly string[],
  now: Date,
  timeZone?: string,
): Date | null {
  const allowed = (d: Date): boolean => {
    const p = localParts(d, timeZone);
    return days[p.weekday]?.[p.hour] === '1';
  };
  const current = allowed(now);
  let t = now;
  for (let i = 0; i < 24 * 8 + 2; i++) {
    t = nextLocalHour(t, timeZone);
    if (allowed(t) !== current) return t;
  }
  return null;
}

/** When a pause of this kind ends: minutes from now, tomorrow at 07:00 local time, or never. */
export function pauseUntil(
  spec: { minutes: number | null } | { until: 'tomorrow' },
  now: Date,
  timeZone?: string,
): string | null {
  if ('until' in spec) {
    const p = localParts(now, timeZone);
    // Day + 1 through Date.UTC so month and year ends roll over; then 07:00 local on that date.
    const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
    return fromLocal(
      next.getUTCFullYear(),
      next.getUTCMonth() + 1,
      next.getUTCDate(),
      TOMORROW_HOUR,
      0,
      timeZone,
    ).toISOString();
  }
  return spec.minutes === null
    ? null
    : new Date(now.getTime() + spec.minutes * 60_000).toISOString();
}

/** "Until tomorrow" ends at this local hour. */
export const TOMORROW_HOUR = 7;

export function decidePolicy(input: PolicyInput): PolicyDecision {
  const { now, timeZone } = input;
  const { power, pause } = input.settings;
  const staleMs = input.staleMs ?? 30_000;
  const checks: PolicyCheck[] = [];
  const failures: { code: string; reason: string; state: NodeState }[] = [];
  const fail = (rule: string, code: string, reason: string, state: NodeState = 'idle'): void => {
    checks.push({ rule, ok: false, detail: reason });
    failures.push({ code, reason, state });
  };
  const pass = (rule: string, detail: string): void => {
    checks.push({ rule, ok: true, detail });
  };
  const changes: number[] = [];

  // 1. Manual pause.
  let pausedUntil: string | null = null;
  if (pause && (pause.until === null || Date.parse(pause.until) > now.getTime())) {
    pausedUntil = pause.until;
    if (pause.until) changes.push(Date.parse(pause.until));
    fail(
      'pause',
      'PAUSED_BY_USER',
      pause.until === null
        ? 'Paused by you'
        : `Paused by you until ${formatClock(new Date(pause.until), now, timeZone)}`,
      'paused',
    );
  } else {
    pass('pause', 'Not paused');
  }

  // 2. Battery.
  if (power.pauseOnBattery && input.powerSource === 'battery') {
    fail('battery', 'ON_BATTERY', 'Paused while the computer runs on battery');
  } else {
    pass(
      'battery',
      !power.pauseOnBattery
        ? 'Allowed on battery (pause on battery is off)'
        : input.powerSource === 'ac'
          ? 'On mains power'
          : 'No battery in use',
    );
  }

  // 3. Temperature, with hysteresis: stop at maxC, resume at or below maxC − hysteresisC.
  const { maxC, hysteresisC } = power.temperature;
  const resumeAt = maxC - hysteresisC;
  const fresh = input.telemetry.filter(
    (s) => s.temperatureC !== null && now.getTime() - s.t <= staleMs,
  );
  const hottest = fresh.length
    ? Math.max(...fresh.map((s) => s.temperatureC ?? Number.NEGATIVE_INFINITY))
    : null;
  const wasHot = input.previous?.tooHot ?? false;
  const tooHot = hottest === null ? wasHot : wasHot ? hottest > resumeAt : hottest >= maxC;
  if (tooHot) {
    fail(
      'temperature',
      'TOO_HOT',
      `Paused: a GPU reached the ${maxC} °C limit; jobs resume once it is at ${resumeAt} °C or below`,
    );
  } else {
    pass(
      'temperature',
      hottest === null
        ? `No GPU temperature reading; limit ${maxC} °C`
        : `Below the ${maxC} °C limit`,
    );
  }

  // 4. Weekly schedule (local time).
  if (power.schedule.enabled) {
    const p = localParts(now, timeZone);
    const allowed = power.schedule.days[p.weekday]?.[p.hour] === '1';
    const next = nextScheduleChange(power.schedule.days, now, timeZone);
    if (next) changes.push(next.getTime());
    if (!allowed) {
      fail(
        'schedule',
        'OUTSIDE_SCHEDULE',
        next
          ? `Outside your schedule; earning resumes at ${formatClock(next, now, timeZone)}`
          : 'Outside your schedule (no hour of the week is allowed)',
      );
    } else {
      pass(
        'schedule',
        next
          ? `Within your schedule until ${formatClock(next, now, timeZone)}`
          : 'Within your schedule (every hour is allowed)',
      );
    }
  } else {
    pass('schedule', 'No schedule: any time');
  }

  // 5. Idle-only.
  if (power.idleOnly.enabled) {
    const need = power.idleOnly.minutes * 60;
    if (input.idleSeconds === null) {
      pass('idle', 'No desktop session: counts as idle');
    } else if (input.idleSeconds >= need) {
      pass('idle', `You have been away for ${power.idleOnly.minutes} minutes or more`);
    } else {
      fail(
        'idle',
        'USER_ACTIVE',
        `Waiting for you to be away: earns after ${power.idleOnly.minutes} minute${power.idleOnly.minutes === 1 ? '' : 's'} without input`,
      );
    }
  } else {
    pass('idle', 'Earns while you use the computer (idle-only is off)');
  }

  // 6. Price floor: never work for less than the electricity costs plus the margin.
  const priceFloor = computePriceFloor(input);
  const offer = input.market?.bestOfferPerHour ?? null;
  const floorText = `${money(priceFloor.perHour, priceFloor.currency)}/h (${priceFloor.watts} W at ${money(priceFloor.pricePerKwh, priceFloor.currency)}/kWh + ${priceFloor.marginPercent} %)`;
  if (offer !== null && offer < priceFloor.perHour) {
    fail(
      'price',
      'PRICE_BELOW_FLOOR',
      `Jobs pay less than your electricity: the market offers ${money(offer, priceFloor.currency)}/h, your floor is ${floorText}`,
    );
  } else {
    pass('price', `Minimum price ${floorText}`);
  }

  // Power cap: how it is applied, and the parallelism it allows.
  const capW = power.powerCap.wattsPerGpu;
  const usableGpus = (input.gpus ?? []).filter((g) => g.usable).length;
  const applied = input.powerCapApplied;
  let powerCap: PolicyState['powerCap'];
  let maxParallelJobs: number | null = null;
  if (capW === null) {
    powerCap = { wattsPerGpu: null, method: 'none', detail: 'No power cap' };
  } else if (applied?.method === 'nvidia-smi') {
    powerCap = { wattsPerGpu: capW, method: 'nvidia-smi', detail: applied.detail };
  } else {
    maxParallelJobs = Math.max(1, usableGpus);
    powerCap = {
      wattsPerGpu: capW,
      method: 'parallelism',
      detail: `${applied?.method === 'parallelism' ? `${applied.detail}. ` : ''}The ${capW} W cap is kept by running one job per GPU at a time`,
    };
  }
  pass('powerCap', powerCap.detail);

  const nextChange = changes.length ? Math.min(...changes) : null;
  const base = {
    checks,
    priceFloor,
    maxParallelJobs,
    powerCap,
    nextChangeAt: nextChange === null ? null : new Date(nextChange).toISOString(),
    decidedAt: now.toISOString(),
    pausedUntil,
    tooHot,
  };

  const first = failures[0];
  if (first) {
    return {
      ...base,
      accepting: false,
      state: first.state,
      reasonCode: first.code,
      reason: first.reason,
    };
  }
  const market = input.market;
  if (!market || !market.configured) {
    return {
      ...base,
      accepting: true,
      state: 'offline',
      reasonCode: 'NO_GATEWAY',
      reason: 'Offline: no gateway configured',
    };
  }
  if (market.pausedReason) {
    return {
      ...base,
      accepting: true,
      state: 'idle',
      reasonCode: 'GATEWAY_PAUSED',
      reason: `Paused: the gateway paused its offers (${market.pausedReason})`,
    };
  }
  if (!market.connected) {
    const retry = market.retryInSeconds;
    return {
      ...base,
      accepting: true,
      state: 'offline',
      reasonCode: market.problem ? 'MARKET_PROBLEM' : 'GATEWAY_UNREACHABLE',
      reason: market.problem
        ? `Offline: ${market.problem}`
        : retry !== null && retry !== undefined
          ? `Offline: gateway unreachable (retrying in ${retry} s)`
          : 'Offline: gateway unreachable',
    };
  }
  const jobs = input.activeJobs ?? 0;
  return {
    ...base,
    accepting: true,
    state: 'earning',
    // Accepting either way; WAITING_FOR_JOBS lets the Dashboard say "Ready", not "Earning".
    reasonCode: jobs > 0 ? 'ACCEPTING' : 'WAITING_FOR_JOBS',
    reason:
      jobs > 0
        ? `Earning: running ${jobs} job${jobs === 1 ? '' : 's'}`
        : 'Connected, waiting for jobs',
  };
}

export interface Offer {
  /** Price of the job in the electricity currency (the market client converts tokens). */
  price: number;
  /** Expected duration of the job. */
  estimatedSeconds: number;
}

/** Whether a job offer pays at least the floor: the market client asks this before accepting. */
export function evaluateOffer(
  floor: PriceFloor,
  offer: Offer,
): { accept: boolean; reasonCode: string; reason: string; minimum: number } {
  const minimum = round((floor.perHour * offer.estimatedSeconds) / 3600, 6);
  if (offer.price + 1e-12 < minimum) {
    return {
      accept: false,
      reasonCode: 'PRICE_BELOW_FLOOR',
      reason: `Declined: pays ${money(offer.price, floor.currency)}, electricity and margin cost ${money(minimum, floor.currency)}`,
      minimum,
    };
  }
  return {
    accept: true,
    reasonCode: 'PRICE_OK',
    reason: `Pays ${money(offer.price, floor.currency)}, at least the ${money(minimum, floor.currency)} floor`,
    minimum,
  };
}
