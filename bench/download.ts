// `npm run bench -- download`: model download throughput over loopback HTTP, Idlerig's verified
// downloader (sha256 while streaming, size check, sidecar, stall watchdog, fsync + atomic rename)
// against a plain stream copy of the same file (http.get piped into a file, then fsync).
// The server runs in its own process so it does not share the client's event loop.
// Two scenarios: `loopback` (as fast as loopback goes: a CPU stress test, since on a small machine
// the server shares the cores), and `paced` (the server sends at BENCH_DOWNLOAD_PACE_MIBPS,
// default 100 MiB/s, about a gigabit link: what a real download looks like).
// Prints one JSON document: the machine, the runs, the medians and the ratios (goal >= 0.9).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { downloadModel } from '../electron/provider/models/download';
import { machine } from './_machine';
import { median } from './_stats';

const SIZE_MIB = Number(process.env.BENCH_DOWNLOAD_MIB ?? 512);
const RUNS = Number(process.env.BENCH_DOWNLOAD_RUNS ?? 5);
const PACE_MIBPS = Number(process.env.BENCH_DOWNLOAD_PACE_MIBPS ?? 100);
const PACED_MIB = Math.min(SIZE_MIB, Number(process.env.BENCH_DOWNLOAD_PACED_MIB ?? 256));

const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const file = process.argv[1];
const size = fs.statSync(file).size;
const server = http.createServer((req, res) => {
  const q = new URL(req.url, 'http://x').searchParams;
  const pace = Number(q.get('pace') || 0) * 1024 * 1024;
  const end = Number(q.get('mib') || 0) * 1024 * 1024 || size;
  res.writeHead(200, { 'content-length': end, etag: '"bench"', 'content-type': 'application/octet-stream' });
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20, end: end - 1 });
  if (!pace) return void stream.pipe(res);
  const t0 = Date.now();
  let sent = 0;
  stream.on('data', (chunk) => {
    sent += chunk.length;
    res.write(chunk);
    const wait = (sent / pace) * 1000 - (Date.now() - t0);
    if (wait > 0) {
      stream.pause();
      setTimeout(() => stream.resume(), wait);
    }
  });
  stream.on('end', () => res.end());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function plainCopy(url: string, dest: string, fsync: boolean): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    get(url, (res) => {
      pipeline(res, createWriteStream(dest, { highWaterMark: 1 << 20 })).then(resolve, reject);
    }).on('error', reject);
  });
  if (fsync) {
    const fh = await open(dest, 'r+');
    await fh.sync();
    await fh.close();
  }
  return (performance.now() - t0) / 1000;
}

async function verified(
  url: string,
  modelsDir: string,
  sha256: string,
  bytes: number,
): Promise<number> {
  const t0 = performance.now();
  await downloadModel(
    { file: 'bench.gguf', urls: [url], sha256, sizeBytes: bytes },
    {
      modelsDir,
      stallTimeoutMs: 30_000,
      maxRetries: 0,
      retryBaseMs: 1000,
      retryMaxMs: 1000,
      freeSpace: async () => Number.MAX_SAFE_INTEGER,
      signal: new AbortController().signal,
      events: { state: () => undefined, progress: () => undefined, notice: () => undefined },
    },
  );
  return (performance.now() - t0) / 1000;
}

interface Run {
  kind: string;
  seconds: number;
  mibPerSecond: number;
  cpuSecondsPerGiB: number;
}

async function scenario(
  dir: string,
  url: string,
  mib: number,
  sha256: string,
  runs: number,
): Promise<Record<string, unknown>> {
  const bytes = mib * 1024 * 1024;
  const detail: Run[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate the order so drift hits every kind alike.
    const order =
      i % 2 === 0 ? ['copy', 'copy+fsync', 'idlerig'] : ['idlerig', 'copy+fsync', 'copy'];
    for (const kind of order) {
      const models = join(dir, `models-${kind}-${i}`);
      await mkdir(models, { recursive: true });
      const cpu0 = process.cpuUsage();
      const seconds =
        kind === 'idlerig'
          ? await verified(url, models, sha256, bytes)
          : await plainCopy(url, join(models, 'copy.bin'), kind === 'copy+fsync');
      const cpu = process.cpuUsage(cpu0);
      detail.push({
        kind,
        seconds: +seconds.toFixed(3),
        mibPerSecond: +(mib / seconds).toFixed(1),
        // CPU time of this (client) process, all threads, per GiB downloaded.
        cpuSecondsPerGiB: +(((cpu.user + cpu.system) / 1e6) * (1024 / mib)).toFixed(3),
      });
      await rm(models, { recursive: true, force: true });
    }
  }
  const med = (kind: string, key: 'mibPerSecond' | 'cpuSecondsPerGiB'): number =>
    median(detail.filter((r) => r.kind === kind).map((r) => r[key]));
  const idlerig = med('idlerig', 'mibPerSecond');
  const copyFsync = med('copy+fsync', 'mibPerSecond');
  const copy = med('copy', 'mibPerSecond');
  return {
    fileMiB: mib,
    runs,
    medianMiBPerSecond: { idlerig, plainCopyWithFsync: copyFsync, plainCopy: copy },
    medianClientCpuSecondsPerGiB: {
      idlerig: med('idlerig', 'cpuSecondsPerGiB'),
      plainCopyWithFsync: med('copy+fsync', 'cpuSecondsPerGiB'),
      plainCopy: med('copy', 'cpuSecondsPerGiB'),
    },
    // The verified download ends with fsync + rename (a model must be durable before it is
    // used), so the like-for-like baseline is the copy with fsync; the copy without it is shown too.
    ratio: +(idlerig / copyFsync).toFixed(3),
    ratioVsCopyWithoutFsync: +(idlerig / copy).toFixed(3),
    detail,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'idlerig-bench-dl-'));
  const src = join(dir, 'source.bin');
  const body = randomBytes(SIZE_MIB * 1024 * 1024);
  await writeFile(src, body);
  const shaOf = (mib: number): string =>
    createHash('sha256')
      .update(body.subarray(0, mib * 1024 * 1024))
      .digest('hex');
  const server = spawn(process.execPath, ['-e', SERVER, src], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) =>
    server.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  );
  const base = `http://127.0.0.1:${port}/bench.gguf`;
  const loadBefore = loadavg().map((x) => +x.toFixed(2));
  let loopback: Record<string, unknown>;
  let paced: Record<string, unknown>;
  try {
    await plainCopy(base, join(dir, 'warm.bin'), false); // page cache of the source, JIT
    await rm(join(dir, 'warm.bin'));
    loopback = await scenario(dir, base, SIZE_MIB, shaOf(SIZE_MIB), RUNS);
    paced = await scenario(
      dir,
      `${base}?pace=${PACE_MIBPS}&mib=${PACED_MIB}`,
      PACED_MIB,
      shaOf(PACED_MIB),
      Math.min(RUNS, 3),
    );
  } finally {
    server.kill();
    await rm(dir, { recursive: true, force: true });
  }
  const result = {
    benchmark: 'download',
    machine: machine(),
    loadAverage: { before: loadBefore, after: loadavg().map((x) => +x.toFixed(2)) },
    goal: 0.9,
    ratio: loopback.ratio,
    pacedRatio: paced.ratio,
    meetsGoal: (loopback.ratio as number) >= 0.9,
    scenarios: {
      loopback,
      [`paced at ${PACE_MIBPS} MiB/s`]: paced,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

await main();
