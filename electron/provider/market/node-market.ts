// The market client as the provider node hosts it: the node's settings, models, engine, power
// services, policy and job record fed into one MarketClient, and its view fed back into the
// earning policy. The node calls onSettings/onPolicy and stop; nothing else of it knows the market.
import type { ProviderNode } from '../node';
import type { JobRecorder } from '../jobs/types';
import type { KeyProtection } from '../wallet/node-key';
import { headlessPassphrase, loadOrCreateNodeKey } from '../wallet/node-key';
import type { BackoffOptions } from './connection';
import { nodeEngine } from './engine-adapter';
import { MarketClient } from './index';
import { ProviderPayments } from './payments';
import type { ChainSettings } from '../../../shared/api/wallet';

const PAYMENTS = new WeakMap<MarketClient, ProviderPayments>();

/** The node's payments (wallet.earnings, the wallet's claim now). */
export function paymentsOf(market: MarketClient): ProviderPayments | null {
  return PAYMENTS.get(market) ?? null;
}

export interface NodeMarketOptions {
  /** Gateways from the command line (headless --gateway, repeatable), not saved in settings. */
  gateways?: readonly string[];
  /**
   * How the node key is kept: the shell passes Electron's safeStorage where the OS keychain is
   * real; absent: a passphrase keystore (IDLERIG_KEY_PASSPHRASE, the file, or a terminal prompt).
   */
  keyProtection?: KeyProtection;
  /** --key-passphrase-file. */
  passphraseFile?: string;
  backoff?: BackoffOptions;
  /** The chain from the command line (--chain-rpc, --chain-id, --hub), over settings.wallet.chain. */
  chain?: ChainSettings;
}

/**
 * How the node's keys are kept: the shell's, or one headless passphrase for all of them (asked
 * once: the node key and the app's payout wallet share it). Made once per node (node.ts) and
 * passed as `keyProtection` to the market and the wallet.
 */
export function nodeKeyProtection(
  mode: ProviderNode['mode'],
  opts: NodeMarketOptions = {},
): KeyProtection {
  return (
    opts.keyProtection ?? {
      kind: 'passphrase',
      passphrase: headlessPassphrase({
        ...(opts.passphraseFile ? { file: opts.passphraseFile } : {}),
        prompt: mode === 'headless',
      }),
    }
  );
}

export function createNodeMarket(node: ProviderNode, opts: NodeMarketOptions = {}): MarketClient {
  const log = node.logger.scope('market');
  const protection = nodeKeyProtection(node.mode, opts);
  const loadKey = async () => {
    const r = await loadOrCreateNodeKey({ dataDir: node.paths.root, protection });
    if (r.created)
      log.info('node key created', { address: r.key.address, protection: r.key.protection });
    if (r.emptyFileKeptAs)
      log.warn('an empty node key file was kept aside', { keptAs: r.emptyFileKeptAs });
    return r.key;
  };
  const recorder = (): JobRecorder | null =>
    (node as unknown as { jobs?: { recorder?: JobRecorder } }).jobs?.recorder ?? null;
  // eslint-disable-next-line prefer-const -- the market and its payments refer to each other
  let market: MarketClient;
  const payments = new ProviderPayments({
    dataDir: node.paths.root,
    chain: () => opts.chain ?? node.settings.get().wallet.chain,
    wallet: () => node.settings.get().wallet,
    // One key for the market and the payments: the market's loader caches it.
    key: () => market.nodeKey(),
    recorder,
    log: node.logger.scope('payments'),
  });
  market = new MarketClient({
    log,
    payments,
    settings: () => node.settings.view(),
    loadKey,
    models: () => node.models.list(),
    engine: nodeEngine(node.engine, () => node.models.list()),
    parallelism: () => node.engine.status().config.parallelism,
    gpus: async () => {
      const inv = await node.power.gpus();
      return inv.gpus
        .filter((g) => g.usable)
        .map((g) => ({
          name: g.name.slice(0, 256),
          vendor: String(g.vendor).slice(0, 64),
          vramBytes: g.vramTotalMiB === null ? null : Math.round(g.vramTotalMiB * 1048576),
          ...(g.backends[0] ? { backend: String(g.backends[0]).slice(0, 64) } : {}),
        }));
    },
    telemetryGpus: () => {
      const latest = new Map<string, (typeof samples)[number]>();
      const samples = node.power.telemetryRecent(30).samples;
      for (const s of samples) latest.set(s.gpuId, s);
      return [...latest.values()].slice(0, 64).map((s) => ({
        utilizationPct:
          s.utilizationPct === null ? null : Math.min(100, Math.max(0, s.utilizationPct)),
        temperatureC: s.temperatureC,
        powerW: s.powerW === null ? null : Math.max(0, s.powerW),
        vramUsedBytes:
          s.vramUsedMiB === null ? null : Math.max(0, Math.round(s.vramUsedMiB * 1048576)),
      }));
    },
    policy: () => node.policy(),
    // The job record opens before the market starts; a node without one records nothing.
    recorder,
    // The engine reports each job's energy itself (EngineService.runJob).
    energy: null,
    setMarket: (view) => node.power.setMarket(view),
    ...(opts.gateways ? { extraGateways: opts.gateways } : {}),
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  });
  PAYMENTS.set(market, payments);
  market.on('changed', () => scheduleEvent());
  // The API event is throttled: a streaming job changes the view on every chunk.
  let timer: NodeJS.Timeout | null = null;
  let last = 0;
  const scheduleEvent = (): void => {
    if (timer) return;
    const wait = Math.max(0, 250 - (Date.now() - last));
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      if (!node.isRunning) return;
      node.emit('event', { type: 'market', market: market.status() });
      // While jobs run, their live tokens/s is sent twice a second.
      if (market.activeJobs > 0) setTimeout(scheduleEvent, 500).unref();
    }, wait);
    timer.unref();
  };
  // The models the node advertises change with installs, imports, verifications and deletions.
  node.on('event', (e) => {
    if (e.type === 'models.installed') market.refreshCapabilities();
  });
  return market;
}
