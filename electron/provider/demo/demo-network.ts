// The local demo network, started and stopped by the node itself when it is chosen
// (settings.network.mode 'demo', or a fresh install started by `npm start`): the node installs
// the demo models, then runs `idlerig devnet --attach` as a child process (its own process
// group; it ends with us, since its stdin is our pipe) and serves the gateway it prints. The
// provider never imports the gateway or the chain code: they meet over the wire only.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import {
  DEMO_DEFAULT_ENV,
  DEMO_NETWORK_PRICING,
  DEVNET_PARENT_ENV,
  demoNetworkWanted,
} from '../../../shared/api/devnet';
import type { ProviderNode } from '../node';
import type { Settings } from '../../../shared/api/settings';
import { defaultNetworkSettings, type NetworkSettings } from '../../../shared/api/market';
import { sha256File } from '../models/download';
import { cliBundle, demoModelsDir } from './locate';

const DEMO_MODEL_FILES = ['stories260K.gguf', 'mnist-8.onnx'];

export interface DemoNetworkOptions {
  /** The CLI bundle to run (default dist/main/cli.js, beside this bundle). */
  cliScript?: string;
  /** The demo models folder (default resources/demo-models). */
  modelsDir?: string;
  /**
   * Why this build cannot run the demo network (the packaged desktop app: its children need
   * Node, and its runAsNode fuse is off); chosen anyway, the Dashboard says so.
   */
  unavailable?: string;
}

/** What the packaged desktop app says when the demo network is chosen (see unavailable). */
export const DEMO_UNAVAILABLE_PACKAGED =
  'The local demo network does not run in the installed app yet: it needs the source checkout (npm start, or idlerig devnet). To earn, add a gateway in Settings → Network.';

/** The Dashboard's warning while the chosen demo network is not running. */
export const DEMO_WARNING = 'DEMO_NETWORK';

/**
 * Whether the first-run wizard is due: no network chosen on a node started the way a user
 * starts the app (`npm start` sets the demo default; `idlerig devnet` starts its node).
 */
export function firstRunDue(network: Settings['network']): boolean {
  const asUser = process.env[DEMO_DEFAULT_ENV] === '1' || process.env[DEVNET_PARENT_ENV] === '1';
  return asUser && network.mode === null;
}

function samePricing(a: NetworkSettings['pricing'], b: NetworkSettings['pricing']): boolean {
  return (
    a.currencyPerToken === b.currencyPerToken &&
    a.tokenDecimals === b.tokenDecimals &&
    a.tokenSymbol === b.tokenSymbol
  );
}

/** How often, and how far apart, a run refused by the last run's stale lock is started again. */
const LOCK_RETRIES = 4;
const LOCK_RETRY_MS = 5_000;

export class DemoNetwork {
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private wanted = false;

  constructor(
    private readonly node: ProviderNode,
    private readonly opts: DemoNetworkOptions = {},
  ) {}

  /** Whether this node serves a demo network (its own, or the one that started it). */
  get active(): boolean {
    return process.env[DEVNET_PARENT_ENV] === '1' || this.wanted;
  }

  /** Whether this node should run it now. */
  private want(): boolean {
    // A node `idlerig devnet` started is already on the demo network.
    if (process.env[DEVNET_PARENT_ENV] === '1') return false;
    return demoNetworkWanted(
      this.node.settings.get().network,
      process.env[DEMO_DEFAULT_ENV] === '1',
    );
  }

  onSettings(): void {
    if (this.closed) return;
    const want = this.want();
    if (want !== this.wanted) {
      this.wanted = want;
      if (!want) {
        void this.stop();
        return;
      }
      this.starting ??= this.start().finally(() => (this.starting = null));
    }
    this.joinIfChosen().catch((e: unknown) =>
      this.node.logger
        .scope('demo')
        .warn('the demo network was not joined', { error: (e as Error).message }),
    );
  }

  /**
   * Whether the user chose it. A fresh install (no network chosen yet, the first-run wizard
   * open) starts the demo network so it is ready when chosen, but the node joins it (its models,
   * chain, pricing and gateway) only once it is: nothing of a market the user did not choose
   * runs on this computer or enters the job history.
   */
  private chosen(): boolean {
    return this.node.settings.get().network.mode === 'demo';
  }

  /** What `idlerig devnet --attach` said so far: its chain, then its gateway. */
  private offered: {
    chain: { rpcUrl: string; chainId: number; hub: string } | null;
    gateway: string | null;
  } = { chain: null, gateway: null };
  private joining: Promise<void> | null = null;
  private joined = false;

  /** Joins the demo network once it is chosen and its gateway is up (once per start). */
  private joinIfChosen(): Promise<void> {
    if (!this.wanted || this.joined || !this.chosen() || !this.offered.gateway)
      return Promise.resolve();
    this.joining ??= this.join().finally(() => (this.joining = null));
    return this.joining;
  }

  private async join(): Promise<void> {
    const log = this.node.logger.scope('demo');
    const { chain, gateway } = this.offered;
    if (!chain || !gateway) return;
    this.joined = true;
    try {
      // The demo models, served to the demo gateway.
      const dir = this.opts.modelsDir ?? demoModelsDir();
      const have = new Set(this.node.models.list().map((m) => m.sha256));
      for (const file of DEMO_MODEL_FILES)
        if (!have.has((await sha256File(join(dir, file))).sha256))
          await this.node.modelService.import({ path: join(dir, file) }).catch((err: unknown) => {
            log.warn('a demo model was not imported', { file, error: (err as Error).message });
          });
      if (!this.wanted) return;
      // Paid on the demo chain: its vouchers checked against it, claims sent to it.
      this.demoChain = chain;
      // The demo pricing (visible amounts of play money) over the default one, undone on leaving.
      const pricing = this.node.settings.get().network.pricing;
      const pricingPatch = samePricing(pricing, defaultNetworkSettings().pricing)
        ? { network: { pricing: DEMO_NETWORK_PRICING } }
        : {};
      this.demoPricing = 'network' in pricingPatch;
      await this.node.settings.update({ wallet: { chain }, ...pricingPatch });
      if (this.wanted && this.offered.gateway === gateway)
        this.node.market.setRuntimeGateways([gateway]);
      log.info('joined the demo network', { gateway });
    } catch (e) {
      this.joined = false;
      throw e;
    }
  }

  /** The demo chain this node was set to (Settings → Wallet), forgotten when the demo stops. */
  private demoChain: { rpcUrl: string; chainId: number; hub: string } | null = null;

  private demoPricing = false;

  private async leaveDemoChain(): Promise<void> {
    if (
      this.demoPricing &&
      samePricing(this.node.settings.get().network.pricing, DEMO_NETWORK_PRICING)
    )
      await this.node.settings
        .update({ network: { pricing: defaultNetworkSettings().pricing } })
        .catch(() => undefined);
    this.demoPricing = false;
    const mine = this.demoChain;
    this.demoChain = null;
    const now = this.node.settings.get().wallet.chain;
    if (!mine || !now || now.rpcUrl !== mine.rpcUrl || now.hub !== mine.hub) return;
    await this.node.settings.update({ wallet: { chain: null } }).catch(() => undefined);
  }

  /** Runs stop() ended on purpose (their exit is not reported as a failure). */
  private readonly stopped = new WeakSet<ChildProcess>();
  /** Starts again after a run refused because the last one's folder lock was still held. */
  private lockRetries = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  /** A start in progress (one at a time: choosing it twice quickly starts one). */
  private starting: Promise<void> | null = null;

  private async start(): Promise<void> {
    const log = this.node.logger.scope('demo');
    if (this.opts.unavailable) {
      log.warn('the demo network cannot run in this build', { why: this.opts.unavailable });
      this.node.setWarning(DEMO_WARNING, this.opts.unavailable);
      return;
    }
    try {
      const key = await this.node.market.nodeKey();
      // Chosen again while the last run is still ending (stop() waits for it): after it.
      while (this.child && this.exited) await this.exited;
      if (!this.wanted || this.child) return;
      const cli = this.opts.cliScript ?? cliBundle();
      const child = spawn(
        process.execPath,
        [
          cli,
          'devnet',
          '--attach',
          this.node.paths.root,
          '--address',
          key.address,
          '--data-dir',
          join(this.node.paths.root, 'devnet'),
        ],
        {
          detached: true,
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        },
      );
      this.child = child;
      this.exited = new Promise((r) => child.once('exit', () => r()));
      child.on('error', (err) =>
        log.error('the demo network did not start', { error: err.message }),
      );
      let out = '';
      let err = '';
      let lines = Promise.resolve();
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        for (let i; (i = out.indexOf('\n')) >= 0;) {
          const line = out.slice(0, i);
          out = out.slice(i + 1);
          // In order: the demo chain is set before the node dials its gateway.
          lines = lines
            .then(() => this.onLine(line))
            .catch((e: unknown) => {
              log.warn('a demo network line was not applied', { error: (e as Error).message });
            });
        }
      });
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
      child.once('exit', (code, signal) => {
        // Stopped on purpose (left, or chosen again meanwhile): not a failure to report.
        const asked = this.stopped.delete(child);
        if (this.child === child) this.child = null;
        this.offered = { chain: null, gateway: null };
        this.joined = false;
        this.node.market.setRuntimeGateways([]);
        // The last run's folder lock outlives a run that had to be killed until it goes stale
        // (15 s): the new run is refused meanwhile, so it is started again a little later.
        if (
          this.wanted &&
          !asked &&
          /Another demo network runs on/.test(err) &&
          this.lockRetries < LOCK_RETRIES
        ) {
          this.lockRetries++;
          log.info('the last demo network still holds its folder; starting again shortly');
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            if (this.wanted && !this.closed && !this.child)
              this.starting ??= this.start().finally(() => (this.starting = null));
          }, LOCK_RETRY_MS);
          this.retryTimer.unref();
          return;
        }
        if (this.wanted && !asked) {
          const why = (err.trim().split('\n').at(-1) ?? '').replace(/\.$/, '');
          log.error('the demo network stopped', { code, signal, why });
          this.node.setWarning(
            DEMO_WARNING,
            `The demo network stopped (${why || (signal ? `signal ${signal}` : `exit code ${code}`)}). Choose it again in Settings → Network to restart it; the log has the details.`,
          );
        }
      });
    } catch (e) {
      log.error('the demo network did not start', { error: (e as Error).message });
      this.node.setWarning(
        DEMO_WARNING,
        `The demo network did not start (${(e as Error).message}). Choose it again in Settings → Network to retry; the log has the details.`,
      );
    }
  }

  private closed = false;

  /** The node stops: the demo network with it, and nothing starts it again. */
  shutdown(): Promise<void> {
    this.closed = true;
    return this.stop();
  }

  /** A line of `idlerig devnet --attach`: the chain, the gateway, the ready line. */
  private async onLine(line: string): Promise<void> {
    const log = this.node.logger.scope('demo');
    if (line.startsWith('Chain: ')) {
      this.offered.chain = JSON.parse(line.slice(7)) as {
        rpcUrl: string;
        chainId: number;
        hub: string;
      };
      return;
    }
    const m = /^Gateway: (http:\/\/\S+)$/.exec(line);
    if (m) {
      log.info('demo network gateway up', { url: m[1] });
      this.offered.gateway = m[1]!;
      // In order with the lines: joined (when chosen) before the ready line is applied.
      await this.joinIfChosen();
    } else if (line.startsWith('{')) {
      const ready = JSON.parse(line) as { rpc: string; contract: string };
      log.info('demo network ready', { rpc: ready.rpc, hub: ready.contract });
      this.lockRetries = 0;
      this.node.setWarning(DEMO_WARNING, null);
    }
  }

  /** Stops it (SIGTERM to its group, SIGKILL after 3 s). */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.lockRetries = 0;
    await this.joining?.catch(() => undefined);
    this.offered = { chain: null, gateway: null };
    this.joined = false;
    this.node.market.setRuntimeGateways([]);
    // Not chosen any more: whatever went wrong with it is no longer the Dashboard's business.
    if (!this.closed) this.node.setWarning(DEMO_WARNING, null);
    await this.leaveDemoChain();
    const child = this.child;
    if (!child?.pid) return;
    const kill = (s: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, s);
      } catch {
        /* gone */
      }
    };
    this.stopped.add(child);
    kill('SIGTERM');
    const t = setTimeout(() => kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
    kill('SIGKILL');
  }
}
