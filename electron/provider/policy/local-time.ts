// Local wall-clock time for the schedule and the tariff table. The schedule is in the user's local
// time, so "22:00 to 06:00" stays 22:00 to 06:00 across a daylight-saving change: an hour that does
// not exist (spring) is simply skipped, an hour that happens twice (autumn) counts twice.
// Without a time zone the process's zone is used (Date's local getters honour TZ); with one,
// Intl does the conversion.

export interface LocalParts {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Monday … 6 = Sunday */
  weekday: number;
}

const WEEKDAY_INDEX: Record<string, number> = {
  Mon: 0,
  Tue: 1,
  Wed: 2,
  Thu: 3,
  Fri: 4,
  Sat: 5,
  Sun: 6,
};

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formats.set(timeZone, f);
  }
  return f;
}

export function localParts(date: Date, timeZone?: string): LocalParts {
  if (!timeZone) {
    return {
      year: date.getFullYear(),
      month: date.getMonth() + 1,
      day: date.getDate(),
      hour: date.getHours(),
      minute: date.getMinutes(),
      second: date.getSeconds(),
      weekday: (date.getDay() + 6) % 7,
    };
  }
  const out: Record<string, string> = {};
  for (const p of formatFor(timeZone).formatToParts(date)) out[p.type] = p.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour) % 24,
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: WEEKDAY_INDEX[out.weekday ?? 'Mon'] ?? 0,
  };
}

/** The instant of a local wall-clock time (a time skipped by DST resolves to just after the gap). */
export function fromLocal(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone?: string,
): Date {
  if (!timeZone) return new Date(year, month - 1, day, hour, minute, 0, 0);
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 3; i++) {
    const p = localParts(new Date(guess), timeZone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
    const diff = wanted - seen;
    if (diff === 0) break;
    guess += diff;
  }
  return new Date(guess);
}

/** The start of the next local hour after `date` (DST-aware: 01:59 → 03:00 on a spring night). */
export function nextLocalHour(date: Date, timeZone?: string): Date {
  const p = localParts(date, timeZone);
  const ms = date.getTime() % 1000;
  const left = ((60 - p.minute) * 60 - p.second) * 1000 - (ms < 0 ? ms + 1000 : ms);
  return new Date(date.getTime() + left);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** "14:05", or "Tue 07:00" when not on the same local day as `now`. */
export function formatClock(at: Date, now: Date, timeZone?: string): string {
  const a = localParts(at, timeZone);
  const n = localParts(now, timeZone);
  const time = `${pad(a.hour)}:${pad(a.minute)}`;
  const sameDay = a.year === n.year && a.month === n.month && a.day === n.day;
  return sameDay ? time : `${['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][a.weekday]} ${time}`;
}

/** Local date as YYYY-MM-DD (the energy ledger's day). */
export function localDate(date: Date, timeZone?: string): string {
  const p = localParts(date, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}
