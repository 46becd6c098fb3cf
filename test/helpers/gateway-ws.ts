// A raw provider connection for the gateway's protocol tests: frames in and out by hand, a real
// secp256k1 wallet for the SIWE login.
import WebSocket from 'ws';
import type { Wallet, HDNodeWallet } from 'ethers';
import {
  encodeFrame,
  gatewayWsUrl,
  parseGatewayFrame,
  type FrameOf,
  type GatewayFrame,
} from '../../shared/market-protocol';
import { buildSiweMessage, originHost, type SiweMessage } from '../../shared/siwe';

export class RawProvider {
  readonly ws: WebSocket;
  readonly frames: GatewayFrame[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(gatewayUrl: string) {
    const t = gatewayWsUrl(gatewayUrl);
    if (!t.ok) throw new Error(t.error);
    this.ws = new WebSocket(t.wsUrl);
    this.ws.on('error', () => undefined);
    this.opened = new Promise((r) => this.ws.once('open', () => r()));
    this.closed = new Promise((r) =>
      this.ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    this.ws.on('message', (d) => {
      const p = parseGatewayFrame(d.toString());
      if (p.ok) this.frames.push(p.frame);
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    this.ws.on('close', () => {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  /** The next frame of a type (frames already received count), or null when the socket closed. */
  async next<T extends GatewayFrame['type']>(
    type: T,
    timeoutMs = 10_000,
  ): Promise<FrameOf<GatewayFrame, T>> {
    const t0 = Date.now();
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0] as FrameOf<GatewayFrame, T>;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed before a ${type} frame`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`no ${type} frame within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  send(f: Parameters<typeof encodeFrame>[0]): void {
    this.ws.send(encodeFrame(f));
  }

  sendRaw(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** The SIWE message a well-behaved provider builds from the hello. */
  static message(
    hello: FrameOf<GatewayFrame, 'hello'>,
    address: string,
    over: Partial<SiweMessage> = {},
  ): string {
    const now = Date.now();
    return buildSiweMessage({
      domain: originHost(hello.origin),
      address,
      statement: 'Idlerig provider login',
      uri: hello.origin,
      version: '1',
      chainId: hello.chainId,
      nonce: hello.nonce,
      issuedAt: new Date(now).toISOString(),
      expirationTime: new Date(now + 60_000).toISOString(),
      ...over,
    });
  }

  /** hello -> login; resolves with the login_ok or login_refused frame. */
  async login(
    wallet: Wallet | HDNodeWallet,
    over: Partial<SiweMessage> = {},
    signer: Wallet | HDNodeWallet = wallet,
  ): Promise<FrameOf<GatewayFrame, 'login_ok'> | FrameOf<GatewayFrame, 'login_refused'>> {
    const hello = await this.next('hello');
    const message = RawProvider.message(hello, wallet.address, over);
    this.send({
      type: 'login',
      message,
      signature: await signer.signMessage(message),
      client: { name: 'raw', version: '1' },
    });
    return this.firstOf(['login_ok', 'login_refused']);
  }

  async firstOf<T extends GatewayFrame['type']>(
    types: T[],
    timeoutMs = 10_000,
  ): Promise<FrameOf<GatewayFrame, T>> {
    const t0 = Date.now();
    for (;;) {
      const i = this.frames.findIndex((f) => (types as string[]).includes(f.type));
      if (i >= 0) return this.frames.splice(i, 1)[0] as FrameOf<GatewayFrame, T>;
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error(`closed before ${types.join('/')}`);
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`no ${types.join('/')} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}
