// NOTE FOR H6 (gateway, end-to-end tests) — how to run a headless provider against a gateway:
//
//   IDLERIG_KEY_PASSPHRASE=test node out/cli/idlerig.js --headless --data-dir DIR --port 0 \
//     --gateway http://127.0.0.1:N            (repeatable; the URL as the gateway prints it)
//
// - The node key is created on first run in DIR/node-key.json (an ethers keystore under the
//   passphrase; also --key-passphrase-file F). Without a passphrase the market stays offline and
//   says why (status reason "Offline: The node key needs a passphrase: …").
// - It advertises every installed *verified* model (`idlerig models import FILE` verifies it):
//   name = catalog id, or the imported file's name; floor per model from the earning policy:
//   { per: 'mtok', input: '0', output: floor } with floor = the electricity floor per hour spread
//   over a million tokens at the measured speed (50 tok/s assumed before the first job), in the
//   token's smallest unit (settings network.pricing: 1 token = 1 currency unit, 18 decimals).
//   With the default power settings that is ~1.3e17 per million output tokens: a gateway price
//   of 1e18 (1 token) per million output tokens passes. Tensor models: { per: 'request' }.
// - Offers: declined with the policy's code (PAUSED_BY_USER, TOO_HOT, PRICE_BELOW_FLOOR, ...),
//   BUSY (at parallelism), MODEL_NOT_AVAILABLE, WRONG_KIND; accepted ones run at once when the
//   offer carries `input`, else on the `input` frame.
// - `idlerig status --json` shows the state; the API call `market.status` shows each gateway.
//
// The market client: one GatewaySession per gateway in settings.network.gateways (plus the
// headless --gateway URLs), started and stopped as the settings change; what it sees goes to the
// earning policy (setMarket) so the node's state and the tray follow it.
import { EventEmitter } from 'node:events';
import type { Settings } from '../../../shared/api/settings';
import type { DeepReadonly } from '../../../shared/deep-readonly';
import type { PriceFloor } from '../../../shared/api/power';
import type { MarketStatus, SharedMessages } from '../../../shared/api/market';
import type {
  FrameOf,
  GatewayFrame,
  GpuSummarySchema,
  ModelCapability,
  Price,
  Telemetry,
} from '../../../shared/market-protocol';
import type { z } from 'zod';
import type { ScopedLogger } from '../logs/logger';
import type { InstalledModel } from '../models/registry';
import type { EnergyJobReporter } from '../energy/ledger';
import type { JobRecorder } from '../jobs/types';
import type { MarketView } from '../policy/policy';
import { evaluateOffer } from '../policy/policy';
import type { NodeKey } from '../wallet/node-key';
import type { BackoffOptions } from './connection';
import { isVerified, type MarketEngine, type TensorSpec } from './engine-adapter';
import {
  floorPrice,
  meetsFloor,
  offerMaxCharge,
  toCurrency,
  ASSUMED_TOKENS_PER_S,
  ASSUMED_TENSOR_S,
} from './pricing';
import { GatewaySession, type SessionPayments } from './session';
import type { OfferVerdict } from './jobs';

/** How long an advertised floor is still honoured after the floor moved (see `advertised`). */
const ADVERTISED_FLOOR_GRACE_MS = 60_000;

export interface MarketPolicy {
  accepting: boolean;
  reasonCode: string;
  reason: string;
  priceFloor: PriceFloor;
}

export interface MarketClientOptions {
  log: ScopedLogger;
  /** Read on every offer: the store's own settings, not a copy. */
  settings: () => DeepReadonly<Settings>;
  /** The node key, loaded (or created) on first use. */
  loadKey: () => Promise<NodeKey>;
  models: () => readonly InstalledModel[];
  engine: MarketEngine;
  parallelism: () => number;
  gpus: () => Promise<z.infer<typeof GpuSummarySchema>[]>;
  telemetryGpus: () => Telemetry['gpus'];
  policy: () => MarketPolicy;
  recorder: () => JobRecorder | null;
  energy: EnergyJobReporter | null;
  setMarket: (view: MarketView | undefined) => void;
  /** Gateways from the command line (headless --gateway), besides the settings' ones. */
  extraGateways?: readonly string[];
  /** The node's payments (market/payments.ts): vouchers, the credit limit, the job's token. */
  payments?: MarketPayments;
  backoff?: BackoffOptions;
}

/** What the market client asks of the node's payments (market/payments.ts ProviderPayments). */
export interface MarketPayments extends SessionPayments {
  /** The credit limit on an offer worth at most `price`; null: no objection. */
  credit(gateway: string, price: bigint): OfferVerdict | null;
  tokenOf(gateway: string): { symbol: string; decimals: number; address: string } | null;
  start?(): void;
  stop?(): Promise<void>;
  onSettings?(): void;
}

type MarketEvents = { changed: [] };

export class MarketClient extends EventEmitter<MarketEvents> {
  private readonly sessions = new Map<string, GatewaySession>();
  private key: Promise<NodeKey> | null = null;
  private keyView: { address: string | null; protection: string | null; error: string | null } = {
    address: null,
    protection: null,
    error: null,
  };
  private shared: SharedMessages = { capabilities: null, heartbeat: null, telemetry: null };
  private readonly speeds = new Map<
    string,
    { tokensPerS: number | null; tensorS: number | null }
  >();
  /**
   * Floors advertised per model in the last ADVERTISED_FLOOR_GRACE_MS. The floor moves with the
   * measured speed; a gateway that offers the floor it was told a moment ago is taken at its word
   * (the node advertised that price), instead of declining it as below a floor it never saw.
   */
  private readonly advertised = new Map<string, { floor: Price; at: number }[]>();
  /** Tensor models' inputs and outputs, read once from the engine (null while loading). */
  private readonly tensorSpecs = new Map<
    string,
    { inputs: TensorSpec[]; outputs: TensorSpec[] } | null
  >();
  private countdown: NodeJS.Timeout | null = null;
  private running = false;
  private lastView = '';

  constructor(private readonly opts: MarketClientOptions) {
    super();
  }

  start(): void {
    this.running = true;
    this.opts.payments?.start?.();
    this.sync();
    // The node key is made on first run, even before a gateway is configured, where possible.
    void this.nodeKey().catch(() => undefined);
  }

  stop(): void {
    this.running = false;
    for (const s of this.sessions.values()) s.stop();
    this.sessions.clear();
    if (this.countdown) clearInterval(this.countdown);
    this.countdown = null;
    void this.opts.payments?.stop?.();
  }

  /** The gateway URLs to connect to now. */
  urls(): string[] {
    const fromSettings = this.opts.settings().network.gateways.map((g) => g.url.trim());
    return [
      ...new Set([...fromSettings, ...(this.opts.extraGateways ?? []), ...this.runtimeGateways]),
    ];
  }

  /** Gateways the node started itself (the local demo network: provider/demo), never saved. */
  private runtimeGateways: string[] = [];
  setRuntimeGateways(urls: string[]): void {
    this.runtimeGateways = urls;
    if (this.running) this.sync();
  }

  /** Settings changed: connect to new gateways, leave removed ones, resend changed capabilities. */
  onSettings(): void {
    if (!this.running) return;
    this.opts.payments?.onSettings?.();
    this.sync();
    this.refreshCapabilities();
  }

  /** Models, the price floor or parallelism may have changed. */
  refreshCapabilities(): void {
    for (const s of this.sessions.values()) void s.refreshCapabilities();
  }

  /** The earning policy's answer changed: pause or resume offers on every gateway. */
  onPolicy(): void {
    for (const s of this.sessions.values()) {
      s.refreshPause();
      void s.refreshCapabilities();
    }
  }

  nodeKey(): Promise<NodeKey> {
    if (!this.key) {
      const p = this.opts.loadKey();
      this.key = p;
      p.then(
        (k) => {
          this.keyView = { address: k.address, protection: k.protection, error: null };
          this.changed();
        },
        (err: unknown) => {
          this.keyView = { address: null, protection: null, error: (err as Error).message };
          // Try again next time (a passphrase file may appear); the error stays visible meanwhile.
          if (this.key === p) this.key = null;
          this.changed();
        },
      );
    }
    return this.key;
  }

  get activeJobs(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.jobs.activeJobs;
    return n;
  }

  status(): MarketStatus {
    const gateways = [...this.sessions.values()].map((s) => ({
      ...s.view(),
      source: this.opts.settings().network.gateways.some((g) => g.url.trim() === s.url)
        ? ('settings' as const)
        : ('command-line' as const),
    }));
    return {
      identity: { ...this.keyView },
      gateways,
      running: [...this.sessions.values()].flatMap((s) => s.jobs.running()),
      shared: this.shared,
    };
  }

  private sync(): void {
    const want = new Set(this.urls());
    for (const [url, s] of this.sessions) {
      if (!want.has(url)) {
        s.stop();
        this.sessions.delete(url);
        this.opts.log.info('gateway removed', { gateway: url });
      }
    }
    for (const url of want) {
      if (this.sessions.has(url)) continue;
      const s = this.makeSession(url);
      this.sessions.set(url, s);
      s.start();
      this.opts.log.info('gateway added', { gateway: url });
    }
    this.changed();
  }

  private makeSession(url: string): GatewaySession {
    const s = new GatewaySession({
      url,
      log: this.opts.log,
      key: () => this.nodeKey(),
      capabilities: async () => ({
        models: this.capabilityModels(),
        parallelism: Math.max(1, Math.min(1024, this.opts.parallelism())),
        gpus: await this.opts.gpus(),
      }),
      telemetry: () => this.telemetry(),
      localPause: () => {
        const p = this.opts.policy();
        return p.accepting ? null : p.reason;
      },
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
      ...(this.opts.payments ? { payments: this.opts.payments } : {}),
      jobs: {
        engine: this.opts.engine,
        recorder: this.recorderProxy,
        energy: this.opts.energy,
        evaluate: (offer, model) => this.evaluate(offer, model, url),
        parallelism: () => this.opts.parallelism(),
        revenueOf: (earned) => toCurrency(earned, this.opts.settings().network.pricing),
        token: () => {
          const paid = this.opts.payments?.tokenOf(url);
          if (paid) return paid;
          const p = this.opts.settings().network.pricing;
          return { symbol: p.tokenSymbol, decimals: p.tokenDecimals, address: null };
        },
        measured: (sha, tps, tensorS) => this.measured(sha, tps, tensorS),
      },
    });
    s.on('changed', () => this.changed());
    s.on('shared', (kind, frame) => {
      const at = new Date().toISOString();
      if (kind === 'capabilities')
        this.shared = { ...this.shared, capabilities: { gateway: url, at, frame } };
      else
        this.shared = {
          ...this.shared,
          heartbeat: { gateway: url, at, frame },
          telemetry: {
            gateway: url,
            at,
            frame: (frame as { telemetry?: unknown }).telemetry ?? null,
          },
        };
    });
    return s;
  }

  /** The JobRecorder as it is now (the job database may open after the market starts). */
  private readonly recorderProxy: JobRecorder = {
    start: (job) => this.opts.recorder()?.start(job) ?? false,
    end: (id, end, init) => this.opts.recorder()?.end(id, end, init) ?? false,
    linkVoucher: (link) => this.opts.recorder()?.linkVoucher(link) ?? false,
    settle: (id, s) => this.opts.recorder()?.settle(id, s) ?? false,
    away: {
      add: (gateway, jobId, report, cap) =>
        this.opts.recorder()?.away?.add(gateway, jobId, report, cap) ?? false,
      list: (gateway, limit) => this.opts.recorder()?.away?.list(gateway, limit) ?? [],
      remove: (gateway, jobIds) => this.opts.recorder()?.away?.remove(gateway, jobIds),
    },
  };

  private capabilityModels(): ModelCapability[] {
    const policy = this.opts.policy();
    const pricing = this.opts.settings().network.pricing;
    return this.opts
      .models()
      .filter(isVerified)
      .map((m) => {
        const kind = m.engine === 'onnx' ? ('onnx' as const) : ('llm' as const);
        const floor = floorPrice(kind, policy.priceFloor, pricing, this.speedOf(m.sha256));
        this.rememberAdvertised(m.sha256, floor);
        return {
          sha256: m.sha256,
          name: m.source.kind === 'catalog' ? m.id : m.name,
          kind,
          floor,
          ...(kind === 'onnx' ? (this.specsOf(m) ?? {}) : {}),
        };
      });
  }

  /** A tensor model's specs; the first ask loads them in the background and re-advertises. */
  private specsOf(m: InstalledModel): { inputs: TensorSpec[]; outputs: TensorSpec[] } | null {
    if (this.tensorSpecs.has(m.sha256)) return this.tensorSpecs.get(m.sha256) ?? null;
    const load = this.opts.engine.tensorSpecs;
    if (!load) return null;
    this.tensorSpecs.set(m.sha256, null);
    load(m).then(
      (specs) => {
        this.tensorSpecs.set(m.sha256, specs);
        this.refreshCapabilities();
      },
      (err: unknown) =>
        this.opts.log.warn("could not read a tensor model's inputs and outputs", {
          model: m.id,
          error: (err as Error).message,
        }),
    );
    return null;
  }

  private rememberAdvertised(sha: string, floor: Price): void {
    const now = Date.now();
    const recent = (this.advertised.get(sha) ?? []).filter(
      (a) => now - a.at < ADVERTISED_FLOOR_GRACE_MS,
    );
    recent.push({ floor, at: now });
    this.advertised.set(sha, recent.slice(-8));
  }

  /** Whether the offer meets the current floor or one advertised within the grace period. */
  private meetsAdvertisedFloor(sha: string, price: Price, current: Price): boolean {
    if (meetsFloor(price, current)) return true;
    const now = Date.now();
    return (this.advertised.get(sha) ?? []).some(
      (a) => now - a.at < ADVERTISED_FLOOR_GRACE_MS && meetsFloor(price, a.floor),
    );
  }

  private speedOf(sha: string): { tokensPerS: number | null; tensorS: number | null } {
    return this.speeds.get(sha) ?? { tokensPerS: null, tensorS: null };
  }

  private measured(sha: string, tokensPerS: number | null, tensorS: number | null): void {
    const prev = this.speedOf(sha);
    // A smoothed figure, so one slow job does not swing the floor.
    const mix = (a: number | null, b: number | null): number | null =>
      b === null ? a : a === null ? b : Math.round((a * 0.7 + b * 0.3) * 100) / 100;
    this.speeds.set(sha, {
      tokensPerS: mix(prev.tokensPerS, tokensPerS),
      tensorS: mix(prev.tensorS, tensorS),
    });
    // The floor offers are held to moved: advertise it, or gateways keep offering the old one.
    this.refreshCapabilities();
  }

  private evaluate(
    offer: FrameOf<GatewayFrame, 'offer'>,
    model: InstalledModel,
    gateway: string,
  ): OfferVerdict {
    const policy = this.opts.policy();
    if (!policy.accepting)
      return { accept: false, reasonCode: policy.reasonCode, reason: policy.reason };
    const pricing = this.opts.settings().network.pricing;
    const kind = model.engine === 'onnx' ? 'onnx' : 'llm';
    const speed = this.speedOf(model.sha256);
    const floor = floorPrice(kind, policy.priceFloor, pricing, speed);
    // The advertised floor is the policy's minimum price (electricity + margin) spread over the
    // job's expected time, so meeting it is the policy's test; evaluateOffer gives the words.
    if (this.meetsAdvertisedFloor(model.sha256, offer.price, floor))
      return (
        this.opts.payments?.credit(gateway, offerMaxCharge(offer.price, offer.maxTokens)) ?? {
          accept: true,
          reasonCode: 'PRICE_OK',
          reason: 'At or above the price floor',
        }
      );
    const seconds =
      kind === 'onnx'
        ? (speed.tensorS ?? ASSUMED_TENSOR_S)
        : offer.maxTokens /
          (speed.tokensPerS && speed.tokensPerS > 0 ? speed.tokensPerS : ASSUMED_TOKENS_PER_S);
    const value = toCurrency(offerMaxCharge(offer.price, offer.maxTokens), pricing);
    const v = evaluateOffer(policy.priceFloor, { price: value, estimatedSeconds: seconds });
    return {
      accept: false,
      reasonCode: 'PRICE_BELOW_FLOOR',
      reason: v.accept
        ? 'Declined: the offer is below the price floor this node advertised'
        : v.reason,
    };
  }

  private telemetry(): Telemetry {
    const running = [...this.sessions.values()].flatMap((s) => s.jobs.running());
    const tokensPerS = running.reduce((sum, j) => sum + (j.tokensPerS ?? 0), 0);
    return {
      activeJobs: this.activeJobs,
      tokensPerS: Math.round(tokensPerS * 10) / 10,
      gpus: this.opts.telemetryGpus(),
    };
  }

  /** The market as the earning policy sees it. */
  marketView(): MarketView | undefined {
    const views = [...this.sessions.values()].map((s) => s.view());
    if (views.length === 0) return undefined;
    const ready = views.filter((v) => v.phase === 'ready');
    const paused = views.filter((v) => v.phase === 'paused');
    const waiting = views
      .map((v) => v.retryAt)
      .filter((t): t is number => t !== null)
      .sort((a, b) => a - b);
    const problem =
      this.keyView.error ??
      views.find((v) => v.phase === 'refused' || v.phase === 'invalid')?.detail ??
      null;
    return {
      configured: true,
      connected: ready.length > 0,
      bestOfferPerHour: null,
      retryInSeconds:
        waiting.length > 0 ? Math.max(0, Math.ceil((waiting[0]! - Date.now()) / 1000)) : null,
      pausedReason:
        ready.length === 0 && paused.length > 0 ? (paused[0]!.pausedReason ?? null) : null,
      problem: ready.length === 0 && paused.length === 0 ? problem : null,
    };
  }

  private changed(): void {
    const view = this.marketView();
    const text = JSON.stringify(view ?? null);
    if (text !== this.lastView) {
      this.lastView = text;
      this.opts.setMarket(view);
    }
    // While a redial is pending the reason counts down ("retrying in N s").
    const waiting = view?.retryInSeconds != null && !view.connected;
    if (waiting && !this.countdown) {
      this.countdown = setInterval(() => this.changed(), 1000);
      this.countdown.unref();
    } else if (!waiting && this.countdown) {
      clearInterval(this.countdown);
      this.countdown = null;
    }
    this.emit('changed');
  }
}
