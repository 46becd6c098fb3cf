// The provider's voucher book: every voucher a gateway sends is checked here, and the latest one
// of each channel is written durably (write-file-atomic: temp file, fsync, rename, folder fsync)
// BEFORE the node acknowledges it, so a crash never loses what was earned.
//
// Checks, in order (a failure is a VOUCHER_REJECTED error with details.reason, logged):
//   malformed  the wire form (shared/payments.ts SignedVoucherWireSchema)
//   chain      the chain id is the one this node is configured for
//   contract   the hub is the pinned contract address
//   provider   the voucher pays this node's address
//   payer      the signer named is the gateway's announced payer
//   token      the token is one this node accepts
//   signature  the EIP-712 signature recovers to that payer (low-s, 65 bytes)
//   epoch      the channel's current epoch, as read from this node's own RPC
//   over-lock  the cumulative amount is within what the payer has locked on chain
//   decreased  the cumulative amount never goes down within an epoch
// A voucher equal to the stored one is a harmless repeat (acknowledged, nothing written).
//
// File (data folder/vouchers.json): { format, version: 1, channels: [...] }, one entry per
// (chainId, hub, payer, provider, token) with the latest voucher of the current epoch and the
// final cumulative of each earlier epoch. A damaged file is kept aside (json-file.ts), and the
// caller is told.
import { verifyTypedData } from 'ethers';
import { z } from 'zod';
import { IdlerigError } from '../../../shared/errors';
import {
  hubDomain,
  voucherFromWire,
  VOUCHER_TYPES,
  voucherValue,
  type SignedVoucher,
} from '../../../shared/payments';
import { SerialQueue, writeFileAtomic } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';
import type { HubReader } from './hub-reader';

export const VOUCHERS_FILE = 'vouchers.json';
const FORMAT = 'idlerig-vouchers';

export type RejectReason =
  | 'malformed'
  | 'chain'
  | 'contract'
  | 'provider'
  | 'payer'
  | 'token'
  | 'signature'
  | 'epoch'
  | 'over-lock'
  | 'decreased';

const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const Decimal = z.string().regex(/^(0|[1-9]\d{0,77})$/);
const EntrySchema = z.object({
  chainId: z.number().int().positive(),
  hub: Address,
  payer: Address,
  provider: Address,
  token: Address,
  epoch: z.number().int().nonnegative(),
  cumulative: Decimal,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  receivedAt: z.string(),
  /** Final cumulative of each earlier epoch (what it earned). */
  earlier: z.array(z.object({ epoch: z.number().int().nonnegative(), cumulative: Decimal })),
});
type Entry = z.infer<typeof EntrySchema>;
const FileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  channels: z.array(EntrySchema),
});

export interface StoredVoucher extends SignedVoucher {
  chainId: number;
  hub: string;
  receivedAt: string;
  /** What earlier epochs of this channel earned in all (their final cumulatives). */
  earnedEarlier: bigint;
}

export interface VoucherBookConfig {
  /** data folder/vouchers.json */
  file: string;
  /** The chain this node is configured for and the pinned hub on it. */
  chainId: number;
  hub: string;
  /** This node's address (the node key's): vouchers must pay it. */
  provider: string;
  /** Tokens accepted; empty or absent: any token the hub holds a channel in. */
  tokens?: string[];
  /** The node's own reader of the chain. */
  reader: HubReader;
  log?: { warn(obj: object, msg: string): void };
  now?: () => Date;
}

export interface Accepted {
  voucher: StoredVoucher;
  /** What this voucher adds to the previous one of its channel (0n for a repeat). */
  increase: bigint;
  repeat: boolean;
}

const lower = (a: string): string => a.toLowerCase();

export class VoucherBook {
  private readonly queue = new SerialQueue();
  private entries: Entry[];
  /** Set when the file was unusable at open: where it was kept and why. */
  readonly recoveredFrom: { backup: string; problem: string } | undefined;

  private constructor(
    private readonly cfg: VoucherBookConfig,
    entries: Entry[],
    recoveredFrom?: { backup: string; problem: string },
  ) {
    this.entries = entries;
    this.recoveredFrom = recoveredFrom;
  }

  static async open(cfg: VoucherBookConfig): Promise<VoucherBook> {
    const read = await readJsonFile(cfg.file, (raw) => FileSchema.parse(raw), cfg.now);
    if (read.kind === 'ok') return new VoucherBook(cfg, read.value.channels);
    if (read.kind === 'recovered') {
      cfg.log?.warn(
        { backup: read.backup, problem: read.problem },
        'The voucher file was unusable and was kept aside',
      );
      return new VoucherBook(cfg, [], { backup: read.backup, problem: read.problem });
    }
    return new VoucherBook(cfg, []);
  }

  /** The latest voucher of every channel on the configured chain and hub. */
  latest(): StoredVoucher[] {
    return this.entries.filter((e) => this.isOurs(e)).map(toStored);
  }

  /** The latest voucher from `payer` in `token`, if any. */
  latestOf(payer: string, token: string): StoredVoucher | undefined {
    const e = this.find(payer, token);
    return e ? toStored(e) : undefined;
  }

  /**
   * Checks a voucher a gateway sent (its wire form) from the announced `payer`, and stores it if
   * it is the channel's new latest. Resolves only once it is on disk.
   */
  accept(input: unknown, announced: { payer: string }): Promise<Accepted> {
    return this.queue.run(async () => {
      try {
        return await this.check(input, announced);
      } catch (err) {
        if (err instanceof IdlerigError && err.code === 'VOUCHER_REJECTED') {
          this.cfg.log?.warn({ ...(err.details as object), payer: announced.payer }, err.message);
        }
        throw err;
      }
    });
  }

  private async check(input: unknown, announced: { payer: string }): Promise<Accepted> {
    const reject = (reason: RejectReason, message: string, extra: object = {}): never => {
      throw new IdlerigError('VOUCHER_REJECTED', `Voucher rejected: ${message}`, {
        reason,
        ...extra,
      });
    };
    let parsed: ReturnType<typeof voucherFromWire>;
    try {
      parsed = voucherFromWire(input);
    } catch (err) {
      return reject('malformed', err instanceof Error ? err.message : String(err));
    }
    const { chainId, hub, voucher: v } = parsed;
    const cfg = this.cfg;
    if (chainId !== cfg.chainId)
      reject('chain', `it is for chain ${chainId}, this node is on ${cfg.chainId}`);
    if (lower(hub) !== lower(cfg.hub))
      reject('contract', `it is for contract ${hub}, not the pinned ${cfg.hub}`);
    if (lower(v.provider) !== lower(cfg.provider))
      reject('provider', `it pays ${v.provider}, not this node`);
    if (lower(v.payer) !== lower(announced.payer)) {
      reject('payer', `it names payer ${v.payer}, the gateway announced ${announced.payer}`);
    }
    if (cfg.tokens?.length && !cfg.tokens.some((t) => lower(t) === lower(v.token))) {
      reject('token', `token ${v.token} is not accepted`);
    }
    let signer = '';
    try {
      signer = verifyTypedData(
        hubDomain(cfg.chainId, cfg.hub),
        { Voucher: VOUCHER_TYPES.Voucher.map((f) => ({ ...f })) },
        voucherValue(v),
        v.signature,
      );
    } catch {
      reject('signature', 'the signature is not valid');
    }
    if (lower(signer) !== lower(v.payer))
      reject('signature', `it was signed by ${signer}, not the payer`);

    const previous = this.find(v.payer, v.token);
    if (previous && previous.epoch === v.epoch && BigInt(previous.cumulative) === v.cumulative) {
      return { voucher: toStored(previous), increase: 0n, repeat: true };
    }
    const ch = await cfg.reader.channel(v.payer, cfg.provider, v.token); // CHAIN_UNAVAILABLE if down
    if (v.epoch !== ch.epoch)
      reject('epoch', `it is for epoch ${v.epoch}, the channel is in ${ch.epoch}`);
    if (v.cumulative > ch.deposited) {
      reject('over-lock', `it promises ${v.cumulative}, only ${ch.deposited} is locked`, {
        cumulative: v.cumulative.toString(),
        deposited: ch.deposited.toString(),
      });
    }
    let earlier = previous?.earlier ?? [];
    let base = 0n;
    if (previous && previous.epoch === v.epoch) {
      base = BigInt(previous.cumulative);
      if (v.cumulative < base) {
        reject('decreased', `it promises ${v.cumulative}, less than the ${base} already promised`);
      }
    } else if (previous) {
      if (v.epoch < previous.epoch)
        reject('epoch', `epoch ${v.epoch} is older than ${previous.epoch}`);
      earlier = [...earlier, { epoch: previous.epoch, cumulative: previous.cumulative }];
    }
    const entry: Entry = {
      chainId: cfg.chainId,
      hub: cfg.hub,
      payer: v.payer,
      provider: cfg.provider,
      token: v.token,
      epoch: v.epoch,
      cumulative: v.cumulative.toString(),
      signature: v.signature,
      receivedAt: (cfg.now?.() ?? new Date()).toISOString(),
      earlier,
    };
    const next = [...this.entries.filter((e) => e !== previous), entry];
    await this.write(next);
    this.entries = next;
    return { voucher: toStored(entry), increase: v.cumulative - base, repeat: false };
  }

  private isOurs(e: Entry): boolean {
    return (
      e.chainId === this.cfg.chainId &&
      lower(e.hub) === lower(this.cfg.hub) &&
      lower(e.provider) === lower(this.cfg.provider)
    );
  }

  private find(payer: string, token: string): Entry | undefined {
    return this.entries.find(
      (e) => this.isOurs(e) && lower(e.payer) === lower(payer) && lower(e.token) === lower(token),
    );
  }

  private async write(channels: Entry[]): Promise<void> {
    const body = { format: FORMAT, version: 1, channels };
    await writeFileAtomic(this.cfg.file, `${JSON.stringify(body, null, 2)}\n`, 0o600);
  }
}

function toStored(e: Entry): StoredVoucher {
  return {
    chainId: e.chainId,
    hub: e.hub,
    payer: e.payer,
    provider: e.provider,
    token: e.token,
    epoch: e.epoch,
    cumulative: BigInt(e.cumulative),
    signature: e.signature,
    receivedAt: e.receivedAt,
    earnedEarlier: e.earlier.reduce((sum, x) => sum + BigInt(x.cumulative), 0n),
  };
}
