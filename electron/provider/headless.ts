import { ProviderNode } from './node';
import { Router } from './api/router';
import { nodeHandlers } from './api/handlers';
import { ApiHttpServer } from './api/http-server';
import { writeEndpoint } from './datadir-lock';
import { rm } from 'node:fs/promises';

export interface HeadlessOptions {
  dataDir: string;
  host: string;
  port: number;
  staticDir: string | null;
  echoLogs?: boolean;
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
  });
  await node.start();
  const router = new Router(nodeHandlers(node), node.logger.scope('api'));
  const server = new ApiHttpServer({
    host: opts.host,
    port: opts.port,
    staticDir: opts.staticDir,
    diagnosticsDir: node.paths.diagnostics,
    router,
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
    throw err;
  }
  await writeEndpoint(node.paths.endpoint, {
    pid: process.pid,
    url: server.url,
    token: server.token,
  });
  node.logger.scope('http').info('dashboard and API listening', { url: server.url });
  let stopping: Promise<void> | null = null;
  return {
    node,
    server,
    dashboardUrl: `${server.url}/?token=${server.token}`,
    stop() {
      stopping ??= (async () => {
        await server.close();
        await rm(node.paths.endpoint, { force: true });
        await node.stop();
      })();
      return stopping;
    },
  };
}
