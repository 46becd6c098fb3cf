// `idlerig run`: the bundled CLI runs one job through the bundled engine process.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS } from '../helpers/engine';

let cli: string;
let dir: string;

beforeAll(async () => {
  cli = (await bundles()).cli;
  dir = await mkdtemp(join(tmpdir(), 'idlerig-run-'));
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'run', ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('idlerig run', () => {
  it('streams a completion to stdout, prints the hash to stderr and a JSON summary with --json', async () => {
    const r = await run([
      join(FIXTURES, MODELS.stories.file),
      '--prompt',
      'Once upon a time',
      '--max-tokens',
      '24',
      '--temperature',
      '0',
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`sha256 ${MODELS.stories.sha256}`);
    const lines = r.stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(lines.slice(0, -1).join('\n').startsWith(', there was a little girl named Lily.')).toBe(
      true,
    );
    expect(summary).toMatchObject({
      finish_reason: 'length',
      usage: { completion_tokens: 24 },
      backend: 'cpu', // 'auto' found no GPU here
      threads: 1,
      sha256: MODELS.stories.sha256,
    });
    expect(summary.timings).toMatchObject({ ttft_ms: expect.any(Number) });
  });

  it('runs a chat from --messages with --threads and --seed', async () => {
    const messages = join(dir, 'messages.json');
    await writeFile(
      messages,
      JSON.stringify([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello?' },
      ]),
    );
    const r = await run([
      join(FIXTURES, MODELS.tiny.file),
      '--messages',
      messages,
      '--max-tokens',
      '12',
      '--seed',
      '3',
      '--threads',
      '2',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({
      finish_reason: 'length',
      threads: 2,
      usage: { completion_tokens: 12 },
    });
  });

  it('runs an ONNX model on Open Inference Protocol tensors and prints the outputs as JSON', async () => {
    const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz'))).subarray(
      16,
      16 + 784,
    );
    const label = gunzipSync(readFileSync(join(FIXTURES, 't10k-labels-idx1-ubyte.gz')))[8];
    const input = join(dir, 'tensors.json');
    await writeFile(
      input,
      JSON.stringify({
        inputs: [
          { name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(img) },
        ],
      }),
    );
    const r = await run([join(FIXTURES, MODELS.mnist.file), '--input', input, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`sha256 ${MODELS.mnist.sha256}`);
    const [response, summary] = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const out = (response!.outputs as { name: string; shape: number[]; data: number[] }[])[0]!;
    expect(out).toMatchObject({ name: 'Plus214_Output_0', shape: [1, 10], datatype: 'FP32' });
    expect(out.data.indexOf(Math.max(...out.data))).toBe(label);
    expect(summary).toMatchObject({ execution_providers: ['cpu'], threads: 1 });
    expect(r.stderr).not.toContain('warning: --threads');

    // More threads than the machine's CPU threads: it runs, with a one-line warning.
    const cores = availableParallelism();
    const many = await run([
      join(FIXTURES, MODELS.mnist.file),
      '--input',
      input,
      '--threads',
      String(cores + 1),
      '--json',
    ]);
    expect(many.code).toBe(0);
    const warnings = many.stderr.split('\n').filter((l) => l.startsWith('warning: --threads'));
    expect(warnings).toEqual([
      expect.stringContaining(`${cores + 1} threads is more than the ${cores} CPU thread`),
    ]);
    expect(JSON.parse(many.stdout.trimEnd().split('\n').at(-1)!)).toMatchObject({
      threads: cores + 1,
    });

    await writeFile(
      input,
      JSON.stringify({
        inputs: [{ name: 'Input3', shape: [1, 784], datatype: 'FP32', data: Array.from(img) }],
      }),
    );
    const bad = await run([join(FIXTURES, MODELS.mnist.file), '--input', input]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Input3');
    expect(bad.stderr).toContain('[1, 1, 28, 28]');
  });

  it('refuses bad usage with exit code 2', async () => {
    expect((await run([join(FIXTURES, MODELS.stories.file)])).code).toBe(2);
    expect((await run([join(FIXTURES, 'README.md'), '--prompt', 'x'])).code).toBe(2);
    expect(
      (await run([join(FIXTURES, MODELS.stories.file), '--prompt', 'x', '--max-tokens', 'lots']))
        .code,
    ).toBe(2);
  });
});
