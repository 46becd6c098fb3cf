// One provider's WebSocket session: hello, login, capabilities, heartbeats, pause, and the jobs
// it runs (each with a sink that dispatch.ts gave it). A frame that fails to parse gets a
// protocol_error; before login, or past a budget of errors, the session closes cleanly. Nothing
// a provider sends can throw out of here.
import type WebSocket from 'ws';
import {
  MISSED_HEARTBEATS_OFFLINE,
  encodeFrame,
  parseProviderFrame,
  type FrameOf,
  type GatewayFrame,
  type ModelCapability,
  type ProtocolErrorCode,
  type ProviderFrame,
} from '../../shared/market-protocol';
import { verifyLogin, type NonceBook } from './login';

type P<T extends ProviderFrame['type']> = FrameOf<ProviderFrame, T>;
type OfferBody = Omit<FrameOf<GatewayFrame, 'offer'>, 'v' | 'type'>;

/** What a job's dispatcher hears from the provider. */
export interface JobSink {
  accepted(): void;
  declined(reason: string, message: string | undefined): void;
  chunk(text: string, tokens: number): void;
  done(frame: P<'done'>): void;
  failed(frame: P<'error'>): void;
  /** The session ended (closed, offline, replaced) while the job ran. */
  lost(reason: string): void;
}

export interface SessionConfig {
  origin: string;
  chainId: number;
  heartbeatMs: number;
  maxFrameBytes: number;
  loginTimeoutMs: number;
  gateway: { name: string; version: string };
  nonces: NonceBook;
  /** Protocol errors tolerated per minute after login before the session is closed. */
  maxErrorsPerMinute: number;
}

export interface SessionHooks {
  loggedIn(s: ProviderSession): void;
  changed(s: ProviderSession): void;
  closed(s: ProviderSession): void;
  protocolError(code: ProtocolErrorCode): void;
  /** What the ledger charged for the reported jobs (sent back in the away_ack). */
  awayReport(
    s: ProviderSession,
    jobs: P<'away_report'>['jobs'],
  ): FrameOf<GatewayFrame, 'away_ack'>['settled'];
  /** The provider answered a payer or voucher frame (gateway/payments/dispatch-hook.ts). */
  payment?(s: ProviderSession, frame: P<'payer_ack' | 'voucher_ack' | 'voucher_rejected'>): void;
}

let nextSession = 1;

export class ProviderSession {
  readonly id = `s${nextSession++}`;
  address: string | null = null;
  models: ModelCapability[] = [];
  parallelism = 0;
  gpus: P<'capabilities'>['gpus'] = [];
  telemetry: P<'heartbeat'>['telemetry'] | null = null;
  paused: string | null = null;
  /** Paused by the operator (gateway -> provider pause). */
  held: string | null = null;
  lastHeard = Date.now();
  readonly jobs = new Map<string, JobSink>();
  /** jobs.size, kept as a field: the matcher reads it for a few random sessions per job, and a
   * Map's size is two cache misses away (the Map, then its table) where this is none. */
  private running = 0;
  private readonly nonce: string;
  private readonly helloAt = Date.now();
  private loginTimer: NodeJS.Timeout | null;
  private errors: number[] = [];
  private isClosed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly cfg: SessionConfig,
    private readonly hooks: SessionHooks,
  ) {
    this.nonce = cfg.nonces.issue();
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.onClose('the connection closed'));
    ws.on('error', () => this.onClose('the connection failed'));
    this.send({
      type: 'hello',
      nonce: this.nonce,
      origin: cfg.origin,
      chainId: cfg.chainId,
      expiresAt: new Date(this.helloAt + cfg.loginTimeoutMs).toISOString(),
      heartbeatMs: cfg.heartbeatMs,
      maxFrameBytes: cfg.maxFrameBytes,
      gateway: cfg.gateway,
    });
    this.loginTimer = setTimeout(() => {
      this.refuse('EXPIRED', 'No login arrived in time');
    }, cfg.loginTimeoutMs);
  }

  get online(): boolean {
    return this.address !== null && !this.isClosed;
  }

  /** Jobs it may take now. */
  get free(): number {
    if (!this.online || this.paused || this.held) return 0;
    return this.parallelism - this.running;
  }

  send(f: Parameters<typeof encodeFrame>[0]): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeFrame(f));
  }

  /** Sends an offer; the sink hears every frame of that job until done, error or loss. */
  offer(body: OfferBody, sink: JobSink): void {
    this.jobs.set(body.jobId, sink);
    this.running = this.jobs.size;
    this.send({ type: 'offer', ...body });
  }

  /** The dispatcher gives up a job (after cancel was answered, or on its own timeout). */
  forget(jobId: string): void {
    this.drop(jobId);
  }

  private drop(jobId: string): void {
    this.jobs.delete(jobId);
    this.running = this.jobs.size;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, reason.slice(0, 120));
    }
    this.onClose(reason);
  }

  /** Heartbeats stopped: the provider is offline. */
  checkAlive(now: number): void {
    if (!this.online) return;
    if (now - this.lastHeard > this.cfg.heartbeatMs * MISSED_HEARTBEATS_OFFLINE) {
      this.close(4001, 'missed heartbeats');
    }
  }

  private onClose(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.loginTimer) clearTimeout(this.loginTimer);
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    this.running = 0;
    for (const sink of jobs) sink.lost(reason);
    this.hooks.closed(this);
    if (this.ws.readyState === this.ws.OPEN) this.ws.terminate();
  }

  private protocolError(code: ProtocolErrorCode, message: string): void {
    this.hooks.protocolError(code);
    const now = Date.now();
    this.errors = this.errors.filter((t) => now - t < 60_000);
    this.errors.push(now);
    const fatal = !this.online || this.errors.length > this.cfg.maxErrorsPerMinute;
    this.send({ type: 'protocol_error', code, message, fatal });
    if (fatal) this.close(1008, `protocol error: ${code}`);
  }

  private refuse(code: FrameOf<GatewayFrame, 'login_refused'>['code'], message: string): void {
    this.send({ type: 'login_refused', code, message });
    this.close(1008, `login refused: ${code}`);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.isClosed) return;
    if (isBinary) return this.protocolError('MALFORMED', 'Frames are JSON text');
    try {
      const raw = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      const r = parseProviderFrame(raw.toString('utf8'), this.cfg.maxFrameBytes);
      if (!r.ok) return this.protocolError(r.code, r.message);
      this.lastHeard = Date.now();
      this.handle(r.frame);
    } catch (err) {
      // A frame that breaks the parser (it must not) or a sink that throws must not take the
      // gateway down: this listener runs inside the socket's data event; the frame is refused.
      this.protocolError('UNEXPECTED', `The frame could not be handled: ${(err as Error).message}`);
    }
  }

  private handle(f: ProviderFrame): void {
    if (!this.address) {
      if (f.type !== 'login') return this.protocolError('UNEXPECTED', 'Log in first');
      return this.login(f);
    }
    switch (f.type) {
      case 'login':
        return this.protocolError('UNEXPECTED', 'Already logged in');
      case 'capabilities':
        this.models = f.models;
        this.parallelism = f.parallelism;
        this.gpus = f.gpus;
        return this.hooks.changed(this);
      case 'heartbeat':
        this.telemetry = f.telemetry;
        return this.send({ type: 'heartbeat_ack', t: f.t });
      case 'away_report': {
        const settled = this.hooks.awayReport(this, f.jobs);
        return this.send({
          type: 'away_ack',
          jobIds: f.jobs.map((j) => j.jobId),
          ...(settled && settled.length > 0 ? { settled } : {}),
        });
      }
      case 'pause':
        this.paused = f.reason;
        return this.hooks.changed(this);
      case 'resume':
        this.paused = null;
        return this.hooks.changed(this);
      case 'protocol_error':
        return;
      case 'payer_ack':
      case 'voucher_ack':
      case 'voucher_rejected':
        return this.hooks.payment?.(this, f);
      case 'accept':
        return this.job(f.jobId)?.accepted();
      case 'decline': {
        const sink = this.job(f.jobId);
        this.drop(f.jobId);
        return sink?.declined(f.reason, f.message);
      }
      case 'chunk':
        return this.job(f.jobId)?.chunk(f.text, f.tokens);
      case 'done': {
        const sink = this.job(f.jobId);
        this.drop(f.jobId);
        return sink?.done(f);
      }
      case 'error': {
        const sink = this.job(f.jobId);
        this.drop(f.jobId);
        return sink?.failed(f);
      }
    }
  }

  private job(jobId: string): JobSink | undefined {
    const sink = this.jobs.get(jobId);
    // A late frame of a job the gateway gave up (cancelled, timed out) is dropped quietly.
    return sink;
  }

  private login(f: P<'login'>): void {
    const now = Date.now();
    if (now - this.helloAt > this.cfg.loginTimeoutMs) {
      return this.refuse('EXPIRED', 'The login came after the nonce expired');
    }
    const r = verifyLogin(
      f,
      { origin: this.cfg.origin, chainId: this.cfg.chainId, nonce: this.nonce, nowMs: now },
      this.cfg.nonces,
    );
    if (!r.ok) return this.refuse(r.code, r.message);
    if (this.loginTimer) clearTimeout(this.loginTimer);
    this.loginTimer = null;
    this.address = r.address;
    this.send({ type: 'login_ok', address: r.address, sessionId: this.id });
    this.hooks.loggedIn(this);
  }
}
