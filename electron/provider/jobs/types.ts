// The job record's write side: what the market client (and the engine's test jobs) call to keep
// one row per job in the node's local database (data folder/jobs.db, electron/provider/jobs/).
//
// How to call it (the market client, electron/provider/market):
//
//   const rec: JobRecorder = node.jobs.recorder;
//   // 1. When an offer arrives, once the job id is known (before or after accepting it):
//   rec.start({
//     id: offer.jobId,                 // the gateway's job id; unique per node
//     gateway: 'wss://gw.example/ws',  // the gateway URL as configured
//     model: { id: 'stories260k', sha256: '…64 hex…' },
//     kind: 'chat',                    // 'chat' | 'completion' | 'tensor'
//     tokensIn: usage.prompt_tokens,   // null when not known yet (update it on end)
//     price: { amount: 1500n, unit: 'per-million-output-tokens' },  // bigint, smallest unit
//     token: { symbol: 'IDLE', decimals: 18, address: '0x…' },
//   });
//   // 2. Report energy as before (power services' jobStarted/jobEnded, same id); the ledger
//   //    writes the job's Wh, cost and currency into the same row.
//   // 3. When it ends (every path: done, failed, cancelled, or declined without running):
//   rec.end(offer.jobId, {
//     status: 'done',                  // 'done' | 'failed' | 'cancelled' | 'declined'
//     reason: null,                    // declined: the policy's reason code/words
//     errorCode: null,                 // failed: an IdlerigError code or the engine's code
//     tokensIn: 12, tokensOut: 256,
//     ttftMs: 41.2, durationMs: 1830,
//     earned: 384000n,                 // bigint, the token's smallest unit (0n for nothing)
//     revenue: 0.0004,                 // optional: the same in the electricity currency
//     receipt: { …the signed EIP-712 receipt as JSON… },
//   });
//   // A job declined before it ran: rec.start(...) then rec.end(id, { status: 'declined', … }),
//   // or just rec.end with `start` fields given in `init` (see JobEndInit).
//   // 4. Payments (H8), once a voucher covering jobs arrives and is stored durably:
//   rec.linkVoucher({ voucherId, gateway, token: '0x…', cumulative: 9_000n, jobIds: ['j1', 'j2'] });
//
// Every call is synchronous and transactional (better-sqlite3): when it returns, the row is
// committed (WAL) and survives a crash of the process. Calls never throw for a storage problem
// after the database opened: such a failure is logged and returned as `false`, so a job is
// never failed because its bookkeeping failed. Invalid input (a bad id, a negative amount)
// throws IdlerigError('INVALID_PARAMS'); end() of an id never start()ed, without `init`,
// throws IdlerigError('NOT_FOUND').
//
// Reading back: node.jobs.queries (list with filters, get, aggregates per day/hour with
// earnings per token as exact decimal strings), or the jobs.* API calls (shared/api/jobs.ts).
//
// Amounts are bigint in the token's smallest unit (decimal strings on the wire/API and in CSV).

export type JobKind = 'chat' | 'completion' | 'tensor';
/** 'running' until end() is called. */
export type JobStatus = 'running' | 'done' | 'failed' | 'cancelled' | 'declined';
export const JOB_STATUSES: readonly JobStatus[] = [
  'running',
  'done',
  'failed',
  'cancelled',
  'declined',
];
export const JOB_KINDS: readonly JobKind[] = ['chat', 'completion', 'tensor'];

/** The ERC-20 token a job is priced and paid in. */
export interface JobToken {
  symbol: string;
  decimals: number;
  /** Contract address (0x…); null for a test job or an unknown token. */
  address: string | null;
}

export interface JobPrice {
  /** In the token's smallest unit. */
  amount: bigint;
  /** What the amount is per, e.g. 'per-million-output-tokens' or 'per-request'. */
  unit: string;
}

export interface JobStart {
  id: string;
  /** ms since the epoch or a Date; default now. */
  startedAt?: number | Date;
  /** The gateway URL; null for a local test job. */
  gateway: string | null;
  model: { id: string; sha256: string | null };
  kind: JobKind;
  tokensIn?: number | null;
  price?: JobPrice | null;
  token?: JobToken | null;
  /** A test job (Models page, `idlerig run`): recorded, but never counted as earnings. */
  test?: boolean;
}

export interface JobEnd {
  status: Exclude<JobStatus, 'running'>;
  /** ms since the epoch or a Date; default now. */
  endedAt?: number | Date;
  /** Why it was declined or cancelled, in words or a reason code. */
  reason?: string | null;
  errorCode?: string | null;
  tokensIn?: number | null;
  tokensOut?: number | null;
  ttftMs?: number | null;
  /** Default: endedAt − startedAt. */
  durationMs?: number | null;
  /** What the job earned, in the token's smallest unit. */
  earned?: bigint | null;
  /** The same in the electricity currency, when the market client converts it (for net). */
  revenue?: number | null;
  /** The signed receipt (EIP-712 typed data and signature), stored as JSON. */
  receipt?: unknown;
}

/** end() for a job that was never start()ed (e.g. declined at once): the start fields too. */
export type JobEndInit = Omit<JobStart, 'id'>;

export interface VoucherLink {
  /** The voucher's own id (e.g. its EIP-712 digest). */
  voucherId: string;
  gateway: string;
  /** Token contract address. */
  token: string;
  /** The voucher's cumulative amount, smallest unit. */
  cumulative: bigint;
  /** The jobs this voucher (newly) pays. */
  jobIds: readonly string[];
  at?: number | Date;
}

/** Per-job energy, written by the energy ledger into the job's row when the job ends. */
export interface JobEnergyWrite {
  id: string;
  startedAt: number;
  endedAt: number;
  wh: number;
  cost: number;
  currency: string;
  estimated: boolean;
  revenue: number | null;
}

/**
 * Reports to a gateway that could not be sent, kept until it acknowledges them (market/away.ts
 * says what a report is; this keeps its text). Errors are logged and answered with false / [].
 */
export interface AwayRecord {
  /** Keeps (or replaces) the report of `jobId`; past `cap` per gateway the oldest go. */
  add(gateway: string, jobId: string, report: string, cap: number): boolean;
  /** Oldest first. */
  list(gateway: string, limit: number): { jobId: string; report: string }[];
  remove(gateway: string, jobIds: readonly string[]): void;
}

/**
 * A finished job's earnings as the gateway settled them (its away_ack): for a job that ended
 * while the gateway was unreachable, what the gateway charged replaces the node's own count.
 */
export interface JobSettlement {
  /** Only a job of this gateway is changed. */
  gateway: string;
  /** In the token's smallest unit. */
  earned: bigint;
  revenue?: number | null;
  /** Replaces the job's reason; null or absent keeps it. */
  reason?: string | null;
}

/** The market client's (and payments') way into the job record. */
export interface JobRecorder {
  start(job: JobStart): boolean;
  end(id: string, end: JobEnd, init?: JobEndInit): boolean;
  /** Sets a finished market job's earnings to what its gateway settled (false: no such job). */
  settle(id: string, settlement: JobSettlement): boolean;
  /** Links a durably stored voucher to the jobs it pays (payments, issue 12). */
  linkVoucher(link: VoucherLink): boolean;
  /** Where reports to a gateway wait while it cannot be reached (absent: kept in memory only). */
  readonly away?: AwayRecord;
}
