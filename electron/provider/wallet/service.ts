// The node's wallet: the hot node key (signs logins and receipts, pays the gas of claims) and the
// payout address where earnings go — the node key itself, a wallet kept here (payout-key.ts), or
// an external address. It reads balances and earnings from the node's own RPC, claims through the
// claimer (claimer.ts), withdraws (withdraw.ts) and keeps the transaction history (tx-history.ts).
// Secrets never leave this process: the API gets addresses, amounts and transactions; the only
// exception is the one-time mnemonic of a wallet being created.
import { join } from 'node:path';
import { Contract, JsonRpcProvider, Network, type Provider } from 'ethers';
import type {
  ChainSettings,
  Earnings,
  NewWallet,
  WalletAccount,
  WalletSettings,
  WalletStatus,
  WalletTx,
  WithdrawQuote,
} from '../../../shared/api/wallet';
import { IdlerigError } from '../../../shared/errors';
import { HUB_PROVIDER_ABI } from '../../../shared/payments';
import { Balances, chainError } from './balances';
import { hubContract } from './hub-reader';
import type { KeyProtection, NodeKey } from './node-key';
import { PayoutKeyStore } from './payout-key';
import { TX_HISTORY_FILE, TxHistory } from './tx-history';
import { settleWhenMined, Withdrawals, type WithdrawRequest } from './withdraw';

/** What the wallet needs of the node's payments (the voucher book and the claimer behind them). */
export interface WalletPayments {
  earnings(): Promise<Earnings>;
  /** Claims everything owed now through the claimer; the latest claim (maybe an older one). */
  claimNow(): Promise<Earnings['lastClaim']>;
}

export interface WalletServiceOptions {
  dataDir: string;
  /** How kept keys are protected at rest: the node key's protection. */
  protection: KeyProtection;
  nodeKey: () => Promise<NodeKey>;
  settings: () => WalletSettings;
  /** The chain payments run on (the command line's, else settings.wallet.chain). */
  chain: () => ChainSettings | null;
  setPayoutAddress: (address: string | null) => Promise<void>;
  /** The node's payments (market/payments.ts): earnings per channel, and claim now. */
  payments: () => WalletPayments | null;
  now?: () => Date;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

interface Chain {
  key: string;
  chainId: number;
  hub: string;
  provider: JsonRpcProvider;
  balances: Balances;
}

const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);

export class WalletService {
  readonly payoutKeys: PayoutKeyStore;
  private history: TxHistory | null = null;
  private chain: Chain | null = null;
  private readonly now: () => Date;

  constructor(private readonly opts: WalletServiceOptions) {
    this.now = opts.now ?? (() => new Date());
    this.payoutKeys = new PayoutKeyStore(opts.dataDir, opts.protection, this.now);
  }

  /** The transaction history, opened (and its pending transactions rechecked) on first use. */
  async txHistory(): Promise<TxHistory> {
    if (!this.history) {
      const h = await TxHistory.open(join(this.opts.dataDir, TX_HISTORY_FILE), this.now);
      if (h.recoveredFrom)
        this.opts.log?.warn(
          h.recoveredFrom,
          'The wallet transaction history was unusable and kept aside',
        );
      this.history ??= h;
      const chain = this.chainOrNull();
      if (chain) await this.history.recheck(chain.provider);
    }
    return this.history;
  }

  /** The configured chain's connection (made again when the settings change); null: none set. */
  private chainOrNull(): Chain | null {
    const cfg = this.opts.chain();
    if (!cfg) return null;
    const key = `${cfg.rpcUrl} ${cfg.chainId} ${cfg.hub}`;
    if (this.chain?.key === key) return this.chain;
    this.chain?.provider.destroy();
    const provider = new JsonRpcProvider(cfg.rpcUrl, Network.from(cfg.chainId), {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 250,
    });
    const balances = new Balances(provider);
    this.chain = { key, chainId: cfg.chainId, hub: cfg.hub, provider, balances };
    return this.chain;
  }

  private async requireChain(): Promise<Chain & { withdrawals: Withdrawals }> {
    const chain = this.chainOrNull();
    if (!chain)
      throw new IdlerigError(
        'UNAVAILABLE',
        'No payment chain is set up for this node yet (settings: wallet.chain)',
      );
    const history = await this.txHistory();
    return {
      ...chain,
      withdrawals: new Withdrawals(chain.provider, chain.balances, history, chain.chainId),
    };
  }

  // ---- status ---------------------------------------------------------------------------------

  async status(): Promise<WalletStatus> {
    const settings = this.opts.settings();
    const history = await this.txHistory();
    const transactions = history.list();
    // The chain the node uses: the settings', or the one given on the command line
    // (--chain-rpc/--hub), which the settings do not hold.
    const chainSettings = this.opts.chain();
    const out: WalletStatus = {
      problem: null,
      chainId: chainSettings?.chainId ?? null,
      hub: chainSettings?.hub ?? null,
      protection: null,
      node: null,
      payout: null,
      payoutOnChain: null,
      earnings: [],
      channels: [],
      transactions,
    };
    let nodeKey: NodeKey;
    try {
      nodeKey = await this.opts.nodeKey();
    } catch (err) {
      return { ...out, problem: err instanceof Error ? err.message : String(err) };
    }
    out.protection = nodeKey.protection;
    const appWallet = await this.payoutKeys.open().catch((err: unknown) => {
      out.problem = (err as Error).message;
      return null;
    });
    const payoutAddress = settings.payoutAddress ?? nodeKey.address;
    const payoutKind: WalletAccount['kind'] =
      settings.payoutAddress === null
        ? 'node-key'
        : appWallet && appWallet.address.toLowerCase() === payoutAddress.toLowerCase()
          ? 'app-wallet'
          : 'external';
    out.node = {
      role: 'node',
      address: nodeKey.address,
      kind: 'node-key',
      managed: true,
      balances: null,
    };
    out.payout = {
      role: 'payout',
      address: payoutAddress,
      kind: payoutKind,
      managed: payoutKind !== 'external',
      balances: null,
    };
    const chain = this.chainOrNull();
    if (!chain) {
      out.problem ??= 'No payment chain is set up for this node yet: nothing can be paid';
      return out;
    }
    const payments = this.opts.payments();
    try {
      const earnings = payments ? await payments.earnings() : null;
      if (earnings?.problem) out.problem = earnings.problem;
      const channels = earnings?.channels ?? [];
      out.channels = channels;
      // A claim the watchtower made by itself joins the history when the wallet first sees it.
      const watched = earnings?.lastClaim;
      if (watched && !history.get(watched.txHash)) {
        await this.recordClaim(chain, nodeKey, watched, channels);
        out.transactions = history.list();
      }
      const tokens = [
        ...new Map(channels.map((c) => [c.token.address.toLowerCase(), c.token.address])).values(),
      ];
      out.node.balances = await chain.balances.of(nodeKey.address, tokens);
      out.payout.balances =
        payoutAddress.toLowerCase() === nodeKey.address.toLowerCase()
          ? out.node.balances
          : await chain.balances.of(payoutAddress, tokens);
      out.payoutOnChain = await this.payoutOnChain(chain, nodeKey);
      for (const token of tokens) {
        const mine = channels.filter((c) => c.token.address.toLowerCase() === token.toLowerCase());
        const total = (f: 'earned' | 'claimable' | 'claimed'): string =>
          sum(mine.map((c) => BigInt(c[f]))).toString();
        const withdrawn = sum(
          transactions
            .filter((t) => t.kind === 'withdraw' && t.state === 'confirmed')
            .filter((t) => t.value?.token.address?.toLowerCase() === token.toLowerCase())
            .map((t) => BigInt(t.value!.amount)),
        );
        out.earnings.push({
          token: await chain.balances.token(token),
          earned: total('earned'),
          claimable: total('claimable'),
          claimed: total('claimed'),
          withdrawn: withdrawn.toString(),
        });
      }
    } catch (err) {
      out.problem = chainError('read the chain', err).message;
    }
    return out;
  }

  // ---- creating, importing, choosing the payout address ---------------------------------------

  /** A new wallet: its words shown once; saved as the payout only after confirmBackup. */
  create(): NewWallet {
    return this.payoutKeys.create();
  }

  async confirmBackup(pendingId: string, words: Record<string, string>): Promise<WalletStatus> {
    const key = await this.payoutKeys.confirm(pendingId, words);
    await this.usePayout(key.address);
    return this.status();
  }

  async importSecret(secret: { mnemonic: string } | { privateKey: string }): Promise<WalletStatus> {
    const key = await this.payoutKeys.importSecret(secret);
    await this.usePayout(key.address);
    return this.status();
  }

  /** Earnings go to `address` (an external one), or back to the node key (null). */
  async setPayout(address: string | null): Promise<WalletStatus> {
    await this.usePayout(address);
    return this.status();
  }

  private async usePayout(address: string | null): Promise<void> {
    await this.opts.setPayoutAddress(address);
    this.opts.log?.info({ payout: address ?? 'node key' }, 'payout address set');
    // Tell the hub at once where it is possible; otherwise the next claim does it first.
    await this.syncPayoutOnChain().catch((err: unknown) =>
      this.opts.log?.warn({ err: (err as Error).message }, 'payout address not yet set on chain'),
    );
  }

  /** Where the hub pays this node's claims (its own address when none is set). */
  private async payoutOnChain(chain: Chain, nodeKey: NodeKey): Promise<string> {
    const onChain = await hubContract(chain.hub, chain.provider).payoutOf(nodeKey.address);
    return /^0x0{40}$/.test(onChain) ? nodeKey.address : onChain;
  }

  /** Sets the hub's payout of this node to the settings' one if it differs (a 'payout' tx). */
  async syncPayoutOnChain(): Promise<WalletTx | null> {
    const chain = this.chainOrNull();
    if (!chain) return null;
    const nodeKey = await this.opts.nodeKey();
    const wanted = this.opts.settings().payoutAddress ?? nodeKey.address;
    const current = await this.payoutOnChain(chain, nodeKey);
    if (current.toLowerCase() === wanted.toLowerCase()) return null;
    const history = await this.txHistory();
    const c = new Contract(chain.hub, HUB_PROVIDER_ABI, nodeKey.signer(chain.provider));
    let sent;
    try {
      sent = await c.getFunction('setPayout')(wanted);
    } catch (err) {
      throw chainError('set the payout address on chain', err);
    }
    await history.add({
      hash: sent.hash as string,
      kind: 'payout',
      chainId: chain.chainId,
      from: nodeKey.address,
      to: chain.hub,
      value: null,
    });
    await settleWhenMined(history, sent.hash as string, () => sent.wait());
    const tx = history.get(sent.hash as string)!;
    if (tx.state === 'failed')
      throw new IdlerigError('CHAIN_UNAVAILABLE', `Setting the payout address failed: ${tx.error}`);
    return tx;
  }

  // ---- claims and withdrawals -----------------------------------------------------------------

  /** Claims everything claimable now in one transaction (to the payout address). */
  async claim(): Promise<WalletTx | null> {
    const chain = await this.requireChain();
    const payments = this.opts.payments();
    if (!payments) throw new IdlerigError('UNAVAILABLE', 'Payments are not running on this node');
    const nodeKey = await this.opts.nodeKey();
    await this.syncPayoutOnChain();
    const before = await payments.earnings();
    const owed = before.channels.filter((c) => BigInt(c.claimable) > 0n);
    if (owed.length === 0) return null;
    const previous = before.lastClaim?.txHash ?? null;
    const claim = await payments.claimNow();
    if (!claim || claim.txHash === previous) return null;
    return this.recordClaim(chain, nodeKey, claim, owed);
  }

  /** Adds a mined claim to the history, with what it collected when it was of one token. */
  private async recordClaim(
    chain: Chain,
    nodeKey: NodeKey,
    claim: NonNullable<Earnings['lastClaim']>,
    channels: Earnings['channels'],
  ): Promise<WalletTx> {
    const history = await this.txHistory();
    const owed = channels.filter((c) => BigInt(c.claimable) > 0n || BigInt(c.claimed) > 0n);
    const tokens = new Set(owed.map((c) => c.token.address.toLowerCase()));
    const value =
      tokens.size === 1
        ? { amount: claim.amount, token: await chain.balances.token(owed[0]!.token.address) }
        : null;
    await history.add({
      hash: claim.txHash,
      kind: 'claim',
      chainId: chain.chainId,
      from: nodeKey.address,
      to: chain.hub,
      value,
      sentAt: claim.at,
    });
    // The claimer returns once the claim is mined; its receipt says how it ended.
    await settleWhenMined(history, claim.txHash, () =>
      chain.provider.getTransactionReceipt(claim.txHash),
    );
    return history.get(claim.txHash)!;
  }

  /** The account withdrawals come from: the kept payout wallet if it is the payout, else the node key. */
  private async source(): Promise<NodeKey> {
    const nodeKey = await this.opts.nodeKey();
    const payout = this.opts.settings().payoutAddress;
    const kept = await this.payoutKeys.open();
    if (payout && kept && kept.address.toLowerCase() === payout.toLowerCase()) return kept;
    return nodeKey;
  }

  private async defaultToken(): Promise<string | null> {
    const earnings = await this.opts.payments()?.earnings();
    return earnings?.channels[0]?.token.address ?? null;
  }

  async withdrawQuote(req: WithdrawRequest): Promise<WithdrawQuote> {
    const chain = await this.requireChain();
    const from = await this.source();
    return (await chain.withdrawals.quote(from.address, req, await this.defaultToken())).quote;
  }

  async withdraw(req: WithdrawRequest): Promise<WalletTx> {
    const chain = await this.requireChain();
    const from = await this.source();
    const plan = await chain.withdrawals.quote(from.address, req, await this.defaultToken());
    const tx = await chain.withdrawals.send(from.signer(chain.provider), plan);
    this.opts.log?.info({ hash: tx.hash, to: tx.to, state: tx.state }, 'withdrawal sent');
    return tx;
  }

  /** The provider of the configured chain, for callers that read it too (null: none set). */
  provider(): Provider | null {
    return this.chainOrNull()?.provider ?? null;
  }

  stop(): void {
    this.chain?.provider.destroy();
    this.chain = null;
  }
}
