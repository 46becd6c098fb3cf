// Jobs that ended while the gateway connection was down (their result could not be sent): kept
// until the next login, reported in one away_report, and dropped once the gateway acknowledges
// them. Kept in the job database too (jobs/away-store.ts), so a node that is closed or restarted
// before the gateway is back still reports them; read back once, at the first login after a
// start, and checked against the protocol's schema (an unreadable entry is dropped and said so).
// Bounded: the oldest go first past the cap (the job record still has every one).
import type { z } from 'zod';
import { AwayJobSchema, type AwaySettledSchema } from '../../../shared/market-protocol';
import type { AwayRecord } from '../jobs/types';
import type { ScopedLogger } from '../logs/logger';

export type AwayJob = z.infer<typeof AwayJobSchema>;
export type AwaySettled = z.infer<typeof AwaySettledSchema>;

export const AWAY_CAP = 10_000;

export class AwayLog {
  private jobs = new Map<string, AwayJob>();
  private loaded = false;

  /** `record`: where reports outlive this process (null: in memory only). */
  constructor(
    private readonly gateway: string,
    private readonly record: AwayRecord | null = null,
    private readonly log?: ScopedLogger,
  ) {}

  add(job: AwayJob): void {
    this.jobs.delete(job.jobId);
    this.jobs.set(job.jobId, job);
    this.trim();
    this.record?.add(this.gateway, job.jobId, JSON.stringify(job), AWAY_CAP);
  }

  /** What to report after a login (kept until acknowledged), oldest first. */
  pending(): AwayJob[] {
    this.load();
    return [...this.jobs.values()];
  }

  /** The report kept for `jobId` (until it is acknowledged). */
  get(jobId: string): AwayJob | undefined {
    this.load();
    return this.jobs.get(jobId);
  }

  ack(jobIds: readonly string[]): void {
    for (const id of jobIds) this.jobs.delete(id);
    this.record?.remove(this.gateway, jobIds);
  }

  get size(): number {
    this.load();
    return this.jobs.size;
  }

  /** Reports an earlier run of the node kept: before those of this run (they are older). */
  private load(): void {
    if (this.loaded || !this.record) return;
    this.loaded = true;
    const kept = new Map<string, AwayJob>();
    const bad: string[] = [];
    for (const row of this.record.list(this.gateway, AWAY_CAP)) {
      const job = parseReport(row.report);
      if (job && job.jobId === row.jobId) kept.set(job.jobId, job);
      else bad.push(row.jobId);
    }
    if (bad.length > 0) {
      this.record.remove(this.gateway, bad);
      this.log?.warn('dropped unreadable reports kept for the gateway', {
        gateway: this.gateway,
        count: bad.length,
      });
    }
    for (const [id, job] of this.jobs) {
      kept.delete(id);
      kept.set(id, job);
    }
    this.jobs = kept;
    this.trim();
  }

  private trim(): void {
    while (this.jobs.size > AWAY_CAP) {
      const oldest = this.jobs.keys().next().value as string;
      this.jobs.delete(oldest);
    }
  }
}

function parseReport(text: string): AwayJob | null {
  try {
    const r = AwayJobSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
