// One gateway's session over its connection: hello → login (EIP-4361 bound to the gateway's
// origin, chain id, nonce and expiry, signed by the node key) → capabilities (verified models
// with names and price floors, parallelism, GPUs; sent again whenever they change) → the jobs
// that ended while away → heartbeats with telemetry. Offers, inputs and cancels go to the job
// runner. What it last sent of capabilities and heartbeats is kept for "What this app shares".
import { EventEmitter } from 'node:events';
import { buildSiweMessage, originHost } from '../../../shared/siwe';
import { RECEIPT_TYPES, receiptDomain, receiptValue } from '../../../shared/receipt';
import {
  MISSED_HEARTBEATS_OFFLINE,
  type FrameOf,
  type GatewayFrame,
  type ProviderFrame,
  type Telemetry,
} from '../../../shared/market-protocol';
import { VERSION } from '../../../shared/version';
import type { ScopedLogger } from '../logs/logger';
import type { NodeKey } from '../wallet/node-key';
import { GatewayConnection, type BackoffOptions, type ConnectionState } from './connection';
import { JobRunner, type JobRunnerOptions } from './jobs';

export type Capabilities = Omit<FrameOf<ProviderFrame, 'capabilities'>, 'v' | 'type'>;
type Hello = FrameOf<GatewayFrame, 'hello'>;

export type SessionPhase =
  'connecting' | 'logging-in' | 'ready' | 'paused' | 'waiting' | 'refused' | 'stopped' | 'invalid';

export interface SessionView {
  url: string;
  phase: SessionPhase;
  /** Words for the user. */
  detail: string;
  retryAt: number | null;
  retryInSeconds: number | null;
  latencyMs: number | null;
  address: string | null;
  sessionId: string | null;
  gateway: { name: string; version: string } | null;
  pausedReason: string | null;
  jobsServed: number;
  jobsDeclined: number;
  jobsFailed: number;
  activeJobs: number;
  connectedSince: number | null;
}

export interface SessionOptions {
  url: string;
  key: () => Promise<NodeKey>;
  log: ScopedLogger;
  capabilities: () => Promise<Capabilities>;
  telemetry: () => Telemetry;
  jobs: Omit<JobRunnerOptions, 'gatewayUrl' | 'log' | 'signReceipt'>;
  backoff?: BackoffOptions;
  /** Our own pause (the earning policy says no): sent as pause/resume. */
  localPause: () => string | null;
  /** Login messages expire this long after they are made. */
  loginTtlMs?: number;
  /** The node's payments (market/payments.ts): the payer and voucher frames go there. */
  payments?: SessionPayments;
  now?: () => number;
}

/** What a session asks of the node's payments (market/payments.ts ProviderPayments). */
export interface SessionPayments {
  onPayer(
    gateway: string,
    payer: FrameOf<GatewayFrame, 'payer'>['payer'],
  ): Promise<{
    ok: boolean;
    message: string;
  }>;
  onVoucher(
    gateway: string,
    f: FrameOf<GatewayFrame, 'voucher'>,
  ): Promise<
    Extract<Parameters<GatewayConnection['send']>[0], { type: 'voucher_ack' | 'voucher_rejected' }>
  >;
  onClosed(gateway: string): void;
}

type SessionEvents = {
  changed: [];
  /** A frame sent to the gateway that "What this app shares" shows. */
  shared: [kind: 'capabilities' | 'heartbeat', frame: Record<string, unknown>];
};

export class GatewaySession extends EventEmitter<SessionEvents> {
  readonly connection: GatewayConnection;
  readonly jobs: JobRunner;
  private hello: Hello | null = null;
  private phase: SessionPhase = 'stopped';
  private detail = '';
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private latencyMs: number | null = null;
  private address: string | null = null;
  private sessionId: string | null = null;
  private pausedReason: string | null = null;
  private sentPause: string | null = null;
  private lastCapabilities = '';
  private connectedSince: number | null = null;
  private readonly now: () => number;
  private generation = 0;

  constructor(private readonly opts: SessionOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.connection = new GatewayConnection({
      url: opts.url,
      log: opts.log,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
    });
    this.jobs = new JobRunner({
      ...opts.jobs,
      gatewayUrl: opts.url,
      log: opts.log,
      signReceipt: async (receipt, chainId) => {
        const key = await opts.key();
        const types = { Receipt: [...RECEIPT_TYPES.Receipt] };
        const signature = await key.signTypedData(
          receiptDomain(chainId),
          types,
          receiptValue(receipt),
        );
        return { ...receipt, signature };
      },
    });
    this.jobs.on('changed', () => this.emit('changed'));
    this.connection.on('state', (s) => this.onConnectionState(s));
    this.connection.on('frame', (f) => void this.onFrame(f));
    this.connection.on('close', (why) => this.onClose(why));
    if (this.connection.state.phase === 'invalid') {
      this.phase = 'invalid';
      this.detail = this.connection.state.error;
    }
  }

  get url(): string {
    return this.opts.url;
  }

  start(): void {
    this.connection.start();
  }

  stop(): void {
    this.jobs.stopAll();
    this.stopHeartbeats();
    this.connection.stop();
    this.jobs.detach();
    if (this.phase !== 'invalid') this.setPhase('stopped', 'Stopped');
  }

  view(): SessionView {
    const s = this.connection.state;
    return {
      url: this.opts.url,
      phase: this.phase,
      detail: this.detail,
      retryAt: s.phase === 'waiting' ? s.retryAt : null,
      retryInSeconds:
        s.phase === 'waiting' ? Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) : null,
      latencyMs: this.latencyMs,
      address: this.address,
      sessionId: this.sessionId,
      gateway: this.hello?.gateway ?? null,
      pausedReason: this.pausedReason,
      jobsServed: this.jobs.stats.served,
      jobsDeclined: this.jobs.stats.declined,
      jobsFailed: this.jobs.stats.failed,
      activeJobs: this.jobs.activeJobs,
      connectedSince: this.connectedSince,
    };
  }

  /** Capabilities changed (models, floors, parallelism, GPUs): send them again if different. */
  async refreshCapabilities(): Promise<void> {
    if (this.phase !== 'ready' && this.phase !== 'paused') return;
    await this.sendCapabilities(false);
  }

  /** The earning policy's answer changed: tell the gateway to stop or resume offers. */
  refreshPause(): void {
    if (this.phase !== 'ready' && this.phase !== 'paused') return;
    const reason = this.opts.localPause();
    if (reason === this.sentPause) return;
    this.sentPause = reason;
    if (reason !== null) this.connection.send({ type: 'pause', reason: reason.slice(0, 1024) });
    else this.connection.send({ type: 'resume' });
  }

  private onConnectionState(s: ConnectionState): void {
    if (s.phase === 'connecting') this.setPhase('connecting', 'Connecting');
    else if (s.phase === 'open') this.setPhase('logging-in', 'Signing in');
    else if (s.phase === 'waiting' && this.phase !== 'refused') {
      this.setPhase('waiting', `Gateway unreachable: ${s.lastError}`);
    }
  }

  private onClose(why: string): void {
    this.generation++;
    this.stopHeartbeats();
    this.jobs.detach();
    this.hello = null;
    this.sessionId = null;
    this.connectedSince = null;
    this.sentPause = null;
    this.lastCapabilities = '';
    this.opts.payments?.onClosed(this.opts.url);
    this.opts.log.info('gateway session closed', { gateway: this.opts.url, reason: why });
  }

  private async onFrame(frame: GatewayFrame): Promise<void> {
    try {
      switch (frame.type) {
        case 'hello':
          return await this.onHello(frame);
        case 'login_ok':
          return await this.onLoginOk(frame);
        case 'login_refused':
          this.setPhase(
            'refused',
            `The gateway refused the sign-in (${frame.code}): ${frame.message}`,
          );
          this.opts.log.warn('gateway refused the login', {
            gateway: this.opts.url,
            code: frame.code,
            message: frame.message,
          });
          this.connection.drop('login refused');
          return;
        case 'heartbeat_ack':
          this.latencyMs = Math.max(0, Math.round((this.now() - frame.t) * 10) / 10);
          this.emit('changed');
          return;
        case 'away_ack':
          this.jobs.settleAway(frame.settled ?? []);
          this.jobs.away.ack(frame.jobIds);
          return;
        case 'pause':
          this.pausedReason = frame.reason;
          this.setPhase('paused', `Paused by the gateway: ${frame.reason}`);
          return;
        case 'resume':
          this.pausedReason = null;
          this.setPhase('ready', 'Connected, waiting for jobs');
          return;
        case 'payer': {
          const p = this.opts.payments;
          const r = p
            ? await p.onPayer(this.opts.url, frame.payer)
            : { ok: false, message: 'This node takes no payments' };
          this.connection.send({ type: 'payer_ack', ok: r.ok, message: r.message.slice(0, 1024) });
          return;
        }
        case 'voucher': {
          const p = this.opts.payments;
          this.connection.send(
            p
              ? await p.onVoucher(this.opts.url, frame)
              : {
                  type: 'voucher_rejected',
                  reason: 'unpaid',
                  message: 'This node takes no payments',
                  cumulative: frame.voucher.cumulative,
                },
          );
          return;
        }
        case 'protocol_error':
          this.opts.log.warn('the gateway reported a protocol error', {
            gateway: this.opts.url,
            code: frame.code,
            message: frame.message,
            fatal: frame.fatal,
          });
          return;
        default:
          if (this.phase !== 'ready' && this.phase !== 'paused') {
            this.connection.send({
              type: 'protocol_error',
              code: 'UNEXPECTED',
              message: `${frame.type} before login`,
              fatal: false,
            });
            return;
          }
          this.jobs.onFrame(frame);
      }
    } catch (err) {
      // Nothing a gateway sends may end the process: log, tell the gateway, keep the session.
      this.opts.log.error('handling a gateway frame failed', {
        gateway: this.opts.url,
        type: frame.type,
        error: (err as Error).message,
      });
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    const gen = this.generation;
    this.hello = hello;
    this.jobs.remember(hello.origin, hello.chainId);
    let key: NodeKey;
    try {
      key = await this.opts.key();
    } catch (err) {
      this.setPhase('refused', (err as Error).message);
      this.connection.drop('node key unavailable');
      return;
    }
    if (gen !== this.generation) return;
    const issuedAt = new Date(this.now());
    const expiry = Math.min(
      Date.parse(hello.expiresAt),
      this.now() + (this.opts.loginTtlMs ?? 5 * 60_000),
    );
    const message = buildSiweMessage({
      domain: originHost(hello.origin),
      address: key.address,
      statement: 'Sign in to the Idlerig market as a provider.',
      uri: hello.origin,
      version: '1',
      chainId: hello.chainId,
      nonce: hello.nonce,
      issuedAt: issuedAt.toISOString(),
      expirationTime: new Date(expiry).toISOString(),
    });
    const signature = await key.signMessage(message);
    if (gen !== this.generation) return;
    this.connection.send({
      type: 'login',
      message,
      signature,
      client: { name: 'idlerig', version: VERSION },
    });
  }

  private async onLoginOk(ok: FrameOf<GatewayFrame, 'login_ok'>): Promise<void> {
    const hello = this.hello;
    if (!hello) return;
    this.address = ok.address;
    this.sessionId = ok.sessionId;
    this.connectedSince = this.now();
    this.connection.resetBackoff();
    this.connection.setSilenceLimit(hello.heartbeatMs * (MISSED_HEARTBEATS_OFFLINE + 1));
    const conn = this.connection;
    this.jobs.attach({
      send: (f) => conn.send(f),
      drained: (b) => conn.drained(b),
      get bufferedAmount() {
        return conn.bufferedAmount;
      },
      origin: hello.origin,
      chainId: hello.chainId,
    });
    this.setPhase('ready', 'Connected, waiting for jobs');
    this.opts.log.info('signed in to the gateway', {
      gateway: this.opts.url,
      address: ok.address,
      session: ok.sessionId,
    });
    await this.sendCapabilities(true);
    const away = this.jobs.away.pending();
    if (away.length > 0) {
      this.connection.send({ type: 'away_report', jobs: away });
      this.opts.log.info('reported jobs that ended while away', {
        gateway: this.opts.url,
        jobs: away.length,
      });
    }
    this.refreshPause();
    this.startHeartbeats(hello.heartbeatMs);
  }

  private async sendCapabilities(force: boolean): Promise<void> {
    const caps = await this.opts.capabilities();
    const text = JSON.stringify(caps);
    if (!force && text === this.lastCapabilities) return;
    this.lastCapabilities = text;
    const frame = { ...caps, type: 'capabilities' as const };
    if (this.connection.send(frame)) this.emit('shared', 'capabilities', { v: 1, ...frame });
  }

  private startHeartbeats(ms: number): void {
    this.stopHeartbeats();
    const beat = (): void => {
      const frame = { type: 'heartbeat' as const, t: this.now(), telemetry: this.opts.telemetry() };
      if (this.connection.send(frame)) this.emit('shared', 'heartbeat', { v: 1, ...frame });
    };
    beat();
    this.heartbeatTimer = setInterval(beat, ms);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private setPhase(phase: SessionPhase, detail: string): void {
    if (this.phase === phase && this.detail === detail) return;
    this.phase = phase;
    this.detail = detail;
    this.emit('changed');
  }
}
