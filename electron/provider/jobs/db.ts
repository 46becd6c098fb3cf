// Opens the job database (data folder/jobs.db, SQLite through better-sqlite3): WAL journal with
// full fsync (a crash, even SIGKILL or power loss, loses no committed row), versioned
// migrations, and recovery of a file that is not a database or is damaged: it is renamed aside
// (with its -wal/-shm), a new one is started, and the caller is told, so the user can be told.
//
// Packaged Electron: better-sqlite3 is a native module built against Node's ABI by `npm ci`;
// electron-builder rebuilds it for Electron's ABI when it packs (`npmRebuild: true`, the
// default, i.e. `electron-builder install-app-deps`), and the module is unpacked from the asar
// (`asarUnpack: **/*.node`) so it can be loaded.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { IdlerigError } from '../../../shared/errors';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema';

export type Db = Database.Database;

export interface OpenReport {
  db: Db;
  /** Set when the file was unusable: where it was kept and why. */
  recoveredFrom?: { backup: string; problem: string };
  /** Set when an older schema was migrated. */
  migratedFrom?: number;
  created: boolean;
}

export interface OpenOptions {
  now?: () => Date;
  /** Apply migrations only up to this version (tests build older databases with it). */
  targetVersion?: number;
  /** Run PRAGMA quick_check at open (default true; the benchmark's million rows skip it). */
  check?: boolean;
}

/** Opens (creating or migrating) the database at `path`. */
export function openJobsDb(path: string, opts: OpenOptions = {}): OpenReport {
  mkdirSync(dirname(path), { recursive: true });
  const created = !existsSync(path);
  try {
    return { ...openChecked(path, opts), created };
  } catch (err) {
    if (err instanceof IdlerigError) throw err;
    const problem = describeProblem(err);
    const stamp = (opts.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
    const backup = `${path}.corrupt-${stamp}`;
    renameSync(path, backup);
    for (const suffix of ['-wal', '-shm'])
      if (existsSync(path + suffix)) renameSync(path + suffix, backup + suffix);
    return { ...openChecked(path, opts), created: true, recoveredFrom: { backup, problem } };
  }
}

function openChecked(path: string, opts: OpenOptions): Omit<OpenReport, 'created'> {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000'); // first: it covers the pragmas below too
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    if (opts.check !== false) {
      const result = db.pragma('quick_check', { simple: true });
      if (result !== 'ok') throw new Error(`integrity check: ${String(result)}`);
    }
    const migratedFrom = migrate(db, opts.targetVersion ?? SCHEMA_VERSION);
    return migratedFrom === null ? { db } : { db, migratedFrom };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Applies the missing migrations; returns the version it started from when it changed any. */
export function migrate(db: Db, target = SCHEMA_VERSION, steps = MIGRATIONS): number | null {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION)
    throw new IdlerigError(
      'CONFLICT',
      `The job database was written by a newer Idlerig (schema ${from}, this one knows ${SCHEMA_VERSION}); update Idlerig`,
    );
  const todo = steps.filter((m: Migration) => m.version > from && m.version <= target);
  if (todo.length === 0) return null;
  for (const m of todo) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  // A brand-new file is not a migration.
  return from === 0 ? null : from;
}

function describeProblem(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_NOTADB') return 'not a database file';
  if (code === 'SQLITE_CORRUPT') return 'the database file is damaged';
  return (err as Error).message ?? String(err);
}
