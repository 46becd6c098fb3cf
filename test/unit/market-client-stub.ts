// A minimal gateway for the market client's tests: a real WebSocket server on a free loopback
// port that speaks the wire protocol (shared/market-protocol.ts) from the gateway's side: hello
// with a single-use nonce, EIP-4361 login checked field by field and by signature (ethers),
// and whatever frames a test sends. It records every frame the provider sent, per connection.
// (The real gateway is gateway/; these tests pin the provider's side of the protocol.)
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { verifyMessage } from 'ethers';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  encodeFrame,
  parseProviderFrame,
  PROVIDER_WS_PATH,
  type GatewayFrame,
  type ProviderFrame,
} from '../../shared/market-protocol';
import { checkSiweMessage, parseSiweMessage } from '../../shared/siwe';

type Body<F> = F extends unknown ? Omit<F, 'v'> : never;

export interface StubConnection {
  ws: WebSocket;
  nonce: string;
  frames: ProviderFrame[];
  address: string | null;
  refusal: string | null;
  send(frame: Body<GatewayFrame>): void;
  sendRaw(text: string): void;
}

export class StubGateway {
  readonly connections: StubConnection[] = [];
  private wss!: WebSocketServer;
  private waiters: (() => void)[] = [];
  port = 0;
  readonly chainId = 31337;
  heartbeatMs = 200;
  usedNonces = new Set<string>();
  /** Accept logins (else: refuse them with this code). */
  refuseWith: 'BANNED' | null = null;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get origin(): string {
    return this.url;
  }

  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port, path: PROVIDER_WS_PATH });
    await new Promise<void>((r) => this.wss.once('listening', () => r()));
    this.port = (this.wss.address() as AddressInfo).port;
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  /** The latest connection. */
  get last(): StubConnection {
    const c = this.connections.at(-1);
    if (!c) throw new Error('no provider connected');
    return c;
  }

  /** Resolves when `pred` holds, re-checked on every frame; fails after ms. */
  async until<T>(pred: () => T | undefined | null | false, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > deadline) throw new Error('timed out waiting for the provider');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Frames of one type sent on a connection (the latest by default). */
  framesOf<T extends ProviderFrame['type']>(
    type: T,
    conn: StubConnection | undefined = this.connections.at(-1),
  ): Extract<ProviderFrame, { type: T }>[] {
    return (conn?.frames ?? []).filter((f) => f.type === type) as Extract<
      ProviderFrame,
      { type: T }
    >[];
  }

  private onConnection(ws: WebSocket): void {
    const nonce = randomBytes(12).toString('hex');
    const conn: StubConnection = {
      ws,
      nonce,
      frames: [],
      address: null,
      refusal: null,
      send: (f) => ws.send(encodeFrame(f)),
      sendRaw: (t) => ws.send(t),
    };
    this.connections.push(conn);
    ws.on('message', (data) => {
      const parsed = parseProviderFrame(data.toString());
      if (!parsed.ok) throw new Error(`the provider sent a bad frame: ${parsed.message}`);
      conn.frames.push(parsed.frame);
      if (parsed.frame.type === 'login') this.onLogin(conn, parsed.frame);
      if (parsed.frame.type === 'heartbeat')
        conn.send({ type: 'heartbeat_ack', t: parsed.frame.t });
      for (const w of this.waiters.splice(0)) w();
    });
    conn.send({
      type: 'hello',
      nonce,
      origin: this.origin,
      chainId: this.chainId,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      heartbeatMs: this.heartbeatMs,
      maxFrameBytes: 8 * 1024 * 1024,
      gateway: { name: 'stub-gateway', version: '0' },
    });
  }

  private onLogin(conn: StubConnection, f: Extract<ProviderFrame, { type: 'login' }>): void {
    const refuse = (code: string): void => {
      conn.refusal = code;
      conn.send({ type: 'login_refused', code: code as 'BANNED', message: code });
      conn.ws.close(1008, 'login refused');
    };
    const m = parseSiweMessage(f.message);
    if (!m.ok) return refuse('MALFORMED');
    const failure = checkSiweMessage(m.message, {
      origin: this.origin,
      chainId: this.chainId,
      nonce: conn.nonce,
      nowMs: Date.now(),
    });
    if (failure) return refuse(failure);
    if (this.usedNonces.has(conn.nonce)) return refuse('NONCE_REPLAYED');
    this.usedNonces.add(conn.nonce);
    if (verifyMessage(f.message, f.signature) !== m.message.address) return refuse('BAD_SIGNATURE');
    if (this.refuseWith) return refuse(this.refuseWith);
    conn.address = m.message.address;
    conn.send({
      type: 'login_ok',
      address: m.message.address,
      sessionId: `s${this.connections.length}`,
    });
  }
}
