// Withdrawals: an amount of an earnings token (or of the gas coin) from an account this app holds
// the key of, to an external address. A quote says what would be sent, from which balance, and
// the estimated fee before anything is signed; the withdrawal itself is recorded as pending in the
// transaction history before it is waited for, then confirmed or failed.
import { getAddress, ZeroAddress, type Provider, type Signer } from 'ethers';
import type { WalletAmount, WalletTx, WithdrawQuote } from '../../../shared/api/wallet';
import { IdlerigError } from '../../../shared/errors';
import { formatTokenAmount } from '../../../shared/payments';
import { chainError, erc20, GAS_TOKEN, type Balances } from './balances';
import type { TxHistory } from './tx-history';

export interface WithdrawRequest {
  to: string;
  /** An ERC-20 address, or 'gas' for the chain's coin; absent: `defaultToken`. */
  token?: string;
  /** Smallest unit; absent: everything available (gas: everything but the fee). */
  amount?: string;
}

interface Plan {
  quote: WithdrawQuote;
  token: string | null;
  amount: bigint;
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const show = (a: WalletAmount): string =>
  formatTokenAmount(a.amount, a.token.decimals, a.token.symbol, { maxFraction: 6 });

export class Withdrawals {
  constructor(
    private readonly provider: Provider,
    private readonly balances: Balances,
    private readonly history: TxHistory,
    private readonly chainId: number,
  ) {}

  async quote(from: string, req: WithdrawRequest, defaultToken: string | null): Promise<Plan> {
    let to: string;
    try {
      to = getAddress(req.to.toLowerCase());
    } catch {
      throw new IdlerigError('INVALID_PARAMS', `Not an address: ${req.to}`);
    }
    if (to === ZeroAddress)
      throw new IdlerigError('INVALID_PARAMS', 'The zero address burns what it receives');
    if (to.toLowerCase() === from.toLowerCase())
      throw new IdlerigError('INVALID_PARAMS', 'That is the address the funds are already in');
    const tokenArg = req.token ?? defaultToken ?? 'gas';
    const token = tokenArg === 'gas' ? null : tokenArg;
    try {
      const fees = await this.provider.getFeeData();
      const maxFeePerGas = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
      const maxPriorityFeePerGas = fees.maxPriorityFeePerGas ?? 0n;
      const gasBalance = await this.provider.getBalance(from);
      const available = token
        ? await this.balances.tokenBalance(from, token)
        : { amount: gasBalance.toString(), token: GAS_TOKEN };
      const have = BigInt(available.amount);
      let gasLimit: bigint;
      let amount: bigint;
      if (token) {
        amount = req.amount !== undefined ? BigInt(req.amount) : have;
        this.checkAmount(amount, have, available);
        gasLimit = await erc20(token, this.provider)
          .getFunction('transfer')
          .estimateGas(to, amount, { from });
      } else {
        gasLimit = await this.provider.estimateGas({ from, to, value: 1n });
        const fee = gasLimit * maxFeePerGas;
        amount = req.amount !== undefined ? BigInt(req.amount) : have > fee ? have - fee : 0n;
        this.checkAmount(amount, have > fee ? have - fee : 0n, {
          ...available,
          amount: (have > fee ? have - fee : 0n).toString(),
        });
      }
      const fee = gasLimit * maxFeePerGas;
      const needGas = fee + (token ? 0n : amount);
      if (gasBalance < needGas)
        throw new IdlerigError(
          'INVALID_PARAMS',
          `Not enough ${GAS_TOKEN.symbol} for the fee: about ${show({ amount: fee.toString(), token: GAS_TOKEN })} is needed in ${from}`,
        );
      const info = token ? available.token : GAS_TOKEN;
      return {
        quote: {
          from,
          to,
          value: { amount: amount.toString(), token: info },
          available,
          gasLimit: gasLimit.toString(),
          fee: { amount: fee.toString(), token: GAS_TOKEN },
        },
        token,
        amount,
        gasLimit,
        maxFeePerGas,
        maxPriorityFeePerGas,
      };
    } catch (err) {
      throw chainError('prepare the withdrawal', err);
    }
  }

  private checkAmount(amount: bigint, have: bigint, available: WalletAmount): void {
    if (amount <= 0n) throw new IdlerigError('INVALID_PARAMS', 'There is nothing to withdraw');
    if (amount > have)
      throw new IdlerigError(
        'INVALID_PARAMS',
        `That is more than the ${show(available)} available`,
      );
  }

  /** Sends the withdrawal `plan` describes from `signer` and waits for it to be mined. */
  async send(signer: Signer, plan: Plan): Promise<WalletTx> {
    const overrides = {
      gasLimit: plan.gasLimit,
      ...(plan.maxFeePerGas > 0n
        ? { maxFeePerGas: plan.maxFeePerGas, maxPriorityFeePerGas: plan.maxPriorityFeePerGas }
        : {}),
    };
    let sent;
    try {
      sent = plan.token
        ? await erc20(plan.token, signer).getFunction('transfer')(
            plan.quote.to,
            plan.amount,
            overrides,
          )
        : await signer.sendTransaction({ to: plan.quote.to, value: plan.amount, ...overrides });
    } catch (err) {
      throw chainError('send the withdrawal', err);
    }
    const hash = sent.hash as string;
    await this.history.add({
      hash,
      kind: 'withdraw',
      chainId: this.chainId,
      from: plan.quote.from,
      to: plan.quote.to,
      value: plan.quote.value,
    });
    await settleWhenMined(this.history, hash, () => sent.wait());
    return this.history.get(hash)!;
  }
}

/** Waits for a recorded transaction and settles it in the history (reverted: failed, in words). */
export async function settleWhenMined(
  history: TxHistory,
  hash: string,
  wait: () => Promise<{ status: number | null; blockNumber: number } | null>,
): Promise<void> {
  try {
    const receipt = await wait();
    if (!receipt) await history.settle(hash, { ok: false, error: 'The chain dropped it' });
    else if (receipt.status === 1)
      await history.settle(hash, { ok: true, blockNumber: receipt.blockNumber });
    else
      await history.settle(hash, {
        ok: false,
        error: 'The transaction was reverted',
        blockNumber: receipt.blockNumber,
      });
  } catch (err) {
    const e = err as { shortMessage?: string; message?: string; receipt?: { blockNumber: number } };
    await history.settle(hash, {
      ok: false,
      error: e.shortMessage ?? e.message ?? String(err),
      ...(e.receipt ? { blockNumber: e.receipt.blockNumber } : {}),
    });
  }
}
