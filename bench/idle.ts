// Idle cost of a headless node: CPU (% of one core) and RSS after it has settled.
// Issue 2 target: under 1 % of one core and under 150 MB RSS after 60 s idle.
// IDLE_BENCH_SECONDS shortens the measurement window (default 60).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from './_machine';

const seconds = Number(process.env.IDLE_BENCH_SECONDS ?? 60);
const cli = fileURLToPath(new URL('../bin/idlerig.js', import.meta.url));
const TICKS = 100; // USER_HZ on Linux

async function procStat(pid: number): Promise<{ cpuTicks: number; rssBytes: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const utime = Number(stat[11]);
  const stime = Number(stat[12]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuTicks: utime + stime, rssBytes: rssKb * 1024 };
}

const dataDir = await mkdtemp(join(tmpdir(), 'idlerig-idle-'));
const child = spawn(
  process.execPath,
  [cli, '--headless', '--port', '0', '--data-dir', dataDir, '--quiet'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let out = '';
child.stdout.on('data', (c) => (out += c));
const t0 = Date.now();
while (!/Dashboard: /.test(out)) {
  if (Date.now() - t0 > 15_000) throw new Error('the node did not start');
  await new Promise((r) => setTimeout(r, 50));
}
const startupMs = Date.now() - t0;
// Let start-up work settle, then measure an idle window.
await new Promise((r) => setTimeout(r, 3000));
const a = await procStat(child.pid!);
const ta = Date.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const b = await procStat(child.pid!);
const elapsed = (Date.now() - ta) / 1000;
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
await rm(dataDir, { recursive: true, force: true });

const cpuPercent = ((b.cpuTicks - a.cpuTicks) / TICKS / elapsed) * 100;
const rssMB = b.rssBytes / 1e6;
console.log(
  JSON.stringify(
    {
      benchmark: 'idle-headless-node',
      machine: machine(),
      windowSeconds: Math.round(elapsed),
      startupMs,
      cpuPercentOfOneCore: Number(cpuPercent.toFixed(3)),
      rssMB: Number(rssMB.toFixed(1)),
      targets: { cpuPercentOfOneCore: 1, rssMB: 150 },
      ratioToTarget: {
        cpu: Number((cpuPercent / 1).toFixed(3)),
        rss: Number((rssMB / 150).toFixed(3)),
      },
      pass: cpuPercent < 1 && rssMB < 150,
    },
    null,
    2,
  ),
);
