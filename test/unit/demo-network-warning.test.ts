// The demo network chosen but not running says so on the Dashboard (status warnings), in words:
// a build that cannot run it (the packaged desktop app: no Node for its chain and gateway), and
// a demo network that stops on its own (here a FAKE `idlerig devnet` that fails the way the
// real one does when its chain port is taken). Leaving the demo network clears the warning.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../shared/api';
import { ProviderNode } from '../../electron/provider/node';
import {
  DEMO_UNAVAILABLE_PACKAGED,
  DEMO_WARNING,
  type DemoNetworkOptions,
} from '../../electron/provider/demo/demo-network';
import { FIXTURES } from '../helpers/engine';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function node(demo: DemoNetworkOptions) {
  const t = await tempDir('idlerig-demo-warning-');
  cleanups.push(t.cleanup);
  const n = new ProviderNode({
    dataDir: join(t.dir, 'data'),
    mode: 'headless',
    power: { detect: false },
    market: {
      keyProtection: { kind: 'passphrase', passphrase: async () => 'test', scryptN: 1 << 10 },
    },
    demo,
  });
  await n.start();
  cleanups.push(() => n.stop());
  const events: ApiEvent[] = [];
  n.on('event', (e) => events.push(e));
  return { node: n, dir: t.dir, events };
}

const demoWarning = (n: ProviderNode) => n.status().warnings.find((w) => w.code === DEMO_WARNING);

describe('the demo network chosen but not running', () => {
  it('a build that cannot run it says why; leaving it clears the warning', async () => {
    const { node: n, events } = await node({ unavailable: DEMO_UNAVAILABLE_PACKAGED });
    expect(demoWarning(n)).toBeUndefined();
    await n.settings.update({ network: { mode: 'demo' } });
    await until(() => demoWarning(n));
    expect(demoWarning(n)!.message).toBe(DEMO_UNAVAILABLE_PACKAGED);
    expect(
      events.some(
        (e) => e.type === 'status' && e.status.warnings.some((w) => w.code === DEMO_WARNING),
      ),
    ).toBe(true);
    await n.settings.update({ network: { mode: 'custom' } });
    await until(() => !demoWarning(n));
  });

  it('one that stops on its own: its last words and what to do', async () => {
    const t = await tempDir('idlerig-demo-fake-cli-');
    cleanups.push(t.cleanup);
    const cli = join(t.dir, 'fake-devnet.mjs');
    await writeFile(
      cli,
      "process.stderr.write('Port 8545 is in use: stop the other chain, or start the demo network with --chain-port.\\n');\nprocess.exit(2);\n",
    );
    const { node: n } = await node({ cliScript: cli, modelsDir: FIXTURES });
    await n.settings.update({ network: { mode: 'demo' } });
    await until(() => demoWarning(n), 30_000);
    expect(demoWarning(n)!.message).toBe(
      'The demo network stopped (Port 8545 is in use: stop the other chain, or start the demo network with --chain-port). Choose it again in Settings → Network to restart it; the log has the details.',
    );
    // One warning, however often it was said.
    expect(n.status().warnings.filter((w) => w.code === DEMO_WARNING)).toHaveLength(1);
  }, 40_000);
});
