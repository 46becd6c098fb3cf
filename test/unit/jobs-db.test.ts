// The job database on real files: a node SIGKILLed in the middle of 1,000 job writes loses no
// committed row and opens cleanly; a database of an older schema is migrated with its rows; a
// damaged file is kept aside, a new one started, and the user told (the node's warning).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openJobsDb } from '../../electron/provider/jobs/db';
import { JobStore } from '../../electron/provider/jobs/store';
import { JobQueries } from '../../electron/provider/jobs/queries';
import { SCHEMA_VERSION } from '../../electron/provider/jobs/schema';
import { ProviderNode } from '../../electron/provider/node';
import { tempDir } from '../helpers/tmp';
import { REPO } from '../helpers/cli';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function folder(): Promise<string> {
  const t = await tempDir('idlerig-jobs-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('crash safety (real process, SIGKILL)', () => {
  it('a node killed in the middle of 1,000 job writes loses no committed row and reopens cleanly', async () => {
    const dir = await folder();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'test/unit/jobs-crash-writer.ts'), dir, '1000'],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
    // Kill once a few hundred rows are committed (well before the 1,000th).
    const deadline = Date.now() + 60_000;
    while ((out.match(/^job-/gm)?.length ?? 0) < 300) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`writer ended early: ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const committed = out.split('\n').filter((l) => l.startsWith('job-'));
    expect(out).not.toContain('finished');
    expect(committed.length).toBeGreaterThanOrEqual(300);
    expect(committed.length).toBeLessThan(1000);

    // The WAL is still there (never checkpointed by a clean close): opening must replay it.
    expect(existsSync(join(dir, 'jobs.db-wal'))).toBe(true);
    const { db, recoveredFrom } = openJobsDb(join(dir, 'jobs.db'));
    cleanups.push(() => {
      db.close();
    });
    expect(recoveredFrom).toBeUndefined();
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = db.prepare(`SELECT id, status, earned FROM jobs`).all() as {
      id: string;
      status: string;
      earned: string;
    }[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of committed) {
      expect(byId.get(id), id).toMatchObject({ status: 'done', earned: '1000' });
    }
    // At most the one job in flight at the kill is beyond what was reported committed.
    expect(rows.length - committed.length).toBeLessThanOrEqual(1);
    // The rollup agrees with the rows after the crash too.
    const agg = new JobQueries(db).aggregates({ bucket: 'day', days: 2 });
    const jobs = agg.buckets.reduce((s, b) => s + b.jobs, 0);
    expect(jobs).toBe(rows.filter((r) => r.status === 'done').length);
    const earned = agg.buckets
      .flatMap((b) => b.earnings)
      .reduce((s, e) => s + BigInt(e.amount), 0n);
    expect(earned).toBe(BigInt(jobs) * 1000n);
  }, 90_000);
});

describe('schema migrations', () => {
  it('migrates a database of schema 1 to the current one, keeping its rows', async () => {
    const dir = await folder();
    const file = join(dir, 'jobs.db');
    const old = openJobsDb(file, { targetVersion: 1 });
    expect(old.db.pragma('user_version', { simple: true })).toBe(1);
    // A version-1 row, written with version 1's columns only.
    old.db
      .prepare(
        `INSERT INTO jobs (id, started_at, ended_at, hour, model_id, kind, status, tokens_in,
           tokens_out, earned, earned_hi, earned_lo, token_symbol, token_decimals, energy_wh,
           energy_cost, currency)
         VALUES ('old-1', 1700000000000, 1700000001000, '2023-11-14T23', 'm', 'chat', 'done', 3,
           7, '5000000000123', 5000, 123, 'IDLE', 18, 0.5, 0.0002, 'EUR')`,
      )
      .run();
    old.db.close();

    const report = openJobsDb(file);
    cleanups.push(() => {
      report.db.close();
    });
    expect(report.migratedFrom).toBe(1);
    expect(report.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const q = new JobQueries(report.db);
    const detail = q.get('old-1');
    expect(detail).toMatchObject({ modelId: 'm', earned: '5000000000123', receipt: null });
    // The rollup added by schema 2 is backfilled from the old rows.
    const agg = q.aggregates({ bucket: 'day', from: '2023-11-14', to: '2023-11-15', days: 2 });
    const total = agg.buckets.find((b) => b.jobs === 1);
    expect(total?.earnings).toEqual([
      { symbol: 'IDLE', address: null, decimals: 18, amount: '5000000000123' },
    ]);
    expect(total?.jobKwh).toBeCloseTo(0.0005, 12);
    // New columns work on the migrated file.
    new JobStore(report.db).linkVoucher({
      voucherId: 'v1',
      gateway: 'ws://g',
      token: '0x1',
      cumulative: 5000000000123n,
      jobIds: ['old-1'],
    });
    expect(q.get('old-1').voucherId).toBe('v1');
  });

  it('refuses a database written by a newer version instead of touching it', async () => {
    const dir = await folder();
    const file = join(dir, 'jobs.db');
    const r = openJobsDb(file);
    r.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    r.db.close();
    expect(() => openJobsDb(file)).toThrow(/newer Idlerig/);
    expect(readdirSync(dir).some((f) => f.includes('corrupt'))).toBe(false);
  });

  it('applies nothing twice', async () => {
    const dir = await folder();
    const r = openJobsDb(join(dir, 'jobs.db'));
    cleanups.push(() => {
      r.db.close();
    });
    expect(migrate(r.db)).toBeNull();
  });
});

describe('a damaged database', () => {
  it('is kept aside, a new one is started, and the node tells the user', async () => {
    const dir = await folder();
    const garbage = 'this is not a database, it is the remains of a bad disk '.repeat(200);
    writeFileSync(join(dir, 'jobs.db'), garbage);
    const node = new ProviderNode({
      dataDir: dir,
      mode: 'headless',
      power: { detect: false },
    });
    await node.start();
    cleanups.push(() => node.stop());
    const warning = node.status().warnings.find((w) => w.code === 'JOBS_DB_RECOVERED');
    expect(warning?.message).toMatch(/could not be read \(not a database file\)/);
    const kept = readdirSync(dir).find((f) => f.startsWith('jobs.db.corrupt-'));
    expect(kept).toBeDefined();
    // Nothing silently discarded: the old bytes are all there.
    expect(readFileSync(join(dir, kept!), 'utf8')).toBe(garbage);
    expect(warning?.message).toContain(kept!);
    // The new database works.
    node.jobs.recorder.start({
      id: 'j',
      gateway: null,
      model: { id: 'm', sha256: null },
      kind: 'chat',
    });
    expect(node.jobs.queries.list({}).total).toBe(1);
  });

  it('a damaged page inside a real database is found at open and kept aside', async () => {
    const dir = await folder();
    const file = join(dir, 'jobs.db');
    const r = openJobsDb(file);
    const store = new JobStore(r.db);
    for (let i = 0; i < 300; i++)
      store.start({ id: `j${i}`, gateway: 'g', model: { id: 'm', sha256: null }, kind: 'chat' });
    r.db.pragma('wal_checkpoint(TRUNCATE)');
    r.db.close();
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    // Scribble over the jobs table's later pages (not the header page).
    for (let p = 2; p * pageSize < bytes.length; p += 2)
      bytes.fill(0xa5, p * pageSize + 8, p * pageSize + 200);
    writeFileSync(file, bytes);
    const again = openJobsDb(file);
    cleanups.push(() => {
      again.db.close();
    });
    expect(again.recoveredFrom?.backup).toMatch(/jobs\.db\.corrupt-/);
    expect(readFileSync(again.recoveredFrom!.backup).equals(bytes)).toBe(true);
    expect(new JobQueries(again.db).count()).toBe(0);
  });
});

describe('packaging (Node side; the Electron binary cannot run here)', () => {
  it('better-sqlite3 loads under Node, and electron-builder is set to rebuild it (and only it) for Electron', async () => {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(':memory:');
    expect((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v).toMatch(/^3\./);
    db.close();
    const yml = readFileSync(join(REPO, 'electron-builder.yml'), 'utf8');
    expect(yml).toMatch(/^npmRebuild: true$/m);
    expect(yml).toMatch(/^asarUnpack:\n(?: {2}- .+\n)*? {2}- '\*\*\/\*\.node'$/m);
    // The rebuild recompiles modules that have a binding.gyp: better-sqlite3 is the only one, so
    // the prebuilt N-API engines (node-llama-cpp, onnxruntime-node) are left as they are.
    const nm = join(REPO, 'node_modules');
    const packages = readdirSync(nm).flatMap((d) =>
      d.startsWith('@') ? readdirSync(join(nm, d)).map((p) => `${d}/${p}`) : [d],
    );
    const gyp = packages
      .filter((p) => existsSync(join(nm, p, 'binding.gyp')))
      .map((p) => `node_modules/${p}/binding.gyp`);
    expect(gyp).toEqual(['node_modules/better-sqlite3/binding.gyp']);
  });
});
