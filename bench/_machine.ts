import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** The machine a benchmark ran on, printed with every result. */
export function machine(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform} ${os.release()}`,
    arch: process.arch,
    node: process.versions.node,
  };
}

/**
 * CPU used on this machine by processes OUTSIDE this benchmark's own process tree, between
 * start() and stop(), in cores (1.0 = one core busy the whole time). The load average cannot say
 * this: a benchmark's own gateway, stubs and load generator raise it past half of two cores.
 * Linux only (/proc); elsewhere null. Own = every live process descended from this one (its
 * utime+stime and what it reaped of its own children) plus what this process reaped.
 */
export function foreignCpu(): { stop(): { cores: number; seconds: number } | null } {
  const t0 = performance.now();
  const a = cpuSnapshot();
  return {
    stop() {
      const b = cpuSnapshot();
      if (!a || !b) return null;
      const seconds = (performance.now() - t0) / 1000;
      const foreign = b.busy - a.busy - (b.own - a.own);
      return { cores: Math.max(0, Math.round((foreign / seconds) * 100) / 100), seconds };
    },
  };
}

const HZ = 100; // USER_HZ, 100 on every Linux this runs on

/** CPU milliseconds process `pid` has used so far (utime + stime); null off Linux or gone. */
export function processCpuMs(pid: number): number | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) / HZ) * 1000;
  } catch {
    return null;
  }
}

function cpuSnapshot(): { busy: number; own: number } | null {
  if (process.platform !== 'linux') return null;
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const n = cpu.map(Number);
    const busy = (n[0]! + n[1]! + n[2]! + n[5]! + n[6]! + n[7]!) / HZ;
    const procs = new Map<number, { ppid: number; cpu: number }>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const raw = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
        // After the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 0-based from state.
        procs.set(Number(d), {
          ppid: Number(f[1]),
          cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / HZ,
        });
      } catch {
        // gone while reading
      }
    }
    const children = new Map<number, number[]>();
    for (const [pid, p] of procs) {
      const list = children.get(p.ppid) ?? [];
      list.push(pid);
      children.set(p.ppid, list);
    }
    let own = 0;
    const stack = [process.pid];
    while (stack.length) {
      const pid = stack.pop()!;
      own += procs.get(pid)?.cpu ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    return { busy, own };
  } catch {
    return null;
  }
}
