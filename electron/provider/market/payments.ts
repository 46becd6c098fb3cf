// The provider's payments, wired into the market client. The chain it trusts comes from its own
// settings (settings.wallet.chain) or the command line (--chain-rpc/--chain-id/--hub), never
// from a gateway. A gateway that pays announces its payer after login (payer frame): it is
// checked against that chain and hub and its channel read from the node's own RPC before the
// node answers payer_ack. Each voucher is checked by the voucher book (wallet/vouchers.ts:
// domain, pinned hub, signer = the announced payer, monotonic, within the lock), stored durably,
// linked to the jobs it pays in the job record, and only then acknowledged. Offers pass the
// credit limit (wallet/credit.ts); the claimer (wallet/claimer.ts) watches the chain and claims
// on an unlock request, a threshold or a schedule. earnings() is the wallet.earnings API call.
import { join } from 'node:path';
import { Contract, JsonRpcProvider, Network, TypedDataEncoder } from 'ethers';
import { z } from 'zod';
import { IdlerigError } from '../../../shared/errors';
import type { ChainSettings, Earnings, WalletSettings } from '../../../shared/api/wallet';
import type {
  FrameOf,
  GatewayFrame,
  Payer,
  VoucherRejection,
} from '../../../shared/market-protocol';
import {
  claimableFrom,
  hubDomain,
  HUB_PROVIDER_ABI,
  VOUCHER_TYPES,
  voucherFromWire,
  voucherValue,
  type ChannelState,
} from '../../../shared/payments';
import type { JobRecorder } from '../jobs/types';
import type { ScopedLogger } from '../logs/logger';
import { SerialQueue, writeFileAtomic } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';
import { Claimer, type ClaimReason } from '../wallet/claimer';
import { creditDecision, type CreditRefusal } from '../wallet/credit';
import { hubContract, type HubWriter } from '../wallet/hub-reader';
import type { NodeKey } from '../wallet/node-key';
import { VOUCHERS_FILE, VoucherBook } from '../wallet/vouchers';
import type { OfferVerdict } from './jobs';

/** Which gateway each payer is, and its token's symbol and decimals (kept across restarts). */
export const PAYERS_FILE = 'payers.json';
const PayersSchema = z.object({
  format: z.literal('idlerig-payers'),
  version: z.literal(1),
  payers: z.array(
    z.object({
      gateway: z.string(),
      payer: z.string(),
      token: z.string(),
      symbol: z.string(),
      decimals: z.number().int(),
    }),
  ),
});
type PayerEntry = z.infer<typeof PayersSchema>['payers'][number];

type VoucherFrame = FrameOf<GatewayFrame, 'voucher'>;
export type VoucherAnswer =
  | { type: 'voucher_ack'; epoch: number; cumulative: string }
  | {
      type: 'voucher_rejected';
      reason: VoucherRejection;
      message: string;
      cumulative: string;
    };

export interface ProviderPaymentsOptions {
  dataDir: string;
  /** The chain from the command line, else settings.wallet.chain. */
  chain: () => ChainSettings | null;
  wallet: () => WalletSettings;
  key: () => Promise<NodeKey>;
  recorder: () => JobRecorder | null;
  log: ScopedLogger;
  /** How often the claimer reads the chain (default 5 s; IDLERIG_CLAIM_POLL_MS overrides). */
  claimPollMs?: number;
}

interface Live {
  chain: ChainSettings;
  rpc: JsonRpcProvider;
  address: string;
  hub: HubWriter;
  book: VoucherBook;
  claimer: Claimer;
  pollMs: number;
}

const REFUSALS: Record<CreditRefusal, string> = {
  'no-channel': 'NO_CHANNEL',
  unlocking: 'PAYER_LEAVING',
  'credit-limit': 'CREDIT_LIMIT',
  'lock-exhausted': 'LOCK_EXHAUSTED',
};
const REFUSAL_WORDS: Record<CreditRefusal, string> = {
  'no-channel': 'The gateway has locked nothing for this node yet',
  unlocking: 'The gateway asked to withdraw its lock; this node takes no more of its jobs',
  'credit-limit': 'Unclaimed earnings from this gateway reached the credit limit',
  'lock-exhausted': "The gateway's lock cannot cover this job",
};

const lower = (a: string): string => a.toLowerCase();
const chKey = (payer: string, token: string): string => `${lower(payer)}/${lower(token)}`;

export class ProviderPayments {
  private live: Live | null = null;
  private opening: Promise<Live | null> | null = null;
  private liveKey = '';
  private problem: string | null = null;
  /** The payer each connected gateway announced. */
  private readonly announced = new Map<string, Payer>();
  /** Channels as last read from the node's own RPC. */
  private readonly channels = new Map<string, ChannelState>();
  private payers: PayerEntry[] = [];
  private readonly payersQueue = new SerialQueue();
  private lastClaim: Earnings['lastClaim'] = null;
  private stopped = false;
  private watch: NodeJS.Timeout | null = null;

  constructor(private readonly o: ProviderPaymentsOptions) {}

  start(): void {
    void this.open().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
    // A connection still opening is closed by its own handler once it sees `stopped`.
    const live = this.live;
    this.live = null;
    if (live) {
      await live.claimer.stop();
      live.rpc.destroy();
    }
  }

  /** Settings changed: a new chain opens a new voucher book and claimer. */
  onSettings(): void {
    if (this.keyOf(this.o.chain()) !== this.liveKey) void this.open().catch(() => undefined);
  }

  private keyOf(c: ChainSettings | null): string {
    return c ? `${c.rpcUrl}|${c.chainId}|${lower(c.hub)}` : '';
  }

  private open(): Promise<Live | null> {
    const chain = this.o.chain();
    const key = this.keyOf(chain);
    if (key === this.liveKey && (this.live || this.opening)) {
      return this.live ? Promise.resolve(this.live) : (this.opening as Promise<Live | null>);
    }
    const old = this.live;
    this.live = null;
    if (old) void old.claimer.stop().then(() => old.rpc.destroy());
    this.liveKey = key;
    this.channels.clear();
    if (!chain) {
      this.problem =
        'No chain is set up for payments: set Settings → Wallet → chain, or run with --chain-rpc URL --hub ADDRESS';
      this.opening = null;
      return Promise.resolve(null);
    }
    const p = this.connect(chain).then(
      (live) => {
        if (this.liveKey !== key || this.stopped) {
          void live.claimer.stop().then(() => live.rpc.destroy());
          return null;
        }
        this.live = live;
        this.problem = null;
        // The channels of the gateways connected now are read as often as the claimer reads the
        // chain: an unlock request or a claim changes what the credit limit allows.
        if (this.watch) clearInterval(this.watch);
        this.watch = setInterval(() => {
          for (const a of this.announced.values())
            void this.refresh(a.address, a.token.address).catch(() => undefined);
        }, live.pollMs);
        this.watch.unref();
        return live;
      },
      (err: unknown) => {
        this.problem = (err as Error).message;
        this.o.log.warn('payments are not running', { error: this.problem });
        // Tried again at the next gateway frame or settings change.
        if (this.opening === p) this.opening = null;
        return null;
      },
    );
    this.opening = p;
    return p;
  }

  private async connect(chain: ChainSettings): Promise<Live> {
    const key = await this.o.key();
    const rpc = new JsonRpcProvider(chain.rpcUrl, Network.from(chain.chainId), {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 250,
    });
    try {
      let id: bigint;
      try {
        id = BigInt((await rpc.send('eth_chainId', [])) as string);
      } catch (err) {
        throw new IdlerigError(
          'CHAIN_UNAVAILABLE',
          `The chain at ${chain.rpcUrl} does not answer: ${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}`,
        );
      }
      if (id !== BigInt(chain.chainId)) {
        throw new IdlerigError(
          'INVALID_PARAMS',
          `The RPC at ${chain.rpcUrl} is chain ${id}, the settings say ${chain.chainId}`,
        );
      }
      const writer = hubContract(chain.hub, key.signer(rpc));
      const hub: HubWriter = {
        ...writer,
        claim: (vs) => this.claimTo(writer, key, rpc, chain, vs),
      };
      const warn = { warn: (obj: object, msg: string) => this.o.log.warn(msg, { ...obj }) };
      const book = await VoucherBook.open({
        file: join(this.o.dataDir, VOUCHERS_FILE),
        chainId: chain.chainId,
        hub: chain.hub,
        provider: key.address,
        reader: writer,
        log: warn,
      });
      await this.loadPayers();
      const wallet = (): WalletSettings => this.o.wallet();
      const claimer = new Claimer({
        hub,
        provider: key.address,
        vouchers: () => book.latest(),
        policy: {
          get threshold() {
            const t = wallet().claimThreshold;
            return t === null ? null : BigInt(t);
          },
          get scheduleMs() {
            const h = wallet().claimEveryHours;
            return h === null ? null : h * 3_600_000;
          },
          minClaim: 1n,
        },
        log: {
          info: (obj, msg) => {
            const c = obj as {
              reason?: ClaimReason;
              txHash?: string;
              amount?: string;
              channels?: number;
            };
            if (c.txHash && c.reason) {
              this.lastClaim = {
                at: new Date().toISOString(),
                reason: c.reason,
                txHash: c.txHash,
                amount: c.amount ?? '0',
                channels: c.channels ?? 0,
              };
            }
            this.o.log.info(msg, { ...obj });
          },
          warn: warn.warn,
        },
      });
      const envPoll = Number(process.env.IDLERIG_CLAIM_POLL_MS);
      const pollMs = this.o.claimPollMs ?? (envPoll > 0 ? envPoll : 5000);
      claimer.start(pollMs);
      return { chain, rpc, address: key.address, hub, book, claimer, pollMs };
    } catch (err) {
      rpc.destroy();
      throw err;
    }
  }

  /** Claims to the payout address from settings: the hub is told first when it differs. */
  private async claimTo(
    writer: HubWriter,
    key: NodeKey,
    rpc: JsonRpcProvider,
    chain: ChainSettings,
    vouchers: Parameters<HubWriter['claim']>[0],
  ) {
    const want = this.o.wallet().payoutAddress;
    if (want && lower(await writer.payoutOf(key.address)) !== lower(want)) {
      const hub = new Contract(chain.hub, HUB_PROVIDER_ABI, key.signer(rpc));
      try {
        await (await hub.getFunction('setPayout')(want)).wait();
      } catch (err) {
        throw new IdlerigError(
          'CHAIN_UNAVAILABLE',
          `Could not set the payout address: ${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}`,
        );
      }
      this.o.log.info('payout address set on the hub', { payout: want });
    }
    const receipt = await writer.claim(vouchers);
    for (const v of vouchers) void this.refresh(v.payer, v.token).catch(() => undefined);
    return receipt;
  }

  private async loadPayers(): Promise<void> {
    const r = await readJsonFile(join(this.o.dataDir, PAYERS_FILE), (raw) =>
      PayersSchema.parse(raw),
    );
    if (r.kind === 'ok') this.payers = r.value.payers;
    else if (r.kind === 'recovered')
      this.o.log.warn('the payers file was unusable and was kept aside', { backup: r.backup });
  }

  private remember(gateway: string, p: Payer): Promise<void> {
    return this.payersQueue.run(async () => {
      const known = this.payers.find(
        (e) => chKey(e.payer, e.token) === chKey(p.address, p.token.address),
      );
      if (known && known.gateway === gateway && known.symbol === p.token.symbol) return;
      const entry = {
        gateway,
        payer: p.address,
        token: p.token.address,
        symbol: p.token.symbol,
        decimals: p.token.decimals,
      };
      const next = [...this.payers.filter((e) => e !== known), entry];
      const body = { format: 'idlerig-payers', version: 1, payers: next };
      await writeFileAtomic(
        join(this.o.dataDir, PAYERS_FILE),
        `${JSON.stringify(body, null, 2)}\n`,
        0o600,
      );
      this.payers = next;
    });
  }

  private async refresh(payer: string, token: string): Promise<ChannelState | null> {
    const live = this.live;
    if (!live) return null;
    const ch = await live.hub.channel(payer, live.address, token);
    this.channels.set(chKey(payer, token), ch);
    return ch;
  }

  /** A gateway announced its payer: checked against this node's chain; its channel read. */
  async onPayer(gateway: string, p: Payer): Promise<{ ok: boolean; message: string }> {
    const live = await this.open();
    if (!live) return { ok: false, message: this.problem ?? 'Payments are not running' };
    if (p.chainId !== live.chain.chainId)
      return {
        ok: false,
        message: `This node is paid on chain ${live.chain.chainId}, not ${p.chainId}`,
      };
    if (lower(p.hub) !== lower(live.chain.hub))
      return { ok: false, message: `This node trusts the hub ${live.chain.hub}, not ${p.hub}` };
    this.announced.set(gateway, p);
    try {
      await this.remember(gateway, p);
      await this.refresh(p.address, p.token.address);
    } catch (err) {
      return { ok: false, message: (err as Error).message.slice(0, 1000) };
    }
    this.o.log.info('gateway payer announced', {
      gateway,
      payer: p.address,
      token: p.token.symbol,
    });
    return { ok: true, message: 'Payer checked on chain' };
  }

  /** The gateway's session ended: a payer is announced again at the next login. */
  onClosed(gateway: string): void {
    this.announced.delete(gateway);
  }

  /** The token a gateway pays in (for the job record), when it announced one. */
  tokenOf(gateway: string): { symbol: string; decimals: number; address: string } | null {
    const p = this.announced.get(gateway);
    return p ? { ...p.token } : null;
  }

  /** A voucher arrived: checked, stored durably and linked to its jobs before the answer. */
  async onVoucher(gateway: string, f: VoucherFrame): Promise<VoucherAnswer> {
    const cumulative = f.voucher.cumulative;
    const reject = (
      reason: Extract<VoucherAnswer, { type: 'voucher_rejected' }>['reason'],
      message: string,
    ): VoucherAnswer => ({
      type: 'voucher_rejected',
      reason,
      message: message.slice(0, 1024),
      cumulative,
    });
    const live = await this.open();
    if (!live) return reject('unpaid', this.problem ?? 'Payments are not running');
    const p = this.announced.get(gateway);
    if (!p) return reject('payer', 'No payer was announced on this connection');
    if (lower(f.voucher.token) !== lower(p.token.address)) {
      const message = `Voucher rejected: token ${f.voucher.token} is not the announced ${p.token.address}`;
      this.o.log.warn(message, { reason: 'token', gateway, payer: p.address });
      return reject('token', message);
    }
    let accepted;
    try {
      accepted = await live.book.accept(f.voucher, { payer: p.address });
    } catch (err) {
      if (err instanceof IdlerigError && err.code === 'VOUCHER_REJECTED') {
        const reason = (err.details as { reason?: string } | undefined)?.reason;
        return reject((reason ?? 'malformed') as VoucherRejection, err.message);
      }
      this.o.log.warn('a voucher could not be checked', { gateway, error: (err as Error).message });
      return reject('unavailable', (err as Error).message);
    }
    const v = accepted.voucher;
    if (f.jobIds.length > 0 || !accepted.repeat) {
      const { voucher } = voucherFromWire(f.voucher);
      const id = TypedDataEncoder.hash(
        hubDomain(live.chain.chainId, live.chain.hub),
        { Voucher: VOUCHER_TYPES.Voucher.map((x) => ({ ...x })) },
        voucherValue(voucher),
      );
      this.o.recorder()?.linkVoucher({
        voucherId: id,
        gateway,
        token: v.token,
        cumulative: v.cumulative,
        jobIds: f.jobIds,
      });
    }
    void this.refresh(v.payer, v.token).catch(() => undefined);
    return { type: 'voucher_ack', epoch: v.epoch, cumulative: v.cumulative.toString() };
  }

  /**
   * The credit limit on one offer from `gateway` whose worst case is `price`; null: no opinion
   * (payments are not set up, so the node serves as it did unpaid).
   */
  credit(gateway: string, price: bigint): OfferVerdict | null {
    if (!this.o.chain()) return null;
    const live = this.live;
    const p = this.announced.get(gateway);
    if (!live || !p)
      return {
        accept: false,
        reasonCode: 'UNPAID',
        reason: live
          ? 'This gateway does not pay on chain'
          : (this.problem ?? 'Payments are starting'),
      };
    const ch = this.channels.get(chKey(p.address, p.token.address));
    const latest = live.book.latestOf(p.address, p.token.address) ?? null;
    const limitText = this.o.wallet().creditLimit;
    const d = ch
      ? creditDecision({
          channel: ch,
          latest,
          limit: limitText === null ? 2n ** 255n : BigInt(limitText),
          price,
        })
      : { accept: false, reason: 'no-channel' as const };
    if (d.accept) return null;
    // What was read may be stale (a top-up since): read again for the next offer.
    void this.refresh(p.address, p.token.address).catch(() => undefined);
    const reason = d.reason ?? 'no-channel';
    return { accept: false, reasonCode: REFUSALS[reason], reason: REFUSAL_WORDS[reason] };
  }

  /** Claims everything owed now (the wallet's "claim now"). */
  async claimNow(): Promise<Earnings['lastClaim']> {
    const live = await this.open();
    if (!live) throw new IdlerigError('UNAVAILABLE', this.problem ?? 'Payments are not running');
    await live.claimer.claimNow();
    return this.lastClaim;
  }

  /** Earned / claimable / claimed per gateway and token, read from the node's own chain. */
  async earnings(): Promise<Earnings> {
    const live = await this.open().catch(() => null);
    const chain = this.o.chain();
    if (!live)
      return {
        problem: this.problem,
        chain,
        provider: null,
        channels: [],
        lastClaim: this.lastClaim,
      };
    const channels: Earnings['channels'] = [];
    let problem: string | null = null;
    for (const v of live.book.latest()) {
      const meta = this.payers.find((e) => chKey(e.payer, e.token) === chKey(v.payer, v.token));
      let ch: ChannelState | null;
      try {
        ch = await live.hub.channel(v.payer, live.address, v.token);
        this.channels.set(chKey(v.payer, v.token), ch);
      } catch (err) {
        problem = (err as Error).message;
        ch = this.channels.get(chKey(v.payer, v.token)) ?? null;
      }
      const earned = v.cumulative + v.earnedEarlier;
      const sameEpoch = ch !== null && ch.epoch === v.epoch;
      // Earlier epochs ended with a withdrawal; the watchtower claims before it, so they count
      // as claimed.
      const claimed = (sameEpoch ? (ch as ChannelState).claimed : 0n) + v.earnedEarlier;
      const claimable = ch ? claimableFrom(ch, v) : 0n;
      const rest = earned - claimed - claimable;
      channels.push({
        gateway: meta?.gateway ?? null,
        payer: v.payer,
        token: { address: v.token, symbol: meta?.symbol ?? '', decimals: meta?.decimals ?? 0 },
        epoch: v.epoch,
        earned: earned.toString(),
        claimable: claimable.toString(),
        claimed: claimed.toString(),
        unbacked: (rest > 0n ? rest : 0n).toString(),
        locked: (ch?.deposited ?? 0n).toString(),
        unlockAt: ch && ch.unlockAt > 0 ? ch.unlockAt : null,
        latestVoucherAt: v.receivedAt,
      });
    }
    return { problem, chain, provider: live.address, channels, lastClaim: this.lastClaim };
  }
}
