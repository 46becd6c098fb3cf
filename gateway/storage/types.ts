// What the gateway keeps (keys, usage, jobs, providers, receipts) behind one interface, so a
// PostgreSQL backend can follow the embedded SQLite one (storage/sqlite.ts) for operators who
// outgrow one machine. Amounts are bigint here and decimal strings in the database.
import type { SignedReceipt } from '../../shared/receipt';

export interface KeyLimits {
  /** Largest total spend per UTC day; null: none. */
  budgetPerDay: bigint | null;
  /** Requests per minute; null: unlimited. */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute; null: unlimited. */
  tpm: number | null;
  /** Requests running at once; null: unlimited. */
  maxParallel: number | null;
}

export interface KeyRecord extends KeyLimits {
  /** The public part of the key (`irk_<id>_<secret>`), shown in lists. */
  id: string;
  /** sha256 (hex) of the secret part. The key itself is never stored. */
  secretHash: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
  /** Credit granted so far (only `keys credit` raises it). */
  credit: bigint;
  /** Charged so far (only the gateway raises it). */
  spent: bigint;
  /** Charged on `spentDay` (UTC date, YYYY-MM-DD). */
  spentToday: bigint;
  spentDay: string;
}

export type JobOutcome = 'done' | 'error' | 'cancelled';

export interface JobRecord {
  id: string;
  keyId: string;
  api: 'chat' | 'completion' | 'tensor';
  modelSha256: string;
  modelName: string;
  /**
   * sha256 of the job's input as sent to providers (the receipt's inputSha256); null for jobs
   * recorded before the ledger kept it (schema 1).
   */
  inputSha256: string | null;
  /** The provider that ran it (the last attempt); null when none did. */
  provider: string | null;
  outcome: JobOutcome;
  /** A typed error code when it did not finish. */
  errorCode: string | null;
  attempts: number;
  tokensIn: number;
  tokensOut: number;
  charge: bigint;
  ttftMs: number | null;
  durationMs: number;
  startedAt: string;
  endedAt: string;
}

export interface ReceiptRecord {
  jobId: string;
  provider: string;
  receipt: SignedReceipt;
  /** null until checked; false: the signature or the fields did not match (the job is unpaid). */
  verified: boolean | null;
}

export interface ProviderRecord {
  address: string;
  firstSeen: string;
  lastSeen: string;
  jobsDone: number;
  jobsFailed: number;
}

export interface GatewayStore {
  createKey(k: KeyRecord): void;
  getKey(id: string): KeyRecord | null;
  listKeys(): KeyRecord[];
  /** false when no such key (or it was already revoked). */
  revokeKey(id: string, at: string): boolean;
  /** Raises a key's credit; its new credit, or null when no such key. */
  addCredit(id: string, amount: bigint): bigint | null;
  /** The gateway's own figures (spent, spent today). */
  saveSpend(id: string, spent: bigint, spentToday: bigint, spentDay: string): void;
  /** A finished job, its receipt and the provider's tally, in one transaction. */
  recordJob(job: JobRecord, receipt: ReceiptRecord | null): void;
  /** A receipt that came after its job was recorded (an away report); one already kept wins. */
  addLateReceipt(receipt: ReceiptRecord): void;
  setReceiptVerified(jobId: string, verified: boolean): void;
  getJob(id: string): JobRecord | null;
  listJobs(limit: number): JobRecord[];
  getReceipt(jobId: string): ReceiptRecord | null;
  /** Receipts not yet checked (after a restart), oldest first. */
  unverifiedReceipts(limit: number): ReceiptRecord[];
  providerSeen(address: string, at: string): void;
  getProvider(address: string): ProviderRecord | null;
  close(): void;
}
