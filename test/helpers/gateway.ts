// The gateway tests' processes: a real gateway (`idlerig gateway` from the sources, through tsx)
// and providers (the test provider of gateway-provider.ts on the real engine), each a child
// process on loopback with port 0, and the keys CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI_TS = join(ROOT, 'electron/cli.ts');
const PROVIDER_TS = join(ROOT, 'test/helpers/gateway-provider.ts');

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false,
  timeoutMs = 30_000,
  everyMs = 20,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface GatewayProc extends Proc {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function tempDir(
  prefix = 'idlerig-gw-',
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A price file whose ceilings are above the test provider's floors. */
export async function writePriceFile(dir: string): Promise<string> {
  const file = join(dir, 'prices.json');
  await writeFile(
    file,
    JSON.stringify({
      default: {
        llm: { per: 'mtok', input: '2000000', output: '5000000' },
        onnx: { per: 'request', amount: '10' },
      },
    }),
  );
  return file;
}

export async function startGatewayProc(
  dataDir: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<GatewayProc> {
  const p = start(CLI_TS, ['gateway', '--port', '0', '--data-dir', dataDir, ...args], {
    IDLERIG_LOG_LEVEL: 'warn',
    ...env,
  });
  const url = await waitFor(
    'the Gateway line',
    () => {
      if (p.child.exitCode !== null) throw new Error(`gateway exited: ${p.stderr()}`);
      return /^Gateway: (http:\/\/\S+)$/m.exec(p.stdout())?.[1];
    },
    30_000,
  );
  return {
    ...p,
    url,
    dataDir,
    async stop() {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await p.exited;
    },
  };
}

export async function gatewayCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(CLI_TS, ['gateway', ...args]);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

export async function createKey(dataDir: string, extra: string[] = []): Promise<string> {
  const r = await gatewayCli(['keys', 'create', '--data-dir', dataDir, '--json', ...extra]);
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { key: string }).key;
}

export interface ProviderProc extends Proc {
  events(): Record<string, unknown>[];
  address: string;
  stop(): Promise<void>;
}

/** A test provider on the real engine, logged in to the gateway. */
export async function startProvider(
  gatewayUrl: string,
  env: NodeJS.ProcessEnv = {},
  waitReady = true,
): Promise<ProviderProc> {
  const p = start(PROVIDER_TS, [], { GW_URL: gatewayUrl, ...env });
  const events = (): Record<string, unknown>[] =>
    p
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  let address = '';
  if (waitReady) {
    const ready = await waitFor(
      'the provider to log in',
      () => {
        if (p.child.exitCode !== null) throw new Error(`provider exited: ${p.stderr()}`);
        return events().find((e) => e.event === 'ready');
      },
      90_000,
    );
    address = String(ready.address);
  }
  return {
    ...p,
    events,
    address,
    async stop() {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await p.exited;
    },
  };
}
