// The node's job record: opens data folder/jobs.db (recovering a damaged file), gives the writers
// (market client, energy ledger, the engine's test jobs) the store and the API its queries,
// applies the retention setting, and exports CSV.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { JobFilter, JobsStorage } from '../../../shared/api/jobs';
import type { Status } from '../../../shared/api/status';
import { IdlerigError } from '../../../shared/errors';
import type { ScopedLogger } from '../logs/logger';
import { localDate } from '../policy/local-time';
import { openJobsDb, type OpenReport } from './db';
import { SCHEMA_VERSION } from './schema';
import { JobStore } from './store';
import { JobQueries } from './queries';
import { writeJobsCsv } from './csv';
import type { JobKind, JobRecorder } from './types';

export interface JobsServiceOptions {
  /** The database file (data folder/jobs.db). */
  file: string;
  /** Where `jobs.export` writes its CSV files. */
  exportsDir: string;
  log: ScopedLogger;
  retentionDays: () => number | null;
  now?: () => Date;
  timeZone?: string;
  /** How often retention runs (default hourly). */
  retentionEveryMs?: number;
}

/** What a test job needs of the engine's call (EngineService.test's parameters and result). */
export interface TestJobCall {
  modelId: string;
  testId?: string | undefined;
  mode: 'chat' | 'completion';
}
export interface TestJobResult {
  kind: 'llm' | 'onnx';
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  ttftMs: number | null;
  totalMs: number;
  /** 'cancelled' when the user stopped it (the engine answers with what it had). */
  finishReason?: string;
}

export class JobsService {
  store!: JobStore;
  queries!: JobQueries;
  private report!: OpenReport;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => Date;

  constructor(private readonly opts: JobsServiceOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** The market client's and payments' way in (types.ts explains how to call it). */
  get recorder(): JobRecorder {
    return this.store;
  }

  /** Opens the database. The report says whether a damaged file was kept aside. */
  open(): OpenReport {
    this.report = openJobsDb(this.opts.file, { now: this.now });
    const tz = this.opts.timeZone ? { timeZone: this.opts.timeZone } : {};
    const now = (): number => this.now().getTime();
    this.store = new JobStore(this.report.db, { ...tz, now, log: this.opts.log });
    this.queries = new JobQueries(this.report.db, { ...tz, now });
    if (this.report.recoveredFrom)
      this.opts.log.warn('job database was unreadable; a new one was started', {
        ...this.report.recoveredFrom,
      });
    if (this.report.migratedFrom !== undefined)
      this.opts.log.info('job database migrated', {
        from: this.report.migratedFrom,
        to: SCHEMA_VERSION,
      });
    const interrupted = this.store.closeInterrupted();
    if (interrupted > 0)
      this.opts.log.info('jobs left running by the last stop marked failed', { interrupted });
    this.applyRetention();
    this.timer = setInterval(() => this.applyRetention(), this.opts.retentionEveryMs ?? 3_600_000);
    this.timer.unref();
    return this.report;
  }

  private appliedDays: number | null | undefined = undefined;

  /** Settings changed: a new retention applies at once. */
  onSettings(): void {
    if (this.opts.retentionDays() !== this.appliedDays) this.applyRetention();
  }

  /** Deletes rows older than the retention setting; never throws (it runs from a timer). */
  applyRetention(): number {
    try {
      const days = this.opts.retentionDays();
      this.appliedDays = days;
      if (days === null) return 0;
      const removed = this.store.deleteBefore(this.now().getTime() - days * 86_400_000);
      if (removed > 0) this.opts.log.info('old job rows removed', { removed, retentionDays: days });
      return removed;
    } catch (err) {
      this.opts.log.error('job retention failed', { error: (err as Error).message });
      return 0;
    }
  }

  async storage(): Promise<JobsStorage> {
    let bytes = 0;
    for (const f of [this.opts.file, `${this.opts.file}-wal`])
      bytes += (await stat(f).catch(() => null))?.size ?? 0;
    return {
      path: this.opts.file,
      bytes,
      rows: this.queries.count(),
      oldestStartedAt: this.queries.oldestStartedAt(),
      schemaVersion: SCHEMA_VERSION,
      retentionDays: this.opts.retentionDays(),
    };
  }

  /** Streams matching jobs as CSV to `out` (an HTTP response, a file). */
  writeCsv(filter: JobFilter, out: Writable): Promise<{ rows: number; bytes: number }> {
    return writeJobsCsv(
      this.store.db,
      filter,
      out,
      this.opts.timeZone ? { timeZone: this.opts.timeZone } : {},
    );
  }

  /** Writes a CSV file into the exports folder (the desktop app shows where). */
  async exportCsv(
    filter: JobFilter,
  ): Promise<{ fileName: string; path: string; rows: number; bytes: number }> {
    await mkdir(this.opts.exportsDir, { recursive: true });
    const fileName = `idlerig-jobs-${this.now().toISOString().replace(/[:.]/g, '-')}.csv`;
    const path = join(this.opts.exportsDir, fileName);
    const out = createWriteStream(path, { mode: 0o600 });
    const result = await this.writeCsv(filter, out);
    out.end();
    await finished(out);
    this.opts.log.info('jobs exported as CSV', { file: fileName, rows: result.rows });
    return { fileName, path, ...result };
  }

  /**
   * Runs an engine test (Models page, `idlerig run`) as a test job row: started before the
   * engine is called (the energy ledger fills its energy when the engine reports its end), ended
   * with its tokens and timings, or failed/cancelled with its error code.
   */
  async recordTest<R extends TestJobResult>(
    params: TestJobCall,
    model: { sha256: string; engine: 'llama' | 'onnx' } | null,
    run: (testId: string) => Promise<R>,
  ): Promise<R> {
    const testId = params.testId ?? `t${this.now().getTime().toString(36)}${randomTail()}`;
    const id = `test-${testId}`;
    const kind: JobKind =
      model?.engine === 'onnx' ? 'tensor' : params.mode === 'chat' ? 'chat' : 'completion';
    const started = this.now().getTime();
    const recorded = model
      ? this.safe(() =>
          this.store.start({
            id,
            startedAt: started,
            gateway: null,
            model: { id: params.modelId, sha256: model.sha256 },
            kind,
            test: true,
          }),
        )
      : false;
    try {
      const result = await run(testId);
      if (recorded)
        this.safe(() =>
          this.store.end(id, {
            status: result.finishReason === 'cancelled' ? 'cancelled' : 'done',
            tokensIn: result.usage?.prompt_tokens ?? null,
            tokensOut: result.usage?.completion_tokens ?? null,
            ttftMs: result.ttftMs,
            durationMs: result.totalMs,
          }),
        );
      return result;
    } catch (err) {
      const code = err instanceof IdlerigError ? err.code : 'INTERNAL';
      if (recorded)
        this.safe(() =>
          this.store.end(id, {
            status: code === 'CANCELLED' ? 'cancelled' : 'failed',
            errorCode: code,
            reason: (err as Error).message.slice(0, 500),
          }),
        );
      throw err;
    }
  }

  /** Today's earnings for the status (the first token that earned anything; null: none). */
  earningsToday(): Status['earningsToday'] {
    try {
      const today = localDate(this.now(), this.opts.timeZone);
      const agg = this.queries.aggregates({ bucket: 'day', from: today, to: today, days: 1 });
      let best: { amount: bigint; symbol: string; decimals: number } | null = null;
      for (const b of agg.buckets)
        for (const e of b.earnings) {
          const amount = BigInt(e.amount);
          if (best && best.symbol === e.symbol) best.amount += amount;
          else if (!best || amount > best.amount)
            best = { amount, symbol: e.symbol, decimals: e.decimals };
        }
      return best
        ? { amount: best.amount.toString(), symbol: best.symbol, decimals: best.decimals }
        : null;
    } catch (err) {
      this.opts.log.warn('could not read today’s earnings', { error: (err as Error).message });
      return null;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      this.report?.db.close();
    } catch {
      /* already closed */
    }
  }

  /** A bookkeeping failure never fails the job it describes. */
  private safe(fn: () => boolean): boolean {
    try {
      return fn();
    } catch (err) {
      this.opts.log.error('could not record a test job', { error: (err as Error).message });
      return false;
    }
  }
}

function randomTail(): string {
  return randomBytes(4).toString('hex');
}
