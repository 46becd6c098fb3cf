// A child of `npm run bench -- market` (bench/market.ts): the REAL provider node (ProviderNode,
// headless, its market client, job record, energy ledger and engine process) serving one gateway,
// with stories260K imported as a user would. Like the engine-alone side, its engine runs the
// threads given in argv[4]. Prints "READY {json}" once the node has signed in and advertised.
// Run: node --import tsx bench/_market-node.ts GATEWAY_URL DATA_DIR THREADS
import { join } from 'node:path';
import { ProviderNode } from '../electron/provider/node';
import { bundles } from '../test/helpers/engine-bundle';
import { FIXTURES, MODELS } from '../test/helpers/engine';
import { waitFor } from '../test/helpers/gateway';

const [, , gatewayUrl, dataDir, threads] = process.argv;
const { engine: entry } = await bundles();
const node = new ProviderNode({
  dataDir: dataDir!,
  mode: 'headless',
  engine: {
    config: { llm: { backend: 'cpu', threads: Number(threads) } },
    supervisor: { entry },
  },
  power: { detect: false },
  market: {
    gateways: [gatewayUrl!],
    keyProtection: { kind: 'passphrase', passphrase: async () => 'bench', scryptN: 1 << 10 },
  },
});
await node.start();
const model = await node.modelService.import({ path: join(FIXTURES, MODELS.stories.file) });
await waitFor(
  'the node signed in',
  () => node.market.status().gateways[0]?.phase === 'ready',
  60_000,
);
process.stdout.write(`READY ${JSON.stringify({ model: model.name })}\n`);
process.on('SIGTERM', () => void node.stop().then(() => process.exit(0)));
