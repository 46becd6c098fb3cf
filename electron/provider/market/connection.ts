// One WebSocket to one gateway, dialled out (no port forwarding): wss:// required except to
// loopback (gatewayWsUrl), redialled with exponential backoff and jitter, frames parsed with the
// protocol's never-throwing parser. A frame that fails to parse is answered with a protocol error
// and the connection goes on; a socket silent for too long is dropped and redialled.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import {
  MAX_FRAME_BYTES,
  encodeFrame,
  gatewayWsUrl,
  parseGatewayFrame,
  type GatewayFrame,
  type ProviderFrame,
} from '../../../shared/market-protocol';
import type { ScopedLogger } from '../logs/logger';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1: the share of each delay that is random (0.5: between half and the full delay). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 60_000, jitter: 0.5 };

/** The delay before redial number `attempt` (0-based): initial·2^attempt, capped, jittered. */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - opts.jitter) + base * opts.jitter * random());
}

export type ConnectionState =
  | { phase: 'connecting'; attempt: number }
  | { phase: 'open' }
  | { phase: 'waiting'; retryAt: number; delayMs: number; lastError: string }
  | { phase: 'stopped' }
  | { phase: 'invalid'; error: string };

type Body<F> = F extends unknown ? Omit<F, 'v'> : never;
export type OutFrame = Body<ProviderFrame>;

type ConnectionEvents = {
  open: [];
  frame: [GatewayFrame];
  /** The socket closed (it is redialled unless stopped). */
  close: [string];
  state: [ConnectionState];
};

export interface ConnectionOptions {
  /** The gateway URL as it prints it, or its ws(s) URL. */
  url: string;
  log: ScopedLogger;
  backoff?: BackoffOptions;
  /** Drop a socket after this long without any frame from the gateway (set by the session). */
  silenceMs?: number;
  random?: () => number;
}

export class GatewayConnection extends EventEmitter<ConnectionEvents> {
  readonly url: string;
  readonly wsUrl: string | null;
  readonly origin: string | null;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private silenceMs: number;
  private current: ConnectionState;
  private stopped = true;
  private readonly backoff: BackoffOptions;
  /** Frames sent and bytes of them, for the status view. */
  readonly counters = { framesIn: 0, framesOut: 0, badFramesIn: 0 };

  constructor(private readonly opts: ConnectionOptions) {
    super();
    this.url = opts.url;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.silenceMs = opts.silenceMs ?? 90_000;
    const parsed = gatewayWsUrl(opts.url);
    if (parsed.ok) {
      this.wsUrl = parsed.wsUrl;
      this.origin = parsed.origin;
      this.current = { phase: 'stopped' };
    } else {
      this.wsUrl = null;
      this.origin = null;
      this.current = { phase: 'invalid', error: parsed.error };
    }
  }

  get state(): ConnectionState {
    return this.current;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the socket and not yet written: the sender's backpressure signal. */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  start(): void {
    if (!this.wsUrl || !this.stopped) return;
    this.stopped = false;
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.close(1000, 'provider stopping');
      // A gateway that never answers the close handshake does not hold the socket open.
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    if (this.current.phase !== 'invalid') this.setState({ phase: 'stopped' });
  }

  /** A successful login: the next failure starts the backoff from its first step again. */
  resetBackoff(): void {
    this.attempt = 0;
  }

  /** How long without a frame from the gateway before the socket is dropped. */
  setSilenceLimit(ms: number): void {
    this.silenceMs = ms;
    this.armSilence();
  }

  send(frame: OutFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encodeFrame(frame));
    this.counters.framesOut++;
    return true;
  }

  /** Resolves once the socket's queue is below `bytes` (or the socket is gone). */
  async drained(bytes: number): Promise<void> {
    while (this.ws && this.ws.readyState === WebSocket.OPEN && this.ws.bufferedAmount > bytes) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Closes this socket (e.g. after a login refusal); it is redialled with the backoff. */
  drop(reason: string): void {
    this.ws?.close(1008, reason.slice(0, 120));
  }

  private dial(): void {
    if (this.stopped || !this.wsUrl) return;
    this.setState({ phase: 'connecting', attempt: this.attempt });
    const ws = new WebSocket(this.wsUrl, {
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    let lastError = 'the connection closed';
    ws.on('open', () => {
      this.armSilence();
      this.setState({ phase: 'open' });
      this.emit('open');
    });
    ws.on('message', (data, isBinary) => {
      this.armSilence();
      const parsed = parseGatewayFrame(isBinary ? data : data.toString());
      if (!parsed.ok) {
        this.counters.badFramesIn++;
        this.opts.log.warn('bad frame from the gateway', {
          gateway: this.url,
          code: parsed.code,
          message: parsed.message,
        });
        this.send({
          type: 'protocol_error',
          code: parsed.code,
          message: parsed.message,
          fatal: false,
        });
        return;
      }
      this.counters.framesIn++;
      this.emit('frame', parsed.frame);
    });
    ws.on('error', (err) => {
      lastError = describeError(err);
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      const why =
        reason.length > 0 ? reason.toString() : code === 1006 ? lastError : `closed (${code})`;
      this.emit('close', why);
      if (this.stopped) return;
      const delayMs = backoffDelay(this.attempt, this.backoff, this.opts.random);
      this.attempt++;
      this.setState({ phase: 'waiting', retryAt: Date.now() + delayMs, delayMs, lastError: why });
      this.opts.log.info('gateway connection lost; redialling', {
        gateway: this.url,
        reason: why,
        retryInMs: delayMs,
      });
      this.timer = setTimeout(() => {
        this.timer = null;
        this.dial();
      }, delayMs);
      this.timer.unref();
    });
  }

  private armSilence(): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
    if (!this.ws) return;
    const ws = this.ws;
    this.silenceTimer = setTimeout(() => {
      this.opts.log.warn('gateway silent; dropping the connection', {
        gateway: this.url,
        silentMs: this.silenceMs,
      });
      ws.terminate();
    }, this.silenceMs);
    this.silenceTimer.unref();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.timer = this.silenceTimer = null;
  }

  private setState(s: ConnectionState): void {
    this.current = s;
    this.emit('state', s);
  }
}

function describeError(err: Error & { code?: string }): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND') return 'host not found';
  if (err.code === 'ECONNRESET') return 'connection reset';
  if (err.code === 'ETIMEDOUT') return 'timed out';
  return err.message.replace(/^Unexpected server response: /, 'refused with HTTP ');
}
