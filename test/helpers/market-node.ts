// The options of a headless provider node on the market, as the market tests start it: the real
// engine (the bundled entry, one CPU thread), no GPU detection, the given gateways, a node key
// under a test passphrase with a low scrypt cost (node-key.test.ts checks the default) and short
// redial delays.
import type { ProviderNodeOptions } from '../../electron/provider/node';
import { bundles } from './engine-bundle';

export async function marketNodeOptions(
  dataDir: string,
  gateways: string[],
  backoff = { initialMs: 150, maxMs: 600, jitter: 0.5 },
): Promise<ProviderNodeOptions> {
  const { engine: entry } = await bundles();
  return {
    dataDir,
    mode: 'headless',
    engine: { config: { llm: { backend: 'cpu', threads: 1 } }, supervisor: { entry } },
    power: { detect: false },
    market: {
      gateways,
      keyProtection: { kind: 'passphrase', passphrase: async () => 'test', scryptN: 1 << 10 },
      backoff,
    },
  };
}
