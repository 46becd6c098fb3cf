// The demo chain: anvil on loopback with its state in the data folder (a second run resumes the
// same chain), the payment hub and the demo token deployed once (found again on a resumed
// chain), and the gateway operator and the demo requester funded from anvil's dev accounts.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HDNodeWallet, Wallet, parseEther, parseUnits, type JsonRpcProvider } from 'ethers';
import { ANVIL_MNEMONIC, startAnvil, type Anvil } from '../../contracts/anvil';
import { TokenClient, deployDemoToken, deployHub } from '../../contracts/client';
import { keepAside } from '../provider/util/json-file';
import type { DevnetState } from './state';

/** The demo token: 18 decimals and the symbol the node's pricing settings default to. */
export const DEMO_TOKEN = { name: 'Idlerig Demo Token', symbol: 'IDLE', decimals: 18 };
/** The hub's unlock timelock on the demo chain (seconds). */
export const DEMO_UNLOCK_DELAY_S = 3600;
const OPERATOR_FLOAT = parseUnits('1000000', DEMO_TOKEN.decimals);
const REQUESTER_FLOAT = parseUnits('10000', DEMO_TOKEN.decimals);

/** anvil's dev accounts: 0 deploys and owns, 1 is the gateway operator, 2 the requester. */
export function devAccount(index: number, provider?: JsonRpcProvider): Wallet {
  const hd = HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
  return new Wallet(hd.privateKey, provider ?? null);
}

export interface DemoChain {
  anvil: Anvil;
  hub: string;
  token: string;
  /** Whether this run resumed a chain with the contracts already there. */
  resumed: boolean;
  operator: Wallet;
  requester: Wallet;
  /** Sends gas money to an address that has less than half of `eth`. */
  fundGas(address: string, eth?: string): Promise<void>;
}

async function hasCode(p: JsonRpcProvider, address: string | null): Promise<boolean> {
  return address !== null && (await p.getCode(address)) !== '0x';
}

export async function startDemoChain(
  state: DevnetState,
  opts: { port?: number; stateFile: string; note: (msg: string) => void },
): Promise<DemoChain> {
  await mkdir(dirname(opts.stateFile), { recursive: true });
  const start = (): Promise<Anvil> =>
    startAnvil({
      chainId: state.chainId,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      stateFile: opts.stateFile,
      stateIntervalS: 5,
      detached: true,
    });
  let anvil: Anvil;
  try {
    anvil = await start();
  } catch (err) {
    // A state file anvil cannot load: kept aside, and a new chain.
    if (!existsSync(opts.stateFile)) throw err;
    const backup = await keepAside(opts.stateFile);
    opts.note(`the chain state could not be loaded (${(err as Error).message}); kept as ${backup}`);
    anvil = await start();
  }
  try {
    const p = anvil.provider;
    const deployer = devAccount(0, p);
    const operator = devAccount(1, p);
    const requester = devAccount(2, p);
    const resumed = (await hasCode(p, state.hub)) && (await hasCode(p, state.token));
    if (!resumed && state.hub)
      opts.note('the saved chain has no contracts (its state file was lost); deploying anew');
    if (!resumed) {
      state.token = await deployDemoToken(deployer, DEMO_TOKEN);
      state.hub = await deployHub(deployer, {
        unlockDelay: DEMO_UNLOCK_DELAY_S,
        tokens: [state.token],
      });
    }
    const token = new TokenClient(state.token!, deployer);
    for (const [who, float] of [
      [operator, OPERATOR_FLOAT],
      [requester, REQUESTER_FLOAT],
    ] as const) {
      const have = await token.balanceOf(who.address);
      if (have < float / 2n) await token.mint(who.address, float - have);
    }
    return {
      anvil,
      hub: state.hub!,
      token: state.token!,
      resumed,
      operator,
      requester,
      async fundGas(address, eth = '1') {
        const want = parseEther(eth);
        if ((await p.getBalance(address)) >= want / 2n) return;
        const tx = await deployer.sendTransaction({ to: address, value: want });
        await tx.wait();
      },
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}
