// `idlerig jobs` (the built CLI, a real process): --csv output parses with a standard CSV parser
// (csv-parse) and round-trips the rows, with the node stopped (the verb opens the database) and
// while it runs (through its API and its export route); --json gives the same rows; filters and
// bad arguments behave.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { openJobsDb } from '../../electron/provider/jobs/db';
import { JobStore } from '../../electron/provider/jobs/store';
import { JobQueries } from '../../electron/provider/jobs/queries';
import { CSV_COLUMNS, csvValues } from '../../electron/provider/jobs/csv';
import type { JobRow } from '../../shared/api/jobs';
import { BUILT, runCli, startCli, waitForDashboard, type RunningCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';

const cleanups: (() => Promise<void> | void)[] = [];
const running: RunningCli[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});

const T0 = Date.parse('2026-02-10T08:00:00Z');

/** A data folder whose job database holds awkward rows: commas, quotes, line breaks, bigints. */
async function seeded(): Promise<{ dir: string; rows: JobRow[] }> {
  const t = await tempDir('idlerig-jobs-cli-');
  cleanups.push(t.cleanup);
  const { db } = openJobsDb(join(t.dir, 'jobs.db'));
  const store = new JobStore(db);
  for (let i = 0; i < 40; i++) {
    const id = `job-${String(i).padStart(3, '0')}`;
    store.start({
      id,
      startedAt: T0 + i * 3_600_000,
      gateway: i % 2 ? 'wss://gw.example/provider?x=1,2' : null,
      model: { id: i % 3 ? 'stories260k' : 'mnist-8', sha256: 'ab'.repeat(32) },
      kind: i % 3 ? 'completion' : 'tensor',
      tokensIn: i,
      test: i % 5 === 0,
      ...(i % 2
        ? {
            price: { amount: 123n, unit: 'per-request' },
            token: { symbol: 'IDLE', decimals: 18, address: '0x' + 'c'.repeat(40) },
          }
        : {}),
    });
    store.recordEnergy({
      id,
      startedAt: T0 + i * 3_600_000,
      endedAt: T0 + i * 3_600_000 + 1500,
      wh: i / 7,
      cost: i / 70_000,
      currency: 'EUR',
      estimated: i % 4 === 0,
      revenue: i % 2 ? 0.001 * i : null,
    });
    store.end(id, {
      status: i % 6 === 1 ? 'failed' : 'done',
      endedAt: T0 + i * 3_600_000 + 1500,
      tokensOut: i * 2,
      ttftMs: 12.5,
      durationMs: 1500,
      ...(i % 6 === 1
        ? { errorCode: 'ENGINE_CRASHED', reason: 'The engine stopped: "signal 9",\nthen restarted' }
        : {}),
      ...(i % 2 ? { earned: 10n ** 20n + BigInt(i) } : {}),
    });
  }
  const rows = new JobQueries(db).list({ sort: 'startedAt', dir: 'asc', limit: 1000 }).rows;
  db.close();
  return { dir: t.dir, rows };
}

function csvText(rows: JobRow[]): string[][] {
  return rows.map((r) => csvValues(r).map((v) => (v === null ? '' : String(v))));
}

function expectRoundTrip(text: string, rows: JobRow[]): void {
  const records = parse(text, { relax_column_count: false }) as string[][];
  expect(records[0]).toEqual([...CSV_COLUMNS]);
  expect(records.slice(1)).toEqual(csvText(rows));
  // And back into values a user would compute with: exact bigints, numbers, booleans.
  const byCol = (rec: string[], c: (typeof CSV_COLUMNS)[number]) => rec[CSV_COLUMNS.indexOf(c)]!;
  for (const [i, rec] of records.slice(1).entries()) {
    const r = rows[i]!;
    expect(byCol(rec, 'earned') === '' ? null : BigInt(byCol(rec, 'earned'))).toBe(
      r.earned === null ? null : BigInt(r.earned),
    );
    expect(Number(byCol(rec, 'energy_wh'))).toBe(r.energyWh);
    expect(byCol(rec, 'test')).toBe(String(r.test));
    expect(byCol(rec, 'reason')).toBe(r.reason ?? '');
  }
}

describe.skipIf(!BUILT)('idlerig jobs (built CLI)', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');

  it('--csv round-trips every row through csv-parse, with the node stopped', async () => {
    const { dir, rows } = await seeded();
    expect(rows.some((r) => r.reason?.includes('\n'))).toBe(true);
    const file = join(dir, 'out.csv');
    const r = await runCli(['jobs', '--data-dir', dir, '--csv', file]);
    expect(r.stderr).toContain(`Jobs written to ${file}`);
    expect(r.code).toBe(0);
    expectRoundTrip(readFileSync(file, 'utf8'), rows);

    const json = await runCli([
      'jobs',
      '--data-dir',
      dir,
      '--json',
      '--model',
      'stories260k',
      '--status',
      'failed',
    ]);
    expect(json.code).toBe(0);
    const got = JSON.parse(json.stdout) as JobRow[];
    const want = rows.filter((x) => x.modelId === 'stories260k' && x.status === 'failed');
    expect(want.length).toBeGreaterThan(0);
    expect(got).toEqual([...want].reverse()); // newest first

    const since = await runCli([
      'jobs',
      '--data-dir',
      dir,
      '--since',
      '2026-02-11',
      '--until',
      '2026-02-11',
      '--json',
    ]);
    const day = JSON.parse(since.stdout) as JobRow[];
    expect(day.length).toBeGreaterThan(0);
    expect(day.length).toBeLessThan(rows.length);
    // Local days: every row is on that local date of the CLI's process.
    for (const x of day) expect(new Date(x.startedAt).toLocaleDateString('sv')).toBe('2026-02-11');

    const table = await runCli(['jobs', '--data-dir', dir, '--limit', '5']);
    expect(table.stdout).toMatch(/^Started\s+Model/);
    expect(table.stdout).toContain('5 of 40 jobs shown');

    const bad = await runCli(['jobs', '--data-dir', dir, '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since: A date or time/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // words, not a stack trace
  }, 60_000);

  it('works through the running node: the same CSV (streamed by its export route) and JSON', async () => {
    const { dir, rows } = await seeded();
    const node = startCli(['--headless', '--port', '0', '--data-dir', dir, '--quiet']);
    running.push(node);
    await waitForDashboard(node, 20_000);
    const r = await runCli(['jobs', '--data-dir', dir, '--csv', '-']);
    expect(r.code).toBe(0);
    expectRoundTrip(r.stdout, rows);
    const json = await runCli(['jobs', '--data-dir', dir, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([...rows].reverse());
    node.child.kill('SIGTERM');
    expect((await node.exited).code).toBe(0);
  }, 60_000);
});
