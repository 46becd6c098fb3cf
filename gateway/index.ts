// Starting and stopping a gateway: the store, keys, prices, provider registry, dispatcher,
// receipt verifier, metrics and the HTTP/WebSocket server, wired together.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { WebSocket } from 'ws';
import { MAX_FRAME_BYTES } from '../shared/market-protocol';
import { VERSION } from '../shared/version';
import { Dispatcher, type FinalCharge } from './dispatch';
import { reconcileAway } from './away';
import { KeyService } from './keys';
import { GatewayMetrics } from './metrics';
import { PriceList } from './prices';
import type { PaymentsHook } from './payments/dispatch-hook';
import { NonceBook } from './providers/login';
import { ProviderRegistry } from './providers/registry';
import { ProviderSession } from './providers/session';
import { ReceiptVerifier } from './receipts';
import { createGatewayServer } from './server';
import type { Services } from './services';
import { SqliteStore } from './storage/sqlite';
import type { GatewayStore } from './storage/types';

export interface GatewayOptions {
  dataDir: string;
  port?: number;
  host?: string;
  /** The origin providers sign in to (default http://HOST:PORT, 127.0.0.1 for a wildcard host). */
  origin?: string;
  chainId?: number;
  prices?: PriceList;
  heartbeatMs?: number;
  loginTimeoutMs?: number;
  waitForProviderMs?: number;
  maxRetries?: number;
  offerTimeoutMs?: number;
  jobTimeoutMs?: number;
  cancelGraceMs?: number;
  maxFrameBytes?: number;
  maxBodyBytes?: number;
  /** A store other than the data folder's SQLite database. */
  store?: GatewayStore;
  /** Where a job's charge is final. */
  onCharge?: (c: FinalCharge) => void;
  /** The gateway as payer (gateway/payments/setup.ts); absent: providers are not paid on chain. */
  payments?: PaymentsHook;
  log?: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void;
  defaultMetrics?: boolean;
  /** Check receipt signatures (default true; the capacity benchmark's stubs do not sign). */
  verifyReceipts?: boolean;
}

export interface RunningGateway {
  url: string;
  port: number;
  origin: string;
  store: GatewayStore;
  registry: ProviderRegistry;
  verifier: ReceiptVerifier;
  metrics: GatewayMetrics;
  close(): Promise<void>;
}

export const GATEWAY_DB = 'gateway.sqlite';

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const log = o.log ?? (() => undefined);
  mkdirSync(o.dataDir, { recursive: true });
  const store =
    o.store ??
    new SqliteStore(join(o.dataDir, GATEWAY_DB), {
      writer: 'thread',
      onError: (message) => log('error', message),
    });
  const host = o.host ?? '127.0.0.1';
  const payments = o.payments ?? null;
  const chainId = o.chainId ?? payments?.announce.chainId ?? 31337;
  const maxFrameBytes = o.maxFrameBytes ?? MAX_FRAME_BYTES;
  const metrics = new GatewayMetrics({ defaultMetrics: o.defaultMetrics ?? true });
  const registry = new ProviderRegistry();
  const prices = o.prices ?? new PriceList();
  const keys = new KeyService(store);
  // The origin is known once the port is: the dispatcher and sessions read it through this box.
  const box = { origin: o.origin ?? '' };
  const verifier = new ReceiptVerifier(
    store,
    chainId,
    (provider, jobId) => {
      log('warn', 'a provider receipt failed verification', { provider, jobId });
      registry.noteFailure(provider);
    },
    2,
    10_000,
    o.verifyReceipts ?? true,
  );
  let dispatcher: Dispatcher | null = null;
  const services: Services = {
    keys,
    registry,
    prices,
    store,
    metrics,
    maxBodyBytes: o.maxBodyBytes ?? 16 * 1024 * 1024,
    get dispatcher(): Dispatcher {
      return dispatcher as Dispatcher;
    },
  };
  const nonces = new NonceBook();
  const reported = new WeakSet<ProviderSession>();
  const sessionHooks = {
    loggedIn: (s: ProviderSession) => {
      registry.add(s);
      metrics.providersOnline.set(registry.online);
      store.providerSeen(s.address as string, new Date().toISOString());
      log('info', 'provider logged in', { address: s.address, session: s.id });
      payments?.loggedIn(s);
    },
    changed: () => registry.changed(),
    closed: (s: ProviderSession) => {
      registry.remove(s);
      metrics.providersOnline.set(registry.online);
    },
    protocolError: (code: string) => metrics.protocolErrors.inc({ code }),
    payment: (s: ProviderSession, f: Parameters<PaymentsHook['answered']>[1]) =>
      payments?.answered(s, f),
    awayReport: (s: ProviderSession, jobs: Parameters<typeof reconcileAway>[4]) => {
      // One report per sign-in is what a provider sends; more are acknowledged, not read.
      if (reported.has(s)) {
        log('warn', 'a provider sent a second away report in one session; not read', {
          address: s.address,
          jobs: jobs.length,
        });
        return [];
      }
      reported.add(s);
      const r = reconcileAway(
        store,
        (jobId, provider, receipt) => verifier.push(jobId, provider, receipt),
        box.origin,
        s.address as string,
        jobs,
      );
      const refused = Object.keys(r.refused).length > 0;
      log(refused ? 'warn' : 'info', 'provider reported jobs that ended while it was away', {
        address: s.address,
        jobs: jobs.length,
        receiptsKept: r.kept,
        ...(refused ? { refused: r.refused } : {}),
      });
      return r.settled;
    },
  };
  const onProvider = (ws: WebSocket): void => {
    ws.on('error', () => undefined);
    new ProviderSession(
      ws,
      {
        origin: box.origin,
        chainId,
        heartbeatMs: o.heartbeatMs ?? 5000,
        maxFrameBytes,
        loginTimeoutMs: o.loginTimeoutMs ?? 30_000,
        gateway: { name: 'idlerig-gateway', version: VERSION },
        nonces,
        maxErrorsPerMinute: 1000,
      },
      sessionHooks,
    );
  };
  const { server, wss } = createGatewayServer(services, {
    maxFrameBytes,
    onProvider,
    onError: (err) => log('error', 'request failed', { error: (err as Error).message }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  box.origin ||= url;
  dispatcher = new Dispatcher({
    origin: box.origin,
    registry,
    prices,
    store,
    metrics,
    verifier,
    waitForProviderMs: o.waitForProviderMs ?? 10_000,
    maxRetries: o.maxRetries ?? 2,
    offerTimeoutMs: o.offerTimeoutMs ?? 5000,
    jobTimeoutMs: o.jobTimeoutMs ?? 600_000,
    cancelGraceMs: o.cancelGraceMs ?? 2000,
    inlineInputBytes: 64 * 1024,
    ...(o.onCharge || payments
      ? {
          onCharge: (c: FinalCharge) => {
            payments?.charged(c);
            o.onCharge?.(c);
          },
        }
      : {}),
    ...(payments ? { onProgress: payments.progress.bind(payments) } : {}),
  });
  payments?.attach(registry);
  const sweep = setInterval(
    () => {
      registry.sweep(Date.now());
      nonces.sweep(Date.now());
    },
    Math.max(100, Math.floor((o.heartbeatMs ?? 5000) / 2)),
  );
  sweep.unref();
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    origin: box.origin,
    store,
    registry,
    verifier,
    metrics,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        payments?.close();
        registry.closeAll(1001, 'the gateway is stopping');
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        verifier.stop();
        store.close();
      })();
      return closing;
    },
  };
}
