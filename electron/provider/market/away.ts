// Jobs that ended while the gateway connection was down (their result could not be sent): kept
// until the next login, reported in one away_report, and dropped once the gateway acknowledges
// them. Bounded: the oldest go first past the cap (the job record still has every one).
import type { z } from 'zod';
import type { AwayJobSchema } from '../../../shared/market-protocol';

export type AwayJob = z.infer<typeof AwayJobSchema>;

export const AWAY_CAP = 10_000;

export class AwayLog {
  private readonly jobs = new Map<string, AwayJob>();

  add(job: AwayJob): void {
    this.jobs.delete(job.jobId);
    this.jobs.set(job.jobId, job);
    while (this.jobs.size > AWAY_CAP) {
      const oldest = this.jobs.keys().next().value as string;
      this.jobs.delete(oldest);
    }
  }

  /** What to report after a login (kept until acknowledged). */
  pending(): AwayJob[] {
    return [...this.jobs.values()];
  }

  ack(jobIds: readonly string[]): void {
    for (const id of jobIds) this.jobs.delete(id);
  }

  get size(): number {
    return this.jobs.size;
  }
}
