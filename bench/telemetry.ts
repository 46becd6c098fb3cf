// Cost of the telemetry path: CPU (% of one core) and RSS of this process while the node's power
// services (one long-lived nvidia-smi loop process, the parser, the energy ledger with a job
// running, the history ring, the telemetry events serialized as the WebSocket would) run against
// a FAKE nvidia-smi in loop mode replaying the recorded 2× RTX 3090 rig (test/fixtures/gpu).
// The fake's own CPU is reported apart: it is a Node script, not representative of the real tool.
// Issue 4 goal: under 0.5 % of one core over 10 minutes.
//   TELEMETRY_BENCH_SECONDS   measurement window (default 600 = the 10 minutes)
//   TELEMETRY_BENCH_INTERVAL_MS  sampling pace (default 1000: the pace while jobs run)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine } from './_machine';
import { installFakeTools } from '../test/unit/gpu-fake-tools';
import { Logger } from '../electron/provider/logs/logger';
import { PowerServices } from '../electron/provider/policy/power-services';
import { defaultSettings } from '../electron/provider/settings/migrations';

const seconds = Number(process.env.TELEMETRY_BENCH_SECONDS ?? 600);
const intervalMs = Number(process.env.TELEMETRY_BENCH_INTERVAL_MS ?? 1000);
const WARMUP_MS = 5000;
const TICKS = 100; // USER_HZ on Linux

async function childCpuSeconds(pid: number | undefined): Promise<number | null> {
  if (!pid || process.platform !== 'linux') return null;
  try {
    const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(stat[11]) + Number(stat[12])) / TICKS;
  } catch {
    return null;
  }
}

const dataDir = await mkdtemp(join(tmpdir(), 'idlerig-telemetry-bench-'));
const fake = await installFakeTools('rig-2x3090');
const logger = new Logger({ dir: join(dataDir, 'logs'), level: 'info' });
const settings = defaultSettings();
const power = new PowerServices({
  dataDir,
  logger,
  settings: () => settings,
  now: () => new Date(),
  toolEnv: fake.env,
  detect: { systeminformation: false },
  host: { idleSeconds: () => null, powerSource: () => 'ac' },
  pace: { busyMs: intervalMs, idleMs: intervalMs, idleAfterMs: 60_000 },
});
let samples = 0;
let wsBytes = 0;
power.on('telemetry', (batch) => {
  samples += batch.length;
  // What the HTTP transport does with every event: one JSON frame per listener.
  wsBytes += JSON.stringify({ kind: 'event', event: { type: 'telemetry', samples: batch } }).length;
});
await power.start();
await power.gpus();
power.jobStarted('bench-job');

await new Promise((r) => setTimeout(r, WARMUP_MS));
const samplerPid = (power as unknown as { sampler: { pid?: number } | null }).sampler?.pid;
const windows = Math.min(10, Math.max(1, Math.round(seconds / 10)));
const windowMs = (seconds * 1000) / windows;
const timeline: { atSeconds: number; cpuPercentOfOneCore: number; rssMB: number }[] = [];
const startCpu = process.cpuUsage();
const startChild = await childCpuSeconds(samplerPid);
const startSamples = samples;
const t0 = performance.now();
let lastCpu = startCpu;
let lastT = t0;
let rssMax = 0;
const rssStart = process.memoryUsage().rss;
for (let i = 0; i < windows; i++) {
  await new Promise((r) => setTimeout(r, windowMs));
  const cpu = process.cpuUsage();
  const now = performance.now();
  const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
  const rss = process.memoryUsage().rss;
  rssMax = Math.max(rssMax, rss);
  timeline.push({
    atSeconds: Math.round((now - t0) / 1000),
    cpuPercentOfOneCore: Number(((used / (now - lastT)) * 100).toFixed(3)),
    rssMB: Number((rss / 1e6).toFixed(1)),
  });
  lastCpu = cpu;
  lastT = now;
}
const elapsedMs = performance.now() - t0;
const total = process.cpuUsage(startCpu);
const endChild = await childCpuSeconds(samplerPid);
const summary = power.energySummary(0);
power.jobEnded('bench-job');
await power.stop();
logger.close();
await fake.cleanup();
await rm(dataDir, { recursive: true, force: true });

const cpuPercent = ((total.user + total.system) / 1000 / elapsedMs) * 100;
console.log(
  JSON.stringify(
    {
      benchmark: 'telemetry',
      machine: machine(),
      windowSeconds: Math.round(elapsedMs / 1000),
      intervalMs,
      gpus: 2,
      samples: samples - startSamples,
      cpuPercentOfOneCore: Number(cpuPercent.toFixed(3)),
      cpuMsPerSample: Number(
        ((total.user + total.system) / 1000 / Math.max(1, samples - startSamples)).toFixed(3),
      ),
      rssMB: {
        start: Number((rssStart / 1e6).toFixed(1)),
        end: timeline.at(-1)?.rssMB ?? null,
        max: Number((rssMax / 1e6).toFixed(1)),
      },
      eventBytesPerSecond: Math.round(wsBytes / ((elapsedMs + WARMUP_MS) / 1000)),
      fakeNvidiaSmiCpuPercentOfOneCore:
        startChild !== null && endChild !== null
          ? Number(((((endChild - startChild) * 1000) / elapsedMs) * 100).toFixed(3))
          : null,
      energyKwhMeasured: Number((summary.today.jobKwh + summary.today.idleKwh).toFixed(6)),
      timeline,
      target: { cpuPercentOfOneCore: 0.5 },
      pass: cpuPercent < 0.5,
    },
    null,
    2,
  ),
);
