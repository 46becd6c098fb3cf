import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { startHeadless } from '../provider/headless';
import { installProcessGuards } from '../provider/process-guard';
import { assertLockFree } from '../provider/datadir-lock';
import { nodeKeyProtection } from '../provider/market/node-market';
import { nodeKeyPath, readPassphraseFile } from '../provider/wallet/node-key';
import { resolveDataDir } from './context';
import { gatewayWsUrl } from '../../shared/market-protocol';
import { IdlerigError } from '../../shared/errors';
import { ChainSettingsSchema, type ChainSettings } from '../../shared/api/wallet';

export const DEFAULT_PORT = 7420;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface ServeOptions {
  dataDir?: string;
  port: number;
  listen?: string;
  quiet: boolean;
  /** --gateway URL (repeatable): gateways served besides the settings' ones. */
  gateways?: string[];
  keyPassphraseFile?: string;
  /** --chain-rpc, --hub, --chain-id as given (checked here). */
  chain?: { rpcUrl?: string | undefined; hub?: string | undefined; chainId?: string | undefined };
}

/** The chain flags checked; the chain id, when not given, is the RPC's own. */
async function chainOption(c: NonNullable<ServeOptions['chain']>): Promise<ChainSettings> {
  if (!c.rpcUrl || !c.hub)
    throw new IdlerigError(
      'INVALID_PARAMS',
      'Payments need both --chain-rpc URL and --hub ADDRESS',
    );
  let chainId = c.chainId === undefined ? NaN : Number(c.chainId);
  if (c.chainId !== undefined && !(Number.isSafeInteger(chainId) && chainId > 0))
    throw new IdlerigError(
      'INVALID_PARAMS',
      `--chain-id must be a positive whole number, not ${c.chainId}`,
    );
  if (c.chainId === undefined) {
    try {
      const res = await fetch(c.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(10_000),
      });
      chainId = Number(BigInt(((await res.json()) as { result: string }).result));
    } catch (err) {
      throw new IdlerigError(
        'CHAIN_UNAVAILABLE',
        `--chain-rpc ${c.rpcUrl} does not answer as a chain (${(err as Error).message}); give --chain-id N to start anyway`,
      );
    }
  }
  const r = ChainSettingsSchema.safeParse({ rpcUrl: c.rpcUrl, hub: c.hub, chainId });
  if (!r.success)
    throw new IdlerigError(
      'INVALID_PARAMS',
      `Chain options: ${r.error.issues[0]?.message ?? 'invalid'}`,
    );
  return r.data;
}

/** `idlerig --headless`: the provider node with the dashboard on loopback until SIGINT/SIGTERM. */
export async function serveVerb(opts: ServeOptions): Promise<number> {
  const host = opts.listen ?? '127.0.0.1';
  for (const url of opts.gateways ?? []) {
    const r = gatewayWsUrl(url);
    if (!r.ok) throw new IdlerigError('INVALID_PARAMS', `--gateway ${url}: ${r.error}`);
  }
  if (
    !isIP(host) &&
    !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host)
  )
    throw new IdlerigError(
      'INVALID_PARAMS',
      `--listen must be an IP address or a host name of this machine, not ${JSON.stringify(host)}`,
    );
  if (!LOOPBACK.has(host)) {
    process.stderr.write(
      `WARNING: listening on ${host}, not loopback. Anyone who can reach this address and learns the token can control this node.\n`,
    );
  }
  // A passphrase file that cannot be read (missing, unreadable, empty) is a mistake in the flags:
  // said now, exit 2, before the node takes the data folder (not later as an offline market).
  if (opts.keyPassphraseFile !== undefined) {
    try {
      await readPassphraseFile(opts.keyPassphraseFile);
    } catch (err) {
      throw new IdlerigError('INVALID_PARAMS', (err as Error).message);
    }
  }
  const staticUrl = new URL('../renderer/', import.meta.url);
  const staticDir = existsSync(new URL('index.html', staticUrl)) ? fileURLToPath(staticUrl) : null;
  if (!staticDir)
    process.stderr.write(
      'The dashboard is not built (run `npm run build`); serving the API only.\n',
    );

  const chain = opts.chain ? await chainOption(opts.chain) : undefined;
  const paths = resolveDataDir(opts.dataDir);
  // One passphrase for the node key and the payout wallet (asked once). Typed at a terminal, it
  // is asked before the node starts, so that the node's log lines do not scroll past the prompt.
  const keyProtection = nodeKeyProtection('headless', {
    ...(opts.keyPassphraseFile ? { passphraseFile: opts.keyPassphraseFile } : {}),
  });
  if (
    !process.env.IDLERIG_KEY_PASSPHRASE &&
    !opts.keyPassphraseFile &&
    process.stdin.isTTY &&
    process.stderr.isTTY &&
    keyProtection.kind === 'passphrase'
  ) {
    // A folder another node holds is said before anyone types a passphrase for it.
    await assertLockFree(paths.lock);
    await keyProtection.passphrase(!existsSync(nodeKeyPath(paths.root)));
  }
  const headless = await startHeadless({
    dataDir: paths.root,
    host,
    port: opts.port,
    staticDir,
    echoLogs: !opts.quiet,
    market: {
      gateways: opts.gateways ?? [],
      ...(chain ? { chain } : {}),
      keyProtection,
    },
  });
  // A reader of our output that goes away (a closed pipe) must not end the node.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`Dashboard: ${headless.dashboardUrl}\n`);
  // The first-run wizard is in the Dashboard: nothing is earned until it is answered.
  if (headless.node.status().firstRun)
    process.stdout.write(
      'First run: open the Dashboard link to choose a payout wallet and a network (the local demo network is the default).\n',
    );
  // From here on, an error nothing caught is logged; an uncaught exception stops the node
  // gracefully (data flushed, lock released) and the process exits 1.
  installProcessGuards({
    log: headless.node.logger.scope('process'),
    shutdown: () => headless.stop(),
    notify: (message) => process.stderr.write(`idlerig: ${message}\n`),
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      headless.node.logger.scope('node').info('stopping', { signal });
      // A graceful stop has 5 s; past that the process ends anyway (and says so).
      const force = setTimeout(() => {
        process.stderr.write('Graceful stop took over 4.5 s; exiting now.\n');
        process.exit(1);
      }, 4500);
      force.unref();
      headless.stop().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`Error while stopping: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    // `on`, not `once`: a library that installs its own handler (node-llama-cpp re-sends the
    // signal when it sees no other listener) must always find ours.
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
