// The dashboard's only way to the node. Two implementations of one interface: Electron IPC
// (through the preload's named methods) and HTTP + WebSocket (the headless node on loopback).
// Results and events are validated against the shared contract before the UI sees them.
import {
  ApiEventSchema,
  ServerMessageSchema,
  contract,
  type ApiEvent,
  type CallOutcome,
  type MethodName,
  type Params,
  type PreloadBridge,
  type Result,
} from '../../../shared/api';
import { IdlerigError, isErrorBody } from '../../../shared/errors';

/**
 * `refused`: the node answers but refuses this page's token (it restarted with a new one, so the
 * page needs the new Dashboard link; the client keeps trying, a new link opened in another tab
 * gives this page the cookie too).
 */
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'refused';

export interface ApiClient {
  readonly transport: 'ipc' | 'http';
  call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>>;
  /** Node events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** Whether the event stream is connected (always open over IPC). */
  onConnection(listener: (state: ConnectionState) => void): () => void;
}

function checkResult<M extends MethodName>(method: M, value: unknown): Result<M> {
  const parsed = contract[method].result.safeParse(value);
  if (!parsed.success)
    throw new IdlerigError('INTERNAL', `The node sent an invalid result for ${method}`);
  return parsed.data as Result<M>;
}

declare global {
  interface Window {
    idlerig?: PreloadBridge;
  }
}

export class IpcApiClient implements ApiClient {
  readonly transport = 'ipc' as const;
  constructor(private readonly bridge: PreloadBridge) {}

  async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    const outcome = (await this.bridge[method](params)) as CallOutcome;
    if (!outcome.ok) {
      throw isErrorBody(outcome.error)
        ? IdlerigError.fromBody(outcome.error)
        : new IdlerigError('INTERNAL', 'Malformed error');
    }
    return checkResult(method, outcome.result);
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    return this.bridge.onEvent((raw) => {
      const parsed = ApiEventSchema.safeParse(raw);
      if (parsed.success) listener(parsed.data);
    });
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    listener('open');
    return () => undefined;
  }
}

/** Over HTTP the page is authenticated by the HttpOnly cookie it got for the token in its URL. */
export class HttpApiClient implements ApiClient {
  readonly transport = 'http' as const;
  private readonly listeners = new Set<(event: ApiEvent) => void>();
  private readonly connListeners = new Set<(state: ConnectionState) => void>();
  private socket: WebSocket | null = null;
  private state: ConnectionState = 'closed';
  private retry = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly base: string = window.location.origin) {}

  async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/rpc/${method}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params),
      });
    } catch {
      this.unanswered();
      throw new IdlerigError('UNAVAILABLE', 'The node does not answer. Is it still running?');
    }
    const body = (await res.json().catch(() => null)) as {
      result?: unknown;
      error?: unknown;
    } | null;
    if (body && isErrorBody(body.error)) throw IdlerigError.fromBody(body.error);
    if (!res.ok || !body)
      throw new IdlerigError('INTERNAL', `Unexpected answer from the node (HTTP ${res.status})`);
    return checkResult(method, body.result);
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    this.ensureSocket();
    return () => {
      this.listeners.delete(listener);
    };
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.connListeners.add(listener);
    listener(this.state);
    this.ensureSocket();
    return () => {
      this.connListeners.delete(listener);
    };
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const l of this.connListeners) l(state);
  }

  /**
   * A call got no answer: the event socket may still look open (an offline browser keeps it, as
   * may a half-open TCP connection), so it is dropped and the reconnect loop decides; the
   * connection banner shows meanwhile and the pages reload once it is open again.
   */
  private unanswered(): void {
    const ws = this.socket;
    if (!ws || this.state !== 'open') return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    this.closed();
  }

  private closed(): void {
    this.socket = null;
    this.setState('closed');
    // A browser does not say why a WebSocket was refused: ask the node once with a call.
    void this.tokenRefused().then((refused) => {
      if (refused && this.state === 'closed') this.setState('refused');
    });
    // Reconnect with a growing delay (0.5 s … 10 s): the node may be restarting.
    const delay = Math.min(10_000, 500 * 2 ** this.retry++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.ensureSocket();
    }, delay);
  }

  /** Whether the node answers and refuses this page's token (HTTP 401). */
  private async tokenRefused(): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/api/rpc/status.get`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return res.status === 401;
    } catch {
      return false;
    }
  }

  private ensureSocket(): void {
    if (this.socket || this.retryTimer) return;
    const url = new URL('/api/events', this.base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.setState('connecting');
    const ws = new WebSocket(url);
    this.socket = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.setState('open');
    };
    ws.onmessage = (msg) => {
      let data: unknown;
      try {
        data = JSON.parse(String(msg.data));
      } catch {
        return;
      }
      const parsed = ServerMessageSchema.safeParse(data);
      if (parsed.success && parsed.data.kind === 'event') {
        for (const l of this.listeners) l(parsed.data.event);
      }
    };
    ws.onclose = () => this.closed();
  }
}

export function createApiClient(): ApiClient {
  return window.idlerig ? new IpcApiClient(window.idlerig) : new HttpApiClient();
}
