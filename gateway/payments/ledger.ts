// The payer's record of every channel it pays: the epoch, what is locked, the cumulative amount
// it has signed (never signed lower again) and what it owes in all (more than it signed when the
// lock ran out). One JSON file written atomically with fsync before a voucher leaves the gateway.
// A damaged file is kept aside and reported; the channels are then rebuilt from the chain and
// from the providers' latest vouchers (ChannelPayer.adopt).
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';

const Decimal = z.string().regex(/^(0|[1-9]\d{0,77})$/);
const ChannelSchema = z.object({
  provider: z.string(),
  token: z.string(),
  epoch: z.number().int().nonnegative(),
  deposited: Decimal,
  signed: Decimal,
  owed: Decimal,
  signature: z.string().nullable(),
});
const FileSchema = z.object({
  format: z.literal('idlerig-payer-ledger'),
  version: z.literal(1),
  channels: z.array(ChannelSchema),
});

export interface PayerChannel {
  provider: string;
  token: string;
  epoch: number;
  deposited: bigint;
  /** The cumulative amount of the latest voucher signed (its signature beside it). */
  signed: bigint;
  /** All that the provider earned in this epoch; above `signed` only when the lock ran out. */
  owed: bigint;
  signature: string | null;
}

const key = (provider: string, token: string): string =>
  `${provider.toLowerCase()}/${token.toLowerCase()}`;

export class PayerLedger {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly channels: Map<string, PayerChannel>,
    readonly recoveredFrom: { backup: string; problem: string } | undefined,
  ) {}

  static async open(file: string, now: () => Date = () => new Date()): Promise<PayerLedger> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return new PayerLedger(file, new Map(), undefined);
      throw err;
    }
    try {
      const parsed = FileSchema.parse(JSON.parse(text));
      const map = new Map<string, PayerChannel>();
      for (const c of parsed.channels) {
        map.set(key(c.provider, c.token), {
          ...c,
          deposited: BigInt(c.deposited),
          signed: BigInt(c.signed),
          owed: BigInt(c.owed),
        });
      }
      return new PayerLedger(file, map, undefined);
    } catch (err) {
      const stamp = now().toISOString().replace(/[:.]/g, '-');
      let backup = `${file}.corrupt-${stamp}`;
      for (let n = 2; existsSync(backup); n++) backup = `${file}.corrupt-${stamp}-${n}`;
      await rename(file, backup);
      const problem =
        err instanceof SyntaxError ? `not valid JSON (${err.message})` : 'invalid content';
      return new PayerLedger(file, new Map(), { backup, problem });
    }
  }

  get(provider: string, token: string): PayerChannel | undefined {
    const c = this.channels.get(key(provider, token));
    return c ? { ...c } : undefined;
  }

  all(): PayerChannel[] {
    return [...this.channels.values()].map((c) => ({ ...c }));
  }

  /** Records a channel's new state; resolves once it is on disk. Writes never overlap. */
  put(c: PayerChannel): Promise<void> {
    const run = async (): Promise<void> => {
      const next = new Map(this.channels).set(key(c.provider, c.token), { ...c });
      const body = {
        format: 'idlerig-payer-ledger',
        version: 1,
        channels: [...next.values()].map((x) => ({
          ...x,
          deposited: x.deposited.toString(),
          signed: x.signed.toString(),
          owed: x.owed.toString(),
        })),
      };
      await writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`, {
        mode: 0o600,
        fsync: true,
      });
      this.channels.set(key(c.provider, c.token), { ...c });
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }
}
