// A provider's away report (jobs that ended while its connection was down) reconciled with the
// ledger: a job the gateway recorded without a receipt (its provider was lost mid-job) gets the
// provider's signed receipt, when that receipt is for this job, this provider, this gateway,
// this model and the input the gateway sent (its sha256, in the ledger since schema 2; a job
// recorded before has none to compare), and claims no less than the gateway counted. The
// output's hash cannot be checked: the gateway never saw the output's end. The signature is then
// checked off the request path like any other (receipts.ts). What the job was charged and paid
// does not change: the requester paid for what reached it, and the provider was paid that
// (dispatch.ts).
import type { AwayJobSchema, AwaySettledSchema } from '../shared/market-protocol';
import type { z } from 'zod';
import type { GatewayStore } from './storage/types';

type AwayJob = z.infer<typeof AwayJobSchema>;
type AwaySettled = z.infer<typeof AwaySettledSchema>;

export interface AwayOutcome {
  /** Receipts kept for jobs that had none. */
  kept: number;
  /** Reports with nothing to keep: no receipt, or the job already has one. */
  nothing: number;
  /** Refused, by reason (an unknown job, another provider's, a field that differs). */
  refused: Record<string, number>;
  /**
   * For the provider (its away_ack): what the ledger counted and charged for each reported job
   * it ran, receipt kept or not, so the provider's record says what it is paid, not its own
   * count of the tokens it sent (some may have been lost on the way).
   */
  settled: AwaySettled[];
}

export function reconcileAway(
  store: GatewayStore,
  push: (jobId: string, provider: string, receipt: NonNullable<AwayJob['receipt']>) => void,
  origin: string,
  provider: string,
  jobs: readonly AwayJob[],
): AwayOutcome {
  const out: AwayOutcome = { kept: 0, nothing: 0, refused: {}, settled: [] };
  const settledIds = new Set<string>();
  const refuse = (why: string): void => {
    out.refused[why] = (out.refused[why] ?? 0) + 1;
  };
  // Kept after the reads: each read writes what waits first, so a write between two reads would
  // make every read wait for the ledger's thread.
  const keep = new Map<string, NonNullable<AwayJob['receipt']>>();
  for (const j of jobs) {
    const job = store.getJob(j.jobId);
    const ours = job !== null && job.provider?.toLowerCase() === provider.toLowerCase();
    if (ours && !settledIds.has(j.jobId)) {
      settledIds.add(j.jobId);
      out.settled.push({ jobId: j.jobId, tokensOut: job.tokensOut, charge: job.charge.toString() });
    }
    const r = j.receipt;
    if (!r || keep.has(j.jobId)) {
      out.nothing++;
      continue;
    }
    if (!job) refuse('unknown job');
    else if (!ours) refuse('another provider');
    else if (store.getReceipt(j.jobId)) out.nothing++;
    else if (r.jobId !== j.jobId) refuse('jobId');
    else if (r.gateway !== origin) refuse('gateway');
    else if (r.modelSha256 !== job.modelSha256) refuse('modelSha256');
    else if (job.inputSha256 !== null && r.inputSha256 !== job.inputSha256) refuse('inputSha256');
    else if (r.tokensOut < job.tokensOut) refuse('tokensOut below what reached the gateway');
    else if (BigInt(r.price) < job.charge) refuse('price below the charge');
    else keep.set(j.jobId, r);
  }
  for (const [jobId, receipt] of keep) {
    store.addLateReceipt({ jobId, provider, receipt, verified: null });
    push(jobId, provider, receipt);
  }
  out.kept = keep.size;
  return out;
}
