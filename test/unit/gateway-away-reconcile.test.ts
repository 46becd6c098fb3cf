// A provider's away report against the gateway's real ledger (SQLite): the receipt of a job that
// lost its provider is kept only when it is for the input the gateway sent. The end-to-end path
// (a real gateway and node, a cut connection) is in gateway-away.test.ts; these are the cases a
// real node does not produce: a receipt for another input, and a job recorded before the ledger
// kept input hashes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcileAway } from '../../gateway/away';
import { newJobId } from '../../gateway/ids';
import { SqliteStore } from '../../gateway/storage/sqlite';
import type { JobRecord } from '../../gateway/storage/types';
import type { SignedReceipt } from '../../shared/receipt';

const PROVIDER = `0x${'ab'.repeat(20)}`;
const GATEWAY = 'http://127.0.0.1:1';
const MODEL = 'c'.repeat(64);
const INPUT = '0'.repeat(64);

let dir: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idlerig-away-'));
  store = new SqliteStore(join(dir, 'gateway.sqlite'));
});
afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A job whose provider was lost after 4 tokens: recorded without a receipt. */
function lostJob(inputSha256: string | null): JobRecord {
  const now = new Date().toISOString();
  const job: JobRecord = {
    id: newJobId(),
    keyId: 'k1',
    api: 'completion',
    modelSha256: MODEL,
    modelName: 'stub',
    inputSha256,
    provider: PROVIDER,
    outcome: 'error',
    errorCode: 'PROVIDER_LOST',
    attempts: 1,
    tokensIn: 0,
    tokensOut: 4,
    charge: 40n,
    ttftMs: 1,
    durationMs: 5,
    startedAt: now,
    endedAt: now,
  };
  store.recordJob(job, null);
  return job;
}

function receiptFor(job: JobRecord, inputSha256: string): SignedReceipt {
  return {
    jobId: job.id,
    modelSha256: MODEL,
    inputSha256,
    outputSha256: '1'.repeat(64),
    tokensIn: 3,
    tokensOut: 6,
    price: '60',
    gateway: GATEWAY,
    signature: `0x${'00'.repeat(65)}`,
  };
}

const report = (job: JobRecord, receipt: SignedReceipt) => ({
  jobId: job.id,
  outcome: 'done' as const,
  usage: { tokensIn: 3, tokensOut: 6 },
  receipt,
});

describe('away reports against the ledger', () => {
  it('a receipt for another input is refused; one for the input the gateway sent is kept', () => {
    const pushed: string[] = [];
    const push = (id: string): void => {
      pushed.push(id);
    };
    const job = lostJob(INPUT);
    const other = reconcileAway(store, push, GATEWAY, PROVIDER, [
      report(job, receiptFor(job, 'f'.repeat(64))),
    ]);
    // Refused or not, the provider is told what the ledger charged for its job.
    const settled = [{ jobId: job.id, tokensOut: 4, charge: '40' }];
    expect(other).toEqual({ kept: 0, nothing: 0, refused: { inputSha256: 1 }, settled });
    expect(store.getReceipt(job.id)).toBeNull();

    const same = reconcileAway(store, push, GATEWAY, PROVIDER, [
      report(job, receiptFor(job, INPUT)),
    ]);
    expect(same).toEqual({ kept: 1, nothing: 0, refused: {}, settled });
    expect(store.getReceipt(job.id)).toMatchObject({ verified: null });
    expect(store.getReceipt(job.id)?.receipt.inputSha256).toBe(INPUT);
    expect(pushed).toEqual([job.id]);
  });

  it('a job recorded before the ledger kept input hashes takes the receipt on its other checks', () => {
    const job = lostJob(null);
    const out = reconcileAway(store, () => undefined, GATEWAY, PROVIDER, [
      report(job, receiptFor(job, 'f'.repeat(64))),
    ]);
    expect(out.kept).toBe(1);
  });

  it('the provider is told the charge of its own reported jobs only, once each', () => {
    const job = lostJob(INPUT);
    const elsewhere = { ...lostJob(INPUT), provider: `0x${'cd'.repeat(20)}` };
    store.recordJob(elsewhere, null);
    const entry = (id: string) => ({
      jobId: id,
      outcome: 'error' as const,
      usage: { tokensIn: 0, tokensOut: 4 },
    });
    const out = reconcileAway(store, () => undefined, GATEWAY, PROVIDER, [
      entry(job.id),
      entry(job.id),
      entry(elsewhere.id),
      entry('no-such-job'),
    ]);
    expect(out.settled).toEqual([{ jobId: job.id, tokensOut: 4, charge: '40' }]);
  });
});
