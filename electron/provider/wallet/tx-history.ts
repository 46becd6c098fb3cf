// The wallet's transaction history (data folder/wallet-txs.json): every claim, withdrawal and
// payout change the node sent, with its state (pending until mined, then confirmed or failed).
// A transaction is written as pending before anyone waits for it, so a crash leaves it pending and
// the next start asks the chain what became of it. A damaged file is kept aside (json-file.ts) and
// the history starts over: the chain still holds every transaction.
import { z } from 'zod';
import type { Provider } from 'ethers';
import { WalletTxSchema, type WalletTx } from '../../../shared/api/wallet';
import { SerialQueue, writeFileAtomic } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';

export const TX_HISTORY_FILE = 'wallet-txs.json';
const FORMAT = 'idlerig-wallet-txs';
/** The history keeps the latest this many transactions. */
const MAX_KEPT = 1000;

const FileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  transactions: z.array(WalletTxSchema.omit({ explorerUrl: true })),
});
type StoredTx = Omit<WalletTx, 'explorerUrl'>;

/** Block explorers of the chains that have one (a transaction page is `${base}/tx/${hash}`). */
const EXPLORERS: Record<number, string> = {
  1: 'https://etherscan.io',
  10: 'https://optimistic.etherscan.io',
  137: 'https://polygonscan.com',
  8453: 'https://basescan.org',
  42161: 'https://arbiscan.io',
  84532: 'https://sepolia.basescan.org',
  11155111: 'https://sepolia.etherscan.io',
};

/** The explorer page of a transaction; null on chains without one (a local devnet). */
export function explorerTxUrl(chainId: number, hash: string): string | null {
  const base = EXPLORERS[chainId];
  return base ? `${base}/tx/${hash}` : null;
}

export class TxHistory {
  private readonly queue = new SerialQueue();

  private constructor(
    private readonly file: string,
    private txs: StoredTx[],
    private readonly now: () => Date,
    /** Set when the file was unusable at open: where it was kept and why. */
    readonly recoveredFrom: { backup: string; problem: string } | undefined,
  ) {}

  static async open(file: string, now: () => Date = () => new Date()): Promise<TxHistory> {
    const read = await readJsonFile(file, (raw) => FileSchema.parse(raw), now);
    if (read.kind === 'ok') return new TxHistory(file, read.value.transactions, now, undefined);
    if (read.kind === 'recovered')
      return new TxHistory(file, [], now, { backup: read.backup, problem: read.problem });
    return new TxHistory(file, [], now, undefined);
  }

  /** Newest first, with explorer links. */
  list(): WalletTx[] {
    return [...this.txs]
      .reverse()
      .map((t) => ({ ...t, explorerUrl: explorerTxUrl(t.chainId, t.hash) }));
  }

  get(hash: string): WalletTx | undefined {
    return this.list().find((t) => t.hash === hash);
  }

  /** Records a transaction just sent (pending). Resolves once it is on disk. */
  add(
    tx: Omit<StoredTx, 'state' | 'sentAt' | 'settledAt' | 'blockNumber' | 'error'> & {
      /** When it was sent, if not now (a claim the watchtower sent). */
      sentAt?: string;
    },
  ): Promise<void> {
    return this.change(() => {
      const entry: StoredTx = {
        ...tx,
        state: 'pending',
        sentAt: tx.sentAt ?? this.now().toISOString(),
        settledAt: null,
        blockNumber: null,
        error: null,
      };
      this.txs = [...this.txs.filter((t) => t.hash !== tx.hash), entry].slice(-MAX_KEPT);
    });
  }

  /** Marks a transaction mined (confirmed, or failed when it reverted) or failed with a reason. */
  settle(
    hash: string,
    outcome: { ok: true; blockNumber: number } | { ok: false; error: string; blockNumber?: number },
    patch: Partial<Pick<StoredTx, 'value'>> = {},
  ): Promise<void> {
    return this.change(() => {
      this.txs = this.txs.map((t) =>
        t.hash !== hash
          ? t
          : {
              ...t,
              ...patch,
              state: outcome.ok ? 'confirmed' : 'failed',
              settledAt: this.now().toISOString(),
              blockNumber: outcome.blockNumber ?? null,
              error: outcome.ok ? null : outcome.error,
            },
      );
    });
  }

  /**
   * Asks the chain about every pending transaction (after a restart): mined ones settle; one the
   * chain no longer knows after `lostAfterMs` is failed as dropped. Errors reading the chain leave
   * them pending.
   */
  async recheck(provider: Provider, lostAfterMs = 10 * 60_000): Promise<void> {
    for (const t of this.txs.filter((x) => x.state === 'pending')) {
      try {
        const receipt = await provider.getTransactionReceipt(t.hash);
        if (receipt) {
          await this.settle(
            t.hash,
            receipt.status === 1
              ? { ok: true, blockNumber: receipt.blockNumber }
              : {
                  ok: false,
                  error: 'The transaction was reverted',
                  blockNumber: receipt.blockNumber,
                },
          );
        } else if (
          !(await provider.getTransaction(t.hash)) &&
          this.now().getTime() - Date.parse(t.sentAt) > lostAfterMs
        ) {
          await this.settle(t.hash, { ok: false, error: 'The chain dropped the transaction' });
        }
      } catch {
        // The chain is unreachable: the transaction stays pending until the next look.
      }
    }
  }

  private change(fn: () => void): Promise<void> {
    return this.queue.run(async () => {
      fn();
      const body = { format: FORMAT, version: 1, transactions: this.txs };
      await writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`, 0o600);
    });
  }
}
