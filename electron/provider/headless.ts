import { ProviderNode } from './node';
import { Router } from './api/router';
import { nodeHandlers } from './api/handlers';
import { ApiHttpServer } from './api/http-server';
import { writeEndpoint } from './datadir-lock';
import { serveJobsCsv } from './jobs/http-export';
import { rm } from 'node:fs/promises';
import type { NodeMarketOptions } from './market/node-market';
import { IdlerigError } from '../../shared/errors';

export interface HeadlessOptions {
  dataDir: string;
  host: string;
  port: number;
  staticDir: string | null;
  echoLogs?: boolean;
  /** Command-line gateways and the node key's passphrase file (market/node-market.ts). */
  market?: NodeMarketOptions;
}

export interface HeadlessNode {
  node: ProviderNode;
  server: ApiHttpServer;
  /** The link that opens the dashboard, token included. */
  dashboardUrl: string;
  stop(): Promise<void>;
}

/** The provider node with its dashboard and API on HTTP: what `idlerig --headless` runs. */
export async function startHeadless(opts: HeadlessOptions): Promise<HeadlessNode> {
  const node = new ProviderNode({
    dataDir: opts.dataDir,
    mode: 'headless',
    echoLogs: opts.echoLogs ?? false,
    ...(opts.market ? { market: opts.market } : {}),
  });
  await node.start();
  const router = new Router(nodeHandlers(node), node.logger.scope('api'));
  const server = new ApiHttpServer({
    host: opts.host,
    port: opts.port,
    staticDir: opts.staticDir,
    diagnosticsDir: node.paths.diagnostics,
    router,
    jobsCsv: (query, res) => serveJobsCsv(node.jobs, query, res, node.logger.scope('jobs')),
    log: node.logger.scope('http'),
    subscribe(listener) {
      node.on('event', listener);
      return () => node.off('event', listener);
    },
  });
  try {
    await server.listen();
  } catch (err) {
    await node.stop();
    throw listenError(err, opts.host, opts.port);
  }
  // The server and the endpoint file go with the node's shutdown, after its data is flushed
  // and the engine and downloads are stopped.
  node.onStop('http server', () => server.close());
  node.eventStats = () => server.eventStats();
  node.onStop('endpoint file', () => rm(node.paths.endpoint, { force: true }));
  try {
    await writeEndpoint(node.paths.endpoint, {
      pid: process.pid,
      url: server.url,
      token: server.token,
    });
  } catch (err) {
    await node.stop();
    throw err;
  }
  node.logger.scope('http').info('dashboard and API listening', { url: server.url });
  let stopping: Promise<void> | null = null;
  return {
    node,
    server,
    dashboardUrl: `${server.url}/?token=${server.token}`,
    stop() {
      stopping ??= node.stop();
      return stopping;
    },
  };
}

/** A failed listen in words: the port in use, an address this host does not have, ... */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new IdlerigError(
        'CONFLICT',
        `Port ${port} on ${host} is already in use (another Idlerig node, or another program). Start with --port 0 to pick a free port, or --port N for another one; if it is another node, use that one (idlerig status --data-dir DIR).`,
        { port, host },
      );
    case 'EACCES':
      return new IdlerigError(
        'CONFLICT',
        `Not allowed to listen on ${where} (ports below 1024 need special rights). Choose another --port, or --port 0.`,
        { port, host },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAFNOSUPPORT':
    case 'EINVAL':
      return new IdlerigError(
        'INVALID_PARAMS',
        `Cannot listen on ${JSON.stringify(host)}: this machine has no such address. Give --listen an address of this machine (for example 0.0.0.0 or 127.0.0.1).`,
        { host },
      );
    default:
      return err;
  }
}
