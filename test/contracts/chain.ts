// Test fixture for the payment contracts: one anvil per test file, its funded dev accounts as
// ethers wallets, and a deployed demo token + hub.
import { HDNodeWallet, type Wallet } from 'ethers';
import { ANVIL_MNEMONIC, startAnvil, type Anvil } from '../../contracts/anvil';
import {
  deployDemoToken,
  deployHub,
  HubClient,
  revertName,
  TokenClient,
} from '../../contracts/client';

export const UNLOCK_DELAY = 3600;

export function devWallet(anvil: Anvil, index: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(
    anvil.provider,
  );
}

export interface Deployed {
  anvil: Anvil;
  owner: HDNodeWallet;
  hubAddress: string;
  tokenAddress: string;
  /** The hub as `w` sees it. */
  hub(w: HDNodeWallet | Wallet): HubClient;
  token(w: HDNodeWallet | Wallet): TokenClient;
}

/** Deploys a demo token (6 decimals) and a hub that allows it, from dev account 0. */
export async function deploy(anvil: Anvil): Promise<Deployed> {
  const owner = devWallet(anvil, 0);
  const tokenAddress = await deployDemoToken(owner, { decimals: 6 });
  const hubAddress = await deployHub(owner, { unlockDelay: UNLOCK_DELAY, tokens: [tokenAddress] });
  return {
    anvil,
    owner,
    hubAddress,
    tokenAddress,
    hub: (w) => new HubClient(hubAddress, w),
    token: (w) => new TokenClient(tokenAddress, w),
  };
}

export async function startChain(chainId?: number): Promise<Deployed> {
  const anvil = await startAnvil({ accounts: 20, ...(chainId ? { chainId } : {}) });
  try {
    return await deploy(anvil);
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/** The error name a failed call reverted with (the hub's custom errors, OpenZeppelin's). */
export async function revertOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return revertName(err) ?? (err as { shortMessage?: string }).shortMessage ?? String(err);
  }
  throw new Error('expected the call to revert, but it succeeded');
}
