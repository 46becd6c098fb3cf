// One-time import of an earlier version's energy files (data folder/energy): jobs.jsonl (and its
// rotated jobs.1.jsonl), one finished job per line, and days.json, per-day totals. Each job line
// becomes a job row; what days.json counted beyond the lines still there (rotation dropped older
// lines) is kept per day in `legacy_days`, and idle draw becomes idle rows, so the day totals
// after the import are those of days.json. All in one transaction; then the files are renamed to
// *.imported (kept as backups). A crash in between: the import is marked done in the same
// transaction, so it is never counted twice, and the renames happen on the next start.
import { readFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ScopedLogger } from '../logs/logger';
import type { JobStore } from '../jobs/store';
import { localDate } from '../policy/local-time';

const MARK = 'legacy-energy-import';
const FILES = ['jobs.1.jsonl', 'jobs.jsonl', 'days.json'];

interface LegacyJob {
  id: string;
  startedAt: string;
  endedAt: string;
  kwh: number;
  cost: number;
  currency: string;
  revenue: number | null;
  estimated: boolean;
}

interface LegacyDay {
  date: string;
  currency: string;
  jobWh: number;
  idleWh: number;
  jobCost: number;
  idleCost: number;
  revenue: number;
  jobs: number;
  estimated: boolean;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function parseJobs(text: string | null): LegacyJob[] {
  const out: LegacyJob[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as Partial<LegacyJob>;
      if (typeof j.id !== 'string' || !j.id || typeof j.endedAt !== 'string') continue;
      const ended = Date.parse(j.endedAt);
      const started = Date.parse(j.startedAt ?? j.endedAt);
      if (Number.isNaN(ended) || Number.isNaN(started)) continue;
      out.push({
        id: j.id,
        startedAt: j.startedAt ?? j.endedAt,
        endedAt: j.endedAt,
        kwh: num(j.kwh),
        cost: num(j.cost),
        currency: typeof j.currency === 'string' ? j.currency : '',
        revenue: typeof j.revenue === 'number' ? j.revenue : null,
        estimated: j.estimated === true,
      });
    } catch {
      /* a torn line after a crash */
    }
  }
  return out;
}

export interface LegacyImportReport {
  jobs: number;
  days: number;
}

/** Imports the files in `dir` once; returns what it imported (null: nothing to do). */
export async function importLegacyEnergy(
  dir: string,
  store: JobStore,
  opts: { timeZone?: string; log?: ScopedLogger } = {},
): Promise<LegacyImportReport | null> {
  const present = FILES.filter((f) => existsSync(join(dir, f)));
  if (present.length === 0) return null;
  const db = store.db;
  const done = db.prepare('SELECT value FROM meta WHERE key = ?').get(MARK);
  let report: LegacyImportReport | null = null;
  if (!done) {
    const jobs = [
      ...parseJobs(await readText(join(dir, 'jobs.1.jsonl'))),
      ...parseJobs(await readText(join(dir, 'jobs.jsonl'))),
    ];
    let days: LegacyDay[] = [];
    const daysText = await readText(join(dir, 'days.json'));
    if (daysText !== null) {
      try {
        const doc = JSON.parse(daysText) as { days?: LegacyDay[] };
        days = (doc.days ?? []).filter(
          (d) => d && typeof d.date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d.date),
        );
      } catch {
        opts.log?.warn('energy days.json unreadable; importing the job lines only');
      }
    }
    const covered = new Map<string, { wh: number; cost: number; revenue: number; n: number }>();
    db.transaction(() => {
      for (const j of jobs) {
        const ended = Date.parse(j.endedAt);
        const ok = store.recordEnergy({
          id: j.id,
          startedAt: Date.parse(j.startedAt),
          endedAt: ended,
          wh: j.kwh * 1000,
          cost: j.cost,
          currency: j.currency,
          estimated: j.estimated,
          revenue: j.id.startsWith('test-') ? null : j.revenue,
        });
        if (!ok) throw new Error('a job line could not be written');
        if (j.id.startsWith('test-'))
          db.prepare('UPDATE jobs SET is_test = 1, kind = NULL WHERE id = ?').run(j.id);
        const key = `${localDate(new Date(ended), opts.timeZone)}\u0000${j.currency}`;
        const c = covered.get(key) ?? { wh: 0, cost: 0, revenue: 0, n: 0 };
        c.wh += j.kwh * 1000;
        c.cost += j.cost;
        c.revenue += j.id.startsWith('test-') ? 0 : (j.revenue ?? 0);
        c.n += 1;
        covered.set(key, c);
      }
      const insertDay = db.prepare(
        `INSERT INTO legacy_days (date, currency, jobs, job_wh, job_cost, revenue)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (date, currency) DO UPDATE SET jobs = jobs + excluded.jobs,
           job_wh = job_wh + excluded.job_wh, job_cost = job_cost + excluded.job_cost,
           revenue = revenue + excluded.revenue`,
      );
      const idle = db.prepare(
        `INSERT INTO idle (hour, currency, wh, cost, estimated) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (hour, currency) DO UPDATE SET wh = wh + excluded.wh,
           cost = cost + excluded.cost, estimated = max(estimated, excluded.estimated)`,
      );
      for (const d of days) {
        const currency = typeof d.currency === 'string' ? d.currency : '';
        const c = covered.get(`${d.date}\u0000${currency}`) ?? { wh: 0, cost: 0, revenue: 0, n: 0 };
        const rest = {
          jobs: Math.max(0, Math.round(num(d.jobs)) - c.n),
          wh: Math.max(0, num(d.jobWh) - c.wh),
          cost: Math.max(0, num(d.jobCost) - c.cost),
          revenue: num(d.revenue) - c.revenue,
        };
        if (rest.jobs || rest.wh > 1e-9 || rest.cost > 1e-12 || Math.abs(rest.revenue) > 1e-12)
          insertDay.run(d.date, currency, rest.jobs, rest.wh, rest.cost, rest.revenue);
        if (num(d.idleWh) > 0 || num(d.idleCost) > 0)
          idle.run(`${d.date}T00`, currency, num(d.idleWh), num(d.idleCost), d.estimated ? 1 : 0);
      }
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(
        MARK,
        JSON.stringify({ at: new Date().toISOString(), jobs: jobs.length, days: days.length }),
      );
    })();
    report = { jobs: jobs.length, days: days.length };
    opts.log?.info('energy files imported into the job database', { ...report });
  }
  for (const f of present) await rename(join(dir, f), join(dir, `${f}.imported`));
  return report;
}
