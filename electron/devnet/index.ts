// `idlerig devnet`: the whole market on this computer. anvil (chain state in the data folder),
// the payment hub and demo token, a funded gateway operator and requester, a gateway and a
// headless provider node (child processes, each in its own process group), an API key, the demo
// models installed on the provider, and a demo requester sending a steady stream of jobs.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { IdlerigError } from '../../shared/errors';
import { DEMO_NETWORK_PRICING, DEVNET_PARENT_ENV } from '../../shared/api/devnet';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { createKey } from '../../gateway/keys';
import { OPERATOR_KEY_ENV } from '../../gateway/payments/operator-wallet';
import { NodeApiClient } from '../provider/api/node-client';
import { sha256File } from '../provider/models/download';
import { demoModelsDir } from '../provider/demo/locate';
import { startDemoChain, type DemoChain } from './chain';
import { Reaper, nodeEnv, startChild, stopChild, waitForLine, type Child } from './processes';
import { DemoRequester, loadDigits, type JobLine } from './requester';
import { devnetLayout, loadDevnetState, saveDevnetState } from './state';
import { assertPortsFree } from './ports';

/** The one line printed when the demo network is ready (the shape). */
export interface DevnetReady {
  gateway: string;
  apiKey: string;
  /** null when a node attached to it (that node's own dashboard). */
  dashboard: string | null;
  rpc: string;
  chainId: number;
  contract: string;
  token: string;
  providerDataDir: string;
}

export interface DevnetOptions {
  dataDir: string;
  /** rpc = N, gateway = N+1, dashboard = N+2; absent: free ports. */
  portBase?: number;
  /** The idlerig CLI script the children run (bin/idlerig.js or dist/main/cli.js). */
  cliScript: string;
  /** resources/demo-models (the models and the MNIST digits). */
  demoModelsDir?: string;
  note: (msg: string) => void;
  onJob: (line: JobLine) => void;
  /**
   * A running node serves the demo network instead of a provider started here (the desktop
   * app or `npm start` in demo mode): its data folder and node key address (funded with gas).
   */
  attach?: { dataDir: string; address: string };
  /**
   * The gateway's URL as soon as it listens (what an attached node connects to) and the chain it
   * pays on (what the node checks vouchers against): known before the first job.
   */
  onGateway?: (url: string, chain: { rpcUrl: string; chainId: number; hub: string }) => void;
}

export interface Devnet {
  ready: DevnetReady;
  resumed: boolean;
  stop(): Promise<void>;
}

/** The demo models, shipped with the app (resources/demo-models/README.md). */
export const DEMO_MODELS = { llm: 'stories260K.gguf', onnx: 'mnist-8.onnx' } as const;

/**
 * The gateway's ceilings: far above what a CPU provider's electricity floor asks with the demo
 * pricing below, so every job is matched (a provider is paid its floor, matching.ts).
 */
const DEMO_PRICES = {
  default: {
    llm: { per: 'mtok', input: '100000000000000000000', output: '100000000000000000000000' },
    onnx: { per: 'request', amount: '1000000000000000000' },
  },
};

const REQUESTER_CREDIT = 10n ** 30n;

async function until<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() - t0 > ms)
      throw new IdlerigError('UNAVAILABLE', `Timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startDevnet(o: DevnetOptions): Promise<Devnet> {
  const layout = devnetLayout(o.dataDir);
  await mkdir(layout.root, { recursive: true });
  const ports =
    o.portBase === undefined
      ? null
      : { rpc: o.portBase, gateway: o.portBase + 1, dashboard: o.portBase + 2 };
  if (ports)
    await assertPortsFree({
      chain: ports.rpc,
      gateway: ports.gateway,
      dashboard: ports.dashboard,
    });
  let release: (() => Promise<void>) | null;
  try {
    release = await lockfile.lock(layout.root, {
      lockfilePath: join(layout.root, 'devnet.lock'),
      stale: 15_000,
      update: 5_000,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED')
      throw new IdlerigError(
        'CONFLICT',
        `Another demo network runs on ${layout.root}; stop it first, or give another --data-dir.`,
      );
    throw err;
  }
  const reaper = new Reaper();
  const children: Child[] = [];
  let chain: DemoChain | null = null;
  let requester: DemoRequester | null = null;
  let faucet: NodeJS.Timeout | null = null;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (faucet) clearInterval(faucet);
      await requester?.stop();
      // The provider first (it finishes and records its jobs), then the gateway, then the chain.
      for (const c of children.reverse()) await stopChild(c, reaper);
      await chain?.anvil.stop();
      await reaper.close();
      await release?.().catch(() => undefined);
      release = null;
    })());

  try {
    const state = await loadDevnetState(layout.stateFile, o.note);
    chain = await startDemoChain(state, {
      ...(ports ? { port: ports.rpc } : {}),
      stateFile: layout.chainState,
      note: o.note,
    });
    reaper.watch(chain.anvil.pid);
    await saveDevnetState(layout.stateFile, state);

    // The gateway, paying from the operator's account.
    await writeFile(layout.prices, `${JSON.stringify(DEMO_PRICES, null, 2)}\n`);
    const gw = startChild(
      'gateway',
      process.execPath,
      [
        ...process.execArgv,
        o.cliScript,
        'gateway',
        '--port',
        String(ports?.gateway ?? 0),
        '--data-dir',
        layout.gateway,
        '--price-file',
        layout.prices,
        '--chain-id',
        String(state.chainId),
        // Paying its providers on the demo chain from the operator's account.
        '--rpc',
        chain.anvil.rpcUrl,
        '--hub',
        chain.hub,
        '--token',
        chain.token,
      ],
      nodeEnv({ [OPERATOR_KEY_ENV]: chain.operator.privateKey, IDLERIG_LOG_LEVEL: 'warn' }),
      reaper,
    );
    children.push(gw);
    const gwUrl = (await waitForLine(gw, /^Gateway: (http:\/\/\S+)$/m, 30_000))[1]!;

    // The requester's API key: the saved one while the gateway still knows it.
    const keyWorks = async (key: string): Promise<boolean> =>
      (await fetch(`${gwUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } }))
        .status !== 401;
    if (!state.apiKey || !(await keyWorks(state.apiKey))) {
      const store = new SqliteStore(join(layout.gateway, GATEWAY_DB));
      try {
        state.apiKey = createKey(store, { name: 'demo requester', credit: REQUESTER_CREDIT }).key;
      } finally {
        store.close();
      }
      await saveDevnetState(layout.stateFile, state);
    }
    const apiKey = state.apiKey;

    const dir = o.demoModelsDir ?? demoModelsDir();
    const shas = new Set<string>();
    for (const file of Object.values(DEMO_MODELS))
      shas.add((await sha256File(join(dir, file))).sha256);
    let dashboard: string | null = null;
    let api: NodeApiClient | null = null;
    if (o.attach) {
      // A node that started this demo network serves it: it installs the demo models itself.
      o.onGateway?.(gwUrl, { rpcUrl: chain.anvil.rpcUrl, chainId: state.chainId, hub: chain.hub });
      await chain.fundGas(o.attach.address);
    } else {
      // The provider node, headless, serving that gateway.
      const node = startChild(
        'provider node',
        process.execPath,
        [
          ...process.execArgv,
          o.cliScript,
          '--headless',
          '--port',
          String(ports?.dashboard ?? 0),
          '--data-dir',
          layout.provider,
          '--quiet',
          '--gateway',
          gwUrl,
          // Paid on the demo chain: its vouchers checked against it, claims sent to it.
          '--chain-rpc',
          chain.anvil.rpcUrl,
          '--hub',
          chain.hub,
          '--chain-id',
          String(state.chainId),
        ],
        nodeEnv({ IDLERIG_KEY_PASSPHRASE: state.keyPassphrase, [DEVNET_PARENT_ENV]: '1' }),
        reaper,
      );
      children.push(node);
      dashboard = (
        await waitForLine(node, /^Dashboard: (http:\/\/\S+\/\?token=(\S+))$/m, 30_000)
      )[0].slice('Dashboard: '.length);
      const dash = new URL(dashboard);
      api = new NodeApiClient(dash.origin, dash.searchParams.get('token')!);
      const nodeApi = api;
      // The demo pricing, and the demo chain in Settings → Wallet too (what the Wallet page
      // reads; the --chain-rpc flags above are what the node is paid on).
      await nodeApi.call('settings.update', {
        network: { pricing: DEMO_NETWORK_PRICING },
        wallet: {
          chain: { rpcUrl: chain.anvil.rpcUrl, chainId: state.chainId, hub: chain.hub },
        },
      });
      // The demo models, installed as a user imports them (copied into the node and verified).
      const installed = await nodeApi.call('models.installed', {});
      for (const file of Object.values(DEMO_MODELS)) {
        const { sha256 } = await sha256File(join(dir, file));
        if (!installed.models.some((m) => m.sha256 === sha256))
          await nodeApi.call('models.import', { path: join(dir, file) });
      }
      // Gas for the node key's claims, once the node has made its key.
      const address = await until('the node key', 30_000, async () => {
        const id = await nodeApi.call('market.identity', {});
        return id.address;
      });
      await chain.fundGas(address);
    }

    // Ready when the gateway serves both models from this provider.
    const served = await until('the provider to serve the demo models', 45_000, async () => {
      const res = await fetch(`${gwUrl}/v1/models`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      const list = (await res.json()) as { data: { id: string; sha256: string }[] };
      const names = list.data.filter((m) => shas.has(m.sha256));
      return names.length === shas.size ? names : null;
    });
    const nameOf = async (file: string): Promise<string> => {
      const { sha256 } = await sha256File(join(dir, file));
      return served.find((m) => m.sha256 === sha256)!.id;
    };
    requester = new DemoRequester({
      gateway: gwUrl,
      apiKey,
      llm: await nameOf(DEMO_MODELS.llm),
      onnx: await nameOf(DEMO_MODELS.onnx),
      digits: loadDigits(join(dir, 'mnist-digits.json')),
      onJob: o.onJob,
    });
    requester.start();
    if (api) {
      // The demo chain's faucet: the node's accounts it holds keys for (the node key, a payout
      // wallet made in the first-run wizard) get gas money for claims and withdrawals.
      const nodeApi = api;
      const c = chain;
      let busy = false;
      faucet = setInterval(() => {
        if (busy) return;
        busy = true;
        void (async () => {
          const w = await nodeApi.call('wallet.status', {});
          for (const a of [w.node, w.payout]) if (a?.managed) await c.fundGas(a.address);
        })()
          .catch(() => undefined)
          .finally(() => (busy = false));
      }, 3000);
    }
    return {
      resumed: chain.resumed,
      ready: {
        gateway: `${gwUrl}/v1`,
        apiKey,
        dashboard,
        rpc: chain.anvil.rpcUrl,
        chainId: state.chainId,
        contract: chain.hub,
        token: chain.token,
        providerDataDir: o.attach?.dataDir ?? layout.provider,
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
