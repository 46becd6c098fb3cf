// The gateway's chain options turned into a payer: the operator wallet (IDLERIG_OPERATOR_KEY, or a
// keystore and IDLERIG_OPERATOR_PASSPHRASE) on the RPC, the hub and token checked on chain (the
// chain id is the RPC's, the token's symbol and decimals are read from it), the payer ledger in
// the data folder, and the hook that pays providers (dispatch-hook.ts).
import { join } from 'node:path';
import { IdlerigError } from '../../shared/errors';
import { rpcProvider } from '../../contracts/anvil';
import { HubClient, TokenClient } from '../../contracts/client';
import { PayerLedger } from './ledger';
import { loadOperatorWallet } from './operator-wallet';
import { ChannelPayer } from './payer';
import { PaymentsHook } from './dispatch-hook';

export const PAYER_LEDGER_FILE = 'payer-ledger.json';

export interface ChainOptions {
  rpcUrl: string;
  hub: string;
  token: string;
  /** The operator keystore (else IDLERIG_OPERATOR_KEY). */
  keystoreFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Locked per provider (smallest unit); default 1,000 whole tokens. */
  deposit?: bigint;
  /** Top up below this; default a quarter of the deposit. */
  lowWater?: bigint;
  streamIntervalMs?: number;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

async function chainIdOf(rpcUrl: string): Promise<bigint> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new IdlerigError(
      'CHAIN_UNAVAILABLE',
      `The chain at ${rpcUrl} does not answer: ${(err as Error).message}`,
    );
  }
  const body = (await res.json().catch(() => null)) as { result?: string } | null;
  if (!res.ok || typeof body?.result !== 'string')
    throw new IdlerigError('CHAIN_UNAVAILABLE', `${rpcUrl} is not an Ethereum JSON-RPC endpoint`);
  return BigInt(body.result);
}

export async function openGatewayPayments(
  o: ChainOptions,
  dataDir: string,
  log?: ConstructorParameters<typeof PaymentsHook>[0]['log'],
): Promise<PaymentsHook> {
  if (!ADDRESS.test(o.hub))
    throw new IdlerigError('INVALID_PARAMS', `--hub ${o.hub} is not an address`);
  if (!ADDRESS.test(o.token))
    throw new IdlerigError('INVALID_PARAMS', `--token ${o.token} is not an address`);
  const chainId = await chainIdOf(o.rpcUrl);
  const provider = rpcProvider(o.rpcUrl, chainId);
  const wallet = await loadOperatorWallet({
    ...(o.env ? { env: o.env } : {}),
    ...(o.keystoreFile ? { keystoreFile: o.keystoreFile } : {}),
    provider,
  });
  const hub = new HubClient(o.hub, wallet);
  const token = new TokenClient(o.token, provider);
  let symbol: string;
  let decimals: number;
  try {
    if (!(await hub.tokenAllowed(o.token)))
      throw new IdlerigError('INVALID_PARAMS', `The hub ${o.hub} does not accept token ${o.token}`);
    [symbol, decimals] = await Promise.all([token.symbol(), token.decimals()]);
  } catch (err) {
    if (err instanceof IdlerigError) throw err;
    throw new IdlerigError(
      'CHAIN_UNAVAILABLE',
      `The hub or token could not be read on chain ${chainId}: ${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}`,
    );
  }
  const ledger = await PayerLedger.open(join(dataDir, PAYER_LEDGER_FILE));
  if (ledger.recoveredFrom)
    log?.('warn', 'the payer ledger was unusable and was kept aside', { ...ledger.recoveredFrom });
  const payer = new ChannelPayer({ wallet, hub, token: o.token, chainId, ledger });
  const deposit = o.deposit ?? 1000n * 10n ** BigInt(decimals);
  return new PaymentsHook({
    payer,
    announce: {
      address: wallet.address,
      chainId: Number(chainId),
      hub: o.hub,
      token: { address: o.token, symbol: symbol.slice(0, 32), decimals },
    },
    deposit,
    lowWater: o.lowWater ?? deposit / 4n,
    streamIntervalMs: o.streamIntervalMs ?? 3000,
    ...(log ? { log } : {}),
  });
}
