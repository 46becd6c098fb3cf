// What the demo network keeps in its data folder between runs, and where:
//   DIR/devnet.json      chain id, contract addresses, the demo API key and the demo node key's
//                        passphrase (a demo's secrets: mode 0600, never a real network's)
//   DIR/chain/state.json the anvil chain (anvil --state: loaded at start, dumped at exit and
//                        every few seconds)
//   DIR/gateway/         the gateway's data folder;  DIR/provider/  the provider node's
//   DIR/prices.json      the gateway's prices (written at every start)
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { readJsonFile } from '../provider/util/json-file';
import { writeFileAtomic } from '../provider/util/atomic-write';

const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

export const DevnetStateSchema = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  hub: Address.nullable(),
  token: Address.nullable(),
  apiKey: z.string().nullable(),
  keyPassphrase: z.string().min(16),
  createdAt: z.string(),
});
export type DevnetState = z.infer<typeof DevnetStateSchema>;

export interface DevnetLayout {
  root: string;
  stateFile: string;
  chainState: string;
  gateway: string;
  provider: string;
  prices: string;
  lock: string;
}

export function devnetLayout(root: string): DevnetLayout {
  return {
    root,
    stateFile: join(root, 'devnet.json'),
    chainState: join(root, 'chain', 'state.json'),
    gateway: join(root, 'gateway'),
    provider: join(root, 'provider'),
    prices: join(root, 'prices.json'),
    lock: join(root, 'devnet'),
  };
}

export const DEMO_CHAIN_ID = 31337;

/** The saved state, or a new one; a damaged file is kept aside and `note` says so. */
export async function loadDevnetState(
  file: string,
  note: (msg: string) => void,
): Promise<DevnetState> {
  const r = await readJsonFile(file, (raw) => DevnetStateSchema.parse(raw));
  if (r.kind === 'ok') return r.value;
  if (r.kind === 'recovered')
    note(`devnet.json was unreadable (${r.problem}); kept as ${r.backup}, starting anew`);
  return {
    version: 1,
    chainId: DEMO_CHAIN_ID,
    hub: null,
    token: null,
    apiKey: null,
    keyPassphrase: randomBytes(24).toString('base64url'),
    createdAt: new Date().toISOString(),
  };
}

export async function saveDevnetState(file: string, s: DevnetState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(s, null, 2)}\n`, 0o600);
}
