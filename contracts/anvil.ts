// A local chain for tests and the demo network: anvil from npm (@foundry-rs/anvil), started on a
// free port, with its well-known funded dev accounts. ethers' JsonRpcProvider against anvil needs
// `cacheTimeout: -1`, or back-to-back transactions reuse nonces (DESIGN.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { JsonRpcProvider, Network } from 'ethers';

// Not named `require`: the CLI bundle (electron-vite) declares its own at the top.
const resolver = createRequire(import.meta.url);

/** anvil's default dev mnemonic ("test test ... junk"): its accounts are funded with 10,000 ETH. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** The anvil binary of this platform's @foundry-rs/anvil-<os>-<arch> package. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  let dir: string;
  try {
    dir = dirname(resolver.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(
      `No anvil binary for ${process.platform}/${process.arch}: ${pkg} is not installed`,
    );
  }
  return join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
}

export interface Anvil {
  rpcUrl: string;
  chainId: bigint;
  /** A provider with caching off, as anvil needs. */
  provider: JsonRpcProvider;
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: number): Promise<void>;
  /** The anvil process id (its process group's too when started with `detached`). */
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A JsonRpcProvider for anvil-like chains: static network, no response cache. */
export function rpcProvider(rpcUrl: string, chainId: bigint): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, Network.from(chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: 100,
  });
}

/** Starts anvil on a free port and waits until it answers. */
export async function startAnvil(
  opts: {
    chainId?: number;
    blockTime?: number;
    accounts?: number;
    /** A fixed port (default: a free one). */
    port?: number;
    /** Load the chain from this file if it exists and dump it there on exit (anvil --state). */
    stateFile?: string;
    /** Also dump the state every N seconds (survives a SIGKILL up to N s back). */
    stateIntervalS?: number;
    /** Its own process group (the demo network stops it by group). */
    detached?: boolean;
  } = {},
): Promise<Anvil> {
  const chainId = BigInt(opts.chainId ?? 31337);
  const port = opts.port ?? (await freePort());
  const args = [
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--chain-id',
    String(chainId),
    '--silent',
  ];
  if (opts.blockTime) args.push('--block-time', String(opts.blockTime));
  if (opts.accounts) args.push('--accounts', String(opts.accounts));
  if (opts.stateFile) args.push('--state', opts.stateFile);
  if (opts.stateIntervalS) args.push('--state-interval', String(opts.stateIntervalS));
  const child: ChildProcess = spawn(anvilBinary(), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: opts.detached ?? false,
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => ((exited = true), resolve())),
  );
  child.once('error', () => undefined);
  const rpcUrl = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`anvil exited before answering: ${stderr.trim() || 'no message'}`);
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('anvil did not answer within 15 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const provider = rpcProvider(rpcUrl, chainId);
  return {
    rpcUrl,
    chainId,
    provider,
    pid: child.pid ?? 0,
    async increaseTime(seconds) {
      await provider.send('evm_increaseTime', [seconds]);
      await provider.send('evm_mine', []);
    },
    async stop() {
      provider.destroy();
      if (!exited) {
        child.kill('SIGTERM');
        await exit;
      }
    },
  };
}
