// The catalog schema (bundled resources/catalog.json included), the URL and file-name policy, and
// the fit estimate (GGUF headers read locally and over loopback HTTP by Range).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bundled from '../../resources/catalog.json';
import { parseCatalog, resolveVariant, loadCatalog } from '../../electron/provider/models/catalog';
import {
  checkDownloadUrl,
  checkModelFileName,
  checkRedirect,
  fileNameFrom,
  isLoopbackHost,
  slugFromFile,
} from '../../electron/provider/models/policy';
import {
  estimateFit,
  factsFromInventory,
  ggufNeeds,
  readGgufHeader,
  type GgufNeeds,
  type MachineFacts,
} from '../../electron/provider/models/fit';
import { ModelRegistry } from '../../electron/provider/models/registry';
import { ModelsService } from '../../electron/provider/models/service';
import { FitEstimateSchema } from '../../shared/api';
import {
  FIXTURE,
  FIXTURES,
  fixture,
  startRangeServer,
  writeTestCatalog,
  type RangeServer,
} from './models-helpers';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function catalogWith(variant: Record<string, unknown>): unknown {
  return {
    version: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
    models: [
      {
        id: 'evil',
        name: 'Evil',
        family: 'x',
        engine: 'llama',
        publisher: 'x',
        licence: { name: 'MIT', url: null },
        description: '',
        contextLength: 2048,
        variants: [
          {
            id: 'evil',
            quantization: 'F32',
            file: 'ok.gguf',
            urls: ['https://example.org/ok.gguf'],
            sizeBytes: 10,
            sha256: 'a'.repeat(64),
            ...variant,
          },
        ],
      },
    ],
  };
}

describe('catalog', () => {
  it('the bundled catalog validates, and pins real https urls, sizes and sha256', () => {
    const { file } = parseCatalog(bundled, 'bundled');
    const real = file.models.filter((m) => !m.demo);
    expect(real.length).toBeGreaterThanOrEqual(5);
    for (const m of real) {
      expect(m.licence.name).toBeTruthy();
      for (const v of m.variants) {
        expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(v.sizeBytes).toBeGreaterThan(10_000);
        for (const u of v.urls) expect(new URL(u).protocol).toBe('https:');
        // Pinned to a revision where the publisher's host allows it.
        if (v.urls[0]!.includes('huggingface.co'))
          expect(v.urls[0]).toMatch(/\/resolve\/[0-9a-f]{40}\//);
      }
    }
    for (const m of file.models.filter((x) => x.demo))
      for (const v of m.variants) expect(new URL(v.urls[0]!).hostname).toBe('127.0.0.1');
    expect(resolveVariant(file, 'qwen2.5-0.5b-instruct')?.variant.sha256).toBe(
      '74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db',
    );
    expect(resolveVariant(file, 'llama-3.2-1b-instruct-q4_k_m')?.model.id).toBe(
      'llama-3.2-1b-instruct',
    );
    expect(resolveVariant(file, 'nope')).toBeNull();
  });

  it("refuses a catalog whose file name contains '../' (or any path), naming the entry", () => {
    for (const file of [
      '../evil.gguf',
      '../../etc/cron.d/x',
      '/abs.gguf',
      'a/b.gguf',
      '..\\x.gguf',
      'x.gguf.partial',
    ]) {
      let err: unknown;
      try {
        parseCatalog(catalogWith({ file }), 'test.json');
      } catch (e) {
        err = e;
      }
      expect(err, file).toMatchObject({ code: 'UNSAFE_PATH' });
      expect((err as Error).message, file).toMatch(/models\.0\.variants\.0\.file/);
    }
  });

  it('refuses plain-http urls to other hosts, duplicates and bad hashes', () => {
    expect(() => parseCatalog(catalogWith({ urls: ['http://example.org/x.gguf'] }), 't')).toThrow(
      /Plain http/,
    );
    expect(() => parseCatalog(catalogWith({ sha256: 'ABC' }), 't')).toThrow(/sha256/);
    const dup = catalogWith({}) as { models: unknown[] };
    dup.models.push(dup.models[0]);
    expect(() => parseCatalog(dup, 't')).toThrow(/duplicate id evil/);
  });

  it('loads an override from a file or a loopback URL, and says why one is refused', async () => {
    const server = await startRangeServer();
    const dir = await mkdtemp(join(tmpdir(), 'idlerig-cat-'));
    try {
      const path = join(dir, 'c.json');
      writeTestCatalog(path, server, [{ id: 'fx', route: '/s.gguf', fixture: FIXTURE.stories }]);
      expect((await loadCatalog(path)).file.models[0]!.id).toBe('fx');
      server.routes.set('/catalog.json', { body: Buffer.from(JSON.stringify(catalogWith({}))) });
      expect((await loadCatalog(`${server.url}/catalog.json`)).file.models[0]!.id).toBe('evil');
      await expect(loadCatalog(join(dir, 'missing.json'))).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      await expect(loadCatalog('http://example.org/c.json')).rejects.toMatchObject({
        code: 'INSECURE_URL',
      });
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('url and file-name policy', () => {
  it('allows https anywhere and http only to loopback', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.8.9.10')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.example.com')).toBe(false);
    expect(checkDownloadUrl('https://huggingface.co/x.gguf').hostname).toBe('huggingface.co');
    expect(checkDownloadUrl('http://127.0.0.1:8080/x.gguf').port).toBe('8080');
    expect(() => checkDownloadUrl('http://huggingface.co/x.gguf')).toThrow(/Plain http/);
    expect(() => checkDownloadUrl('file:///etc/passwd')).toThrow(/scheme/);
    expect(() => checkDownloadUrl('https://user:pw@example.org/x')).toThrow(/Credentials/);
  });

  it('follows redirects only when they do not step down', () => {
    const https = new URL('https://huggingface.co/a.gguf');
    const local = new URL('http://127.0.0.1:9/a.gguf');
    expect(checkRedirect(https, 'https://cdn.example.org/b?sig=1').hostname).toBe(
      'cdn.example.org',
    );
    expect(checkRedirect(local, '/other.gguf').href).toBe('http://127.0.0.1:9/other.gguf');
    expect(() => checkRedirect(https, 'http://cdn.example.org/b')).toThrow(/from https to http/);
    expect(() => checkRedirect(local, 'http://cdn.example.org/b')).toThrow(
      /only allowed to this machine/,
    );
    expect(() => checkRedirect(https, 'https://127.0.0.1/admin')).toThrow(/to this machine/);
  });

  it('accepts plain file names only', () => {
    expect(checkModelFileName('Llama-3.2-1B-Instruct-Q4_K_M.gguf')).toBe(
      'Llama-3.2-1B-Instruct-Q4_K_M.gguf',
    );
    for (const bad of [
      '',
      '.',
      '..',
      '../x',
      'a/b',
      'a\\b',
      '.x',
      'x\0y',
      'downloads.json',
      'a'.repeat(300),
    ])
      expect(() => checkModelFileName(bad), JSON.stringify(bad)).toThrow(/plain file name/);
    expect(fileNameFrom('/a/b/My%20Model..gguf')).toBe('My-Model.gguf');
    expect(slugFromFile('Llama-3.2-1B.Q4_K_M.gguf')).toBe('llama-3.2-1b.q4_k_m');
  });
});

describe('fit estimate', () => {
  const noGpu = (ram = 8 * GiB): MachineFacts => ({
    gpus: [],
    ramTotalBytes: ram,
    ramFreeBytes: ram / 2,
    source: 'gpu-module',
  });
  const gpu = (vram: number, ram = 16 * GiB): MachineFacts => ({
    gpus: [{ name: 'Test GPU', vramTotalBytes: vram, vramFreeBytes: vram }],
    ramTotalBytes: ram,
    ramFreeBytes: ram / 2,
    source: 'gpu-module',
  });
  // A Qwen2.5-0.5B-shaped model: 24 layers of ~14 MiB, 140 MiB of embeddings, GQA 2 x 64.
  const qwenLike: GgufNeeds = {
    architecture: 'qwen2',
    trainContext: 32768,
    layers: 24,
    layerBytes: Array.from({ length: 24 }, () => 14 * MiB),
    otherBytes: 140 * MiB,
    outputBytes: 140 * MiB,
    kvBytesPerTokenPerLayer: 2 * (64 + 64) * 2,
    embedding: 896,
    vocab: 151_936,
    unusual: null,
  };
  const base = {
    modelId: 'm',
    variantId: null,
    engine: 'llama' as const,
    fileSize: 491_400_032,
    contextLength: 32768,
  };

  it('reads the facts from a real GGUF header', async () => {
    const info = await readGgufHeader(join(FIXTURES, FIXTURE.stories.file));
    const needs = ggufNeeds(info, FIXTURE.stories.bytes);
    expect(needs.architecture).toBe('llama');
    expect(needs.layers).toBe(5);
    expect(needs.vocab).toBe(512);
    expect(needs.trainContext).toBe(2048);
    expect(needs.kvBytesPerTokenPerLayer).toBe(4 * (8 + 8) * 2); // 4 KV heads x (K 8 + V 8) x f16
    // Weights = the tensor data section: every byte after the header.
    expect(needs.layerBytes.reduce((a, b) => a + b, 0) + needs.otherBytes).toBe(
      FIXTURE.stories.bytes - 14_176,
    );
  });

  it('matches node-llama-cpp GgufInsights on the weights of both fixtures', async () => {
    const { GgufInsights, readGgufFileInfo } = await import('node-llama-cpp');
    for (const fx of [FIXTURE.stories, FIXTURE.tiny]) {
      const info = await readGgufFileInfo(join(FIXTURES, fx.file), { logWarnings: false });
      const needs = ggufNeeds(await readGgufHeader(join(FIXTURES, fx.file)), fx.bytes);
      expect(ggufNeeds(info, fx.bytes)).toEqual(needs); // the worker's plain header = the full one
      const insights = await GgufInsights.from(info);
      expect(needs.layerBytes.reduce((a, b) => a + b, 0) + needs.otherBytes, fx.file).toBe(
        insights.modelSize,
      );
    }
  });

  it('full GPU / partial offload / CPU only / will not fit, with confidence', () => {
    const full = estimateFit({ ...base, needs: qwenLike, facts: gpu(8 * GiB) });
    expect(full).toMatchObject({
      verdict: 'full-gpu',
      confidence: 'high',
      gpuLayers: 24,
      contextSize: 4096,
    });
    expect(FitEstimateSchema.safeParse(full).success).toBe(true);

    const partial = estimateFit({ ...base, needs: qwenLike, facts: gpu(700 * MiB) });
    expect(partial.verdict).toBe('partial-offload');
    expect(partial.gpuLayers).toBeGreaterThan(0);
    expect(partial.gpuLayers).toBeLessThan(24);
    expect(partial.summary).toMatch(/of 24 layers/);

    const cpu = estimateFit({ ...base, needs: qwenLike, facts: noGpu() });
    expect(cpu).toMatchObject({ verdict: 'cpu-only', confidence: 'high', gpuLayers: 0 });
    expect(cpu.need.kvCacheBytes).toBe(24 * 4096 * 512);

    const tooBig = estimateFit({ ...base, needs: qwenLike, facts: noGpu(1.5 * GiB) });
    expect(tooBig.verdict).toBe('will-not-fit');
    expect(tooBig.reasons.join(' ')).toMatch(/needs about/);

    const tight = estimateFit({ ...base, needs: qwenLike, facts: noGpu(2 * GiB) });
    expect(tight).toMatchObject({ verdict: 'cpu-only', confidence: 'medium' });

    const unknownGpus = estimateFit({
      ...base,
      needs: qwenLike,
      facts: { ...noGpu(), source: 'os-only' },
    });
    expect(unknownGpus.confidence).toBe('medium');
    expect(unknownGpus.reasons[0]).toMatch(/assumes no GPU/);

    const swa = estimateFit({
      ...base,
      needs: { ...qwenLike, unusual: 'sliding-window attention' },
      facts: gpu(8 * GiB),
    });
    expect(swa.confidence).toBe('medium');

    const onnx = estimateFit({
      ...base,
      engine: 'onnx',
      fileSize: 26_454,
      needs: null,
      facts: gpu(8 * GiB),
    });
    expect(onnx).toMatchObject({ verdict: 'cpu-only', confidence: 'low', basis: 'file-size' });
  });

  it('turns the GPU module inventory into facts (usable GPUs only)', () => {
    const facts = factsFromInventory(
      {
        detectedAt: new Date().toISOString(),
        provider: 'gpu',
        summary: '',
        toolErrors: [],
        gpus: [
          {
            id: 'a',
            index: 0,
            vendor: 'nvidia',
            name: 'RTX',
            vramTotalMiB: 8192,
            vramFreeMiB: 7000,
            driverVersion: null,
            pciBusId: null,
            computeCapability: null,
            powerLimitW: null,
            integrated: false,
            backends: ['cuda'],
            usable: true,
            reason: null,
            notes: [],
            sources: [],
          },
          {
            id: 'b',
            index: 1,
            vendor: 'nvidia',
            name: 'Old',
            vramTotalMiB: 2048,
            vramFreeMiB: 2048,
            driverVersion: null,
            pciBusId: null,
            computeCapability: null,
            powerLimitW: null,
            integrated: false,
            backends: [],
            usable: false,
            reason: 'too old',
            notes: [],
            sources: [],
          },
        ],
      } as never,
      { total: 16 * GiB, free: 8 * GiB },
    );
    expect(facts.gpus).toEqual([
      { name: 'RTX', vramTotalBytes: 8192 * MiB, vramFreeBytes: 7000 * MiB },
    ]);
  });

  describe('before download, over HTTP', () => {
    let server: RangeServer;
    let dir: string;
    afterEach(async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('reads the GGUF header of a catalog model remotely by Range, not the whole file', async () => {
      server = await startRangeServer();
      dir = await mkdtemp(join(tmpdir(), 'idlerig-fit-'));
      // The tiny fixture followed by 12 MiB of padding: a file larger than what the header needs.
      const tinyBody = Buffer.concat([fixture(FIXTURE.tiny.file), Buffer.alloc(12 * MiB)]);
      server.routes.set('/tiny.gguf', { body: tinyBody });
      server.routes.set('/m.onnx', { body: fixture(FIXTURE.mnist.file) });
      server.routes.set('/gone.gguf', { body: tinyBody, status: 404 });
      const catalog = join(dir, 'c.json');
      writeTestCatalog(catalog, server, [
        { id: 'fx-tiny', route: '/tiny.gguf', fixture: FIXTURE.tiny, sizeBytes: tinyBody.length },
        { id: 'fx-mnist', route: '/m.onnx', fixture: FIXTURE.mnist },
        { id: 'fx-gone', route: '/gone.gguf', fixture: FIXTURE.tiny, file: 'gone.gguf' },
      ]);
      const registry = new ModelRegistry(join(dir, 'models'));
      const service = new ModelsService({
        modelsDir: join(dir, 'models'),
        registry,
        log: silent,
        catalog,
        machineFacts: async () => noGpu(),
      });
      await service.start();
      try {
        const fit = await service.fit('fx-tiny');
        expect(fit).toMatchObject({
          basis: 'gguf-header',
          verdict: 'cpu-only',
          confidence: 'high',
          totalLayers: 1,
          contextSize: 4096,
        });
        const ranged = server.requests.filter((r) => r.path === '/tiny.gguf' && r.range);
        expect(ranged.length).toBeGreaterThan(0);
        expect(
          server.requests.filter((r) => r.path === '/tiny.gguf' && !r.range && r.status === 200),
        ).toHaveLength(0);
        const sent = server.requests
          .filter((r) => r.path === '/tiny.gguf')
          .reduce((n, r) => n + r.bytesSent, 0);
        expect(sent).toBeLessThan(tinyBody.length / 2);
        // Cached: a second call asks nothing.
        const before = server.requests.length;
        await service.fit('fx-tiny');
        expect(server.requests.length).toBe(before);

        const onnx = await service.fit('fx-mnist');
        expect(onnx).toMatchObject({ basis: 'file-size', confidence: 'low' });
        const gone = await service.fit('fx-gone');
        expect(gone).toMatchObject({ basis: 'file-size', confidence: 'low' });
        expect(gone.reasons.join(' ')).toMatch(/could not be read.*HTTP 404/);
        await expect(service.fit('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      } finally {
        await service.stop();
      }
    });
  });
});
