// `idlerig models` and the headless node as real child processes (the built dist/, as `npm test`
// builds it first), SIGKILLed in the middle of a download and started again: the download resumes
// and the loopback server is asked only for the bytes that were missing.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURE,
  FIXTURES,
  etagOf,
  fixture,
  startRangeServer,
  waitUntil,
  writeTestCatalog,
  type RangeServer,
} from './models-helpers';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'idlerig.js');
const CLI = join(ROOT, 'dist', 'main', 'cli.js');

const stories = fixture(FIXTURE.stories.file);
let server: RangeServer;
let dir: string;
let catalog: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(CLI) || !readFileSync(CLI, 'utf8').includes('models.download')) {
    throw new Error(
      'dist/main/cli.js is missing or predates `idlerig models`: run `npm run build` first',
    );
  }
});

afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<void> {
  server = await startRangeServer();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-cli-'));
  catalog = join(dir, 'catalog.json');
  writeTestCatalog(catalog, server, [
    { id: 'fx-stories', route: '/stories.gguf', fixture: FIXTURE.stories },
    { id: 'fx-mnist', route: '/mnist.onnx', fixture: FIXTURE.mnist },
  ]);
  server.routes.set('/stories.gguf', { body: stories, throttle: 192 * 1024 });
  server.routes.set('/mnist.onnx', { body: fixture(FIXTURE.mnist.file) });
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, IDLERIG_CATALOG: catalog, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

const partial = (): string => join(dir, 'data', 'models', `${FIXTURE.stories.file}.partial`);
const sizeOf = async (p: string): Promise<number> => (await stat(p).catch(() => null))?.size ?? 0;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('idlerig models (child processes)', () => {
  it('pull: SIGKILL mid-download, run again: resumes, asking only for the missing bytes', async () => {
    await setup();
    const data = join(dir, 'data');
    const first = run(['models', 'pull', 'fx-stories', '--data-dir', data]);
    await waitUntil(async () => (await sizeOf(partial())) > 256 * 1024, 20_000);
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');
    const partSize = await sizeOf(partial());
    expect(partSize).toBeGreaterThan(256 * 1024);
    expect(partSize).toBeLessThan(FIXTURE.stories.bytes);
    expect(existsSync(`${partial()}.json`)).toBe(true);

    // `models list` shows the unfinished download.
    const list = run(['models', 'list', '--data-dir', data]);
    expect((await list.exit).code).toBe(0);
    expect(list.stdout()).toMatch(/Unfinished downloads[\s\S]*fx-stories/);

    server.routes.get('/stories.gguf')!.throttle = undefined;
    const second = run(['models', 'pull', 'fx-stories', '--data-dir', data]);
    const { code } = await second.exit;
    expect(code, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(/resuming from/);
    expect(second.stdout()).toMatch(/Installed fx-stories \(stories260K\.gguf/);

    const resumed = server.requests.filter((r) => r.path === '/stories.gguf');
    expect(resumed).toHaveLength(2);
    expect(resumed[1]!.range).toBe(`bytes=${partSize}-`);
    expect(resumed[1]!.ifRange).toBe(etagOf(stories));
    expect(resumed[1]!.status).toBe(206);
    expect(resumed[1]!.bytesSent).toBe(FIXTURE.stories.bytes - partSize);
    const file = join(data, 'models', FIXTURE.stories.file);
    expect(sha(await readFile(file))).toBe(FIXTURE.stories.sha256);
    expect(existsSync(partial())).toBe(false);

    // list --json, import, rm.
    const json = run(['models', 'list', '--json', '--data-dir', data]);
    expect((await json.exit).code).toBe(0);
    const listed = JSON.parse(json.stdout()) as { models: Array<{ id: string; sha256: string }> };
    expect(listed.models).toMatchObject([{ id: 'fx-stories', sha256: FIXTURE.stories.sha256 }]);

    const imp = run(['models', 'import', join(FIXTURES, FIXTURE.mnist.file), '--data-dir', data]);
    expect((await imp.exit).code, imp.stderr()).toBe(0);
    expect(imp.stdout()).toContain(
      `Imported mnist-8 (mnist-8.onnx, 26 KiB, sha256 ${FIXTURE.mnist.sha256})`,
    );

    const rmRun = run(['models', 'rm', 'fx-stories', '--data-dir', data]);
    expect((await rmRun.exit).code).toBe(0);
    expect(existsSync(file)).toBe(false);
    const missing = run(['models', 'rm', 'fx-stories', '--data-dir', data]);
    expect((await missing.exit).code).toBe(1);
    expect(missing.stderr()).toMatch(/No installed model or download fx-stories/);
  });

  it('headless node: SIGKILL mid-download, restart: the node resumes by itself', async () => {
    await setup();
    const data = join(dir, 'data');
    const startNode = async (): Promise<{ run: Run; url: string; token: string }> => {
      const r = run(['--headless', '--port', '0', '--quiet', '--data-dir', data]);
      await waitUntil(() => /Dashboard: /.test(r.stdout()), 20_000);
      const link = new URL(/Dashboard: (\S+)/.exec(r.stdout())![1]!);
      return { run: r, url: link.origin, token: link.searchParams.get('token')! };
    };
    const call = async (
      n: { url: string; token: string },
      method: string,
      params: unknown,
    ): Promise<unknown> => {
      const res = await fetch(`${n.url}/api/rpc/${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${n.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(params),
      });
      const body = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (!res.ok) throw new Error(body.error?.message ?? String(res.status));
      return body.result;
    };

    const node1 = await startNode();
    const view = (await call(node1, 'models.download', { modelId: 'fx-stories' })) as {
      state: string;
    };
    expect(['queued', 'downloading']).toContain(view.state);
    await waitUntil(async () => (await sizeOf(partial())) > 256 * 1024, 20_000);
    node1.run.child.kill('SIGKILL');
    await node1.run.exit;
    const partSize = await sizeOf(partial());
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(FIXTURE.stories.bytes);

    server.routes.get('/stories.gguf')!.throttle = undefined;
    const node2 = await startNode(); // no call: the node resumes what downloads.json lists
    await waitUntil(async () => {
      const list = (await call(node2, 'models.installed', {})) as { models: Array<{ id: string }> };
      return list.models.some((m) => m.id === 'fx-stories');
    }, 20_000);
    const reqs = server.requests.filter((r) => r.path === '/stories.gguf');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.range).toBe(`bytes=${partSize}-`);
    expect(reqs[1]!.bytesSent).toBe(FIXTURE.stories.bytes - partSize);

    // The CLI on a folder a node owns goes through the node's API.
    const listed = run(['models', 'list', '--json', '--data-dir', data]);
    expect((await listed.exit).code).toBe(0);
    expect(listed.stdout()).toContain('"id":"fx-stories"');
    const pull = run(['models', 'pull', 'fx-mnist', '--data-dir', data]);
    expect((await pull.exit).code, pull.stderr()).toBe(0);
    expect(pull.stderr()).toMatch(/Downloading in the running node/);
    expect(pull.stdout()).toMatch(/Installed fx-mnist/);

    node2.run.child.kill('SIGTERM');
    expect((await node2.run.exit).code).toBe(0);
  });

  it('pull says what went wrong in words: a refused URL at once, a server error with "retrying" (never "stalled")', async () => {
    await setup();
    const data = join(dir, 'data');
    // A URL the user typed where nothing listens: said at once, not retried five times.
    const closed = await startRangeServer();
    const port = closed.port;
    await closed.close();
    const t0 = Date.now();
    const refused = run(['models', 'pull', `http://127.0.0.1:${port}/x.gguf`, '--data-dir', data]);
    expect((await refused.exit).code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(refused.stderr().trim()).toBe(
      `idlerig: x.gguf: 127.0.0.1:${port} refused the connection (ECONNREFUSED): nothing answers at that address and port`,
    );

    // A catalog model whose server has an error: retried, the reason on the retry line.
    server.routes.set('/mnist.onnx', { body: fixture(FIXTURE.mnist.file), status: 503 });
    const busy = run(['models', 'pull', 'fx-mnist', '--data-dir', data]);
    await waitUntil(() => /retrying in/.test(busy.stderr()), 20_000);
    busy.child.kill('SIGKILL');
    await busy.exit;
    expect(busy.stderr()).toMatch(
      /^mnist-8\.onnx: 127\.0\.0\.1:\d+ had a server error \(HTTP 503 Service Unavailable\) – retrying in \d+ s \(attempt 1 of 5\)$/m,
    );
    expect(busy.stderr()).not.toMatch(/stall/i);
  });
});
