// Balances the wallet shows: the chain's gas coin and the earnings tokens (ERC-20), read from the
// node's own RPC. Token symbols and decimals are read once per token and kept.
import { Contract, type ContractRunner, type Provider } from 'ethers';
import type { WalletAmount, TokenInfo } from '../../../shared/api/wallet';
import { IdlerigError } from '../../../shared/errors';

/** The ERC-20 calls the wallet makes (human-readable ABI; the node never imports contracts/). */
export const ERC20_ABI = [
  'function balanceOf(address owner) view returns (uint256)',
  'function decimals() view returns (uint8)',
  'function symbol() view returns (string)',
  'function transfer(address to, uint256 amount) returns (bool)',
] as const;

export const GAS_TOKEN: TokenInfo = { address: null, symbol: 'ETH', decimals: 18 };

export function erc20(address: string, runner: ContractRunner): Contract {
  return new Contract(address, ERC20_ABI, runner);
}

export function chainError(what: string, err: unknown): IdlerigError {
  if (err instanceof IdlerigError) return err;
  const e = err as { shortMessage?: string; message?: string };
  return new IdlerigError(
    'CHAIN_UNAVAILABLE',
    `Could not ${what}: ${e?.shortMessage ?? e?.message ?? String(err)}`,
  );
}

export class Balances {
  private readonly tokens = new Map<string, TokenInfo>();

  constructor(private readonly provider: Provider) {}

  /** Symbol and decimals of an ERC-20 token (read once). */
  async token(address: string): Promise<TokenInfo> {
    const key = address.toLowerCase();
    const known = this.tokens.get(key);
    if (known) return known;
    try {
      const c = erc20(address, this.provider);
      const [symbol, decimals] = await Promise.all([
        c.getFunction('symbol')() as Promise<string>,
        c.getFunction('decimals')() as Promise<bigint>,
      ]);
      const info: TokenInfo = { address, symbol, decimals: Number(decimals) };
      this.tokens.set(key, info);
      return info;
    } catch (err) {
      throw chainError(`read the token ${address}`, err);
    }
  }

  /** The gas coin's balance, then each token's, of `owner`. */
  async of(owner: string, tokens: readonly string[]): Promise<WalletAmount[]> {
    try {
      const out: WalletAmount[] = [
        { amount: (await this.provider.getBalance(owner)).toString(), token: GAS_TOKEN },
      ];
      for (const t of tokens) out.push(await this.tokenBalance(owner, t));
      return out;
    } catch (err) {
      throw chainError('read the balances', err);
    }
  }

  async tokenBalance(owner: string, token: string): Promise<WalletAmount> {
    const info = await this.token(token);
    const amount = (await erc20(token, this.provider).getFunction('balanceOf')(owner)) as bigint;
    return { amount: amount.toString(), token: info };
  }
}
