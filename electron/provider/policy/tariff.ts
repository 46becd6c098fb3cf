// Electricity price at a moment: the base price, or the first time-of-use period that covers the
// local time. A period starts on each of its days at `from` and ends at `to`; when `to` is not
// after `from` it ends the next day (22:00–06:00), and from === to covers 24 hours.
import type { PowerSettings, TariffPeriod } from '../../../shared/api/power';
import { localParts } from './local-time';

const WEEK = 7 * 1440;

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

export function periodCovers(period: TariffPeriod, minuteOfWeek: number): boolean {
  const from = minutes(period.from);
  let to = minutes(period.to);
  if (to <= from) to += 1440;
  for (const day of period.days) {
    const start = day * 1440 + from;
    const end = day * 1440 + to;
    for (const m of [minuteOfWeek, minuteOfWeek + WEEK]) if (m >= start && m < end) return true;
  }
  return false;
}

export interface PriceNow {
  pricePerKwh: number;
  currency: string;
  /** Index of the tariff period in force, null for the base price. */
  period: number | null;
}

export function priceAt(
  electricity: PowerSettings['electricity'],
  at: Date,
  timeZone?: string,
): PriceNow {
  const base = {
    pricePerKwh: electricity.pricePerKwh,
    currency: electricity.currency,
    period: null,
  };
  if (!electricity.tariff.enabled) return base;
  const p = localParts(at, timeZone);
  const m = p.weekday * 1440 + p.hour * 60 + p.minute;
  const i = electricity.tariff.periods.findIndex((period) => periodCovers(period, m));
  if (i < 0) return base;
  return {
    pricePerKwh: electricity.tariff.periods[i]!.pricePerKwh,
    currency: electricity.currency,
    period: i,
  };
}
