// The `idlerig` command meeting a user's mistakes and ordinary trouble (issue 9, item 10): each
// case is a real process from the built bundle, and each answers with one line of words on
// stderr, no stack trace, and exit code 2 (a usage mistake) or 1 (anything else).
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUILT, REPO, runCli } from '../helpers/cli';
import { oneLine } from '../helpers/one-line';
import { tempDir } from '../helpers/tmp';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

const STORIES = join(REPO, 'test/fixtures/stories260K.gguf');

describe.skipIf(!BUILT)('idlerig: user mistakes and environment trouble, in words', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');

  it('a port in use names the port and suggests --port 0 (exit 1)', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => busy.close(() => r())));
    const port = (busy.address() as { port: number }).port;
    const r = await runCli([
      '--headless',
      '--quiet',
      '--port',
      String(port),
      '--data-dir',
      await dir(),
    ]);
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(line).toContain('--port 0');
  });

  it('a data folder that is a file (exit 1)', async () => {
    const file = join(await dir(), 'not-a-folder');
    await writeFile(file, 'x');
    const r = await runCli(['--headless', '--quiet', '--port', '0', '--data-dir', file]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toContain(`The data folder ${file} is a file, not a folder`);
  });

  it('a --listen that is not an address (exit 2), and one this machine does not have (exit 2)', async () => {
    const d = await dir();
    const bad = await runCli([
      '--headless',
      '--quiet',
      '--port',
      '0',
      '--listen',
      'no such!host',
      '--data-dir',
      d,
    ]);
    expect(bad.code).toBe(2);
    expect(oneLine(bad.stderr)).toContain('--listen must be an IP address or a host name');
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    const absent = await runCli([
      '--headless',
      '--quiet',
      '--port',
      '0',
      '--listen',
      '192.0.2.1',
      '--data-dir',
      d,
    ]);
    expect(absent.code).toBe(2);
    const lines = absent.stderr.trimEnd().split('\n');
    // The non-loopback warning comes first, by design; then the one error line.
    expect(lines[0]).toMatch(/^WARNING: listening on 192\.0\.2\.1/);
    expect(oneLine(lines.slice(1).join('\n'))).toContain(
      'Cannot listen on "192.0.2.1": this machine has no such address',
    );
  });

  it('invalid JSON in --messages (exit 2), a missing --messages file (exit 1), a folder as --input (exit 2)', async () => {
    const d = await dir();
    await writeFile(join(d, 'bad.json'), '[{"role": "user", "content": ');
    const invalid = await runCli(['run', STORIES, '--messages', join(d, 'bad.json')]);
    expect(invalid.code).toBe(2);
    expect(oneLine(invalid.stderr)).toContain(
      `--messages: ${join(d, 'bad.json')} is not valid JSON`,
    );

    const missing = await runCli(['run', STORIES, '--messages', join(d, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toBe(
      `idlerig: --messages: no such file ${join(d, 'nope.json')}`,
    );

    const onnx = join(REPO, 'test/fixtures/mnist-8.onnx');
    await mkdir(join(d, 'a-folder'));
    const folder = await runCli(['run', onnx, '--input', join(d, 'a-folder')]);
    expect(folder.code).toBe(2);
    expect(oneLine(folder.stderr)).toContain(
      `--input: cannot read ${join(d, 'a-folder')} (it is a folder)`,
    );
  });

  it('a missing model file (exit 1) and a file that is not GGUF (exit 1), before the engine starts', async () => {
    const d = await dir();
    const missing = await runCli(['run', join(d, 'nope.gguf'), '--prompt', 'hi']);
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toBe(`idlerig: No such model file: ${join(d, 'nope.gguf')}`);

    await writeFile(join(d, 'fake.gguf'), 'this is a text file, not a model\n');
    const fake = await runCli(['run', join(d, 'fake.gguf'), '--prompt', 'hi']);
    expect(fake.code).toBe(1);
    expect(oneLine(fake.stderr)).toContain('is not a GGUF model file');
    // The signature, then a version no GGUF has: refused before the engine starts.
    const header = Buffer.alloc(64);
    header.write('GGUF', 0, 'latin1');
    header.writeUInt32LE(1651663207, 4);
    await writeFile(join(d, 'damaged.gguf'), header);
    const damaged = await runCli(['run', join(d, 'damaged.gguf'), '--prompt', 'hi']);
    expect(damaged.code).toBe(1);
    expect(oneLine(damaged.stderr)).toContain('unknown GGUF version 1651663207');
  });

  it("a GGUF model cut short: the engine refuses it in one line, not llama.cpp's trace (exit 1)", async () => {
    const d = await dir();
    const whole = await readFile(STORIES);
    await writeFile(join(d, 'cut.gguf'), whole.subarray(0, 600_000));
    const r = await runCli(['run', join(d, 'cut.gguf'), '--prompt', 'hi']);
    expect(r.code).toBe(1);
    // The file's hash comes first, by design (the engine loads only that hash).
    const [hash, ...rest] = r.stderr.trimEnd().split('\n');
    expect(hash).toMatch(/^sha256 [0-9a-f]{64} {2}/);
    expect(oneLine(rest.join('\n'))).toMatch(/^idlerig: .*"cut\.gguf"/);
  });

  it('an out-of-range --temperature is named as the flag, checked before the engine starts (exit 2)', async () => {
    const r = await runCli(['run', STORIES, '--prompt', 'hi', '--temperature', '9']);
    expect(r.code).toBe(2);
    // No "sha256 …" line: nothing was hashed or started.
    expect(oneLine(r.stderr)).toBe(
      'idlerig: --temperature must be a number from 0 to 5, not "9" (see idlerig --help)',
    );
  });

  it('`idlerig models` alone prints its usage (exit 2); an unknown models command is one line', async () => {
    const alone = await runCli(['models', '--data-dir', await dir()]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/^Usage:\n {2}idlerig models list/);
    expect(alone.stderr).toContain('idlerig models pull <catalog id | URL>');
    expect(alone.stderr).not.toContain('    at ');

    const unknown = await runCli(['models', 'frobnicate', '--data-dir', await dir()]);
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown.stderr)).toContain('Unknown models command "frobnicate"');
  });

  it('`models list` gives the resume command that works: the URL for a URL pull, the id for a catalog one', async () => {
    const d = await dir();
    await mkdir(join(d, 'models'), { recursive: true });
    // What an interrupted `idlerig models pull` leaves: its entries in downloads.json and a
    // partial file.
    const job = (over: Record<string, unknown>): Record<string, unknown> => ({
      name: 'x',
      engine: 'llama',
      sha256: null,
      sizeBytes: 1000,
      variantId: null,
      state: 'paused',
      error: null,
      notice: null,
      createdAt: new Date().toISOString(),
      ...over,
    });
    await writeFile(
      join(d, 'models', 'downloads.json'),
      JSON.stringify({
        version: 1,
        limits: { maxBytesPerSecond: null, concurrency: 2 },
        jobs: [
          job({
            id: 'my-model',
            file: 'my-model.gguf',
            urls: ['https://models.example.org/files/my-model.gguf'],
            catalogId: null,
          }),
          job({
            id: 'qwen3-0.6b-q8',
            file: 'qwen.gguf',
            urls: ['https://huggingface.co/x/qwen.gguf'],
            catalogId: 'qwen3-0.6b',
            variantId: 'qwen3-0.6b-q8',
          }),
        ],
      }),
    );
    await writeFile(join(d, 'models', 'my-model.gguf.partial'), Buffer.alloc(100));
    const r = await runCli(['models', 'list', '--data-dir', d]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '    idlerig models pull https://models.example.org/files/my-model.gguf\n',
    );
    expect(r.stdout).toContain('    idlerig models pull qwen3-0.6b-q8\n');
    expect(r.stdout).not.toContain('idlerig models pull my-model\n');
  });

  it('`models list` with a damaged index says so and leaves the file for the node to rebuild', async () => {
    const d = await dir();
    await mkdir(join(d, 'models'), { recursive: true });
    await writeFile(join(d, 'models', 'index.json'), '{"version": 1, "models": [');
    const r = await runCli(['models', 'list', '--data-dir', d]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No models installed');
    expect(r.stderr).toMatch(
      /^Warning: the list of installed models cannot be read \(not valid JSON/,
    );
    expect(r.stderr).not.toContain('    at ');
    // A look without the lock changes nothing.
    expect(await readFile(join(d, 'models', 'index.json'), 'utf8')).toBe(
      '{"version": 1, "models": [',
    );
  });

  it('the catalog offers the demo network models only once that network is up', async () => {
    // The bundled catalog with its demo entries pointed at a port of our own.
    const server: Server = createServer((socket) => socket.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const d = await dir();
    const bundled = await readFile(join(REPO, 'resources/catalog.json'), 'utf8');
    await writeFile(
      join(d, 'catalog.json'),
      bundled.replaceAll('http://127.0.0.1:7431/', `http://127.0.0.1:${port}/`),
    );
    const demoIds = async (): Promise<string[]> => {
      const r = await runCli(
        ['models', 'catalog', '--json', '--catalog', join(d, 'catalog.json'), '--data-dir', d],
        { IDLERIG_DEMO_MODELS: '' },
      );
      expect(r.code, r.stderr).toBe(0);
      const ids = (JSON.parse(r.stdout) as { models: { id: string }[] }).models.map((m) => m.id);
      expect(ids.length).toBeGreaterThan(0);
      return ids.filter((id) => id.startsWith('demo-'));
    };
    expect((await demoIds()).length).toBeGreaterThan(0);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await demoIds()).toEqual([]);
  });
});
