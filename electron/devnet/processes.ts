// The demo network's child processes: each in its own process group (so a stop reaches its
// children too: the provider's engine process), stopped by group with SIGTERM and then SIGKILL,
// and a reaper that kills every group still registered when this process dies without stopping
// them (SIGKILL, a crash): its stdin is a pipe from us, and its end is our death.
import { spawn, type ChildProcess } from 'node:child_process';
import { IdlerigError } from '../../shared/errors';

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Lines written to stdout from now on. */
  onLine(listener: (line: string) => void): void;
}

/** Node-as-node under Electron too (the demo network may be started by the desktop app). */
export function nodeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...extra };
}

const REAPER = `
const groups = new Set();
let buf = '';
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => {
  buf += c;
  for (let i; (i = buf.indexOf('\\n')) >= 0; ) {
    const [op, pid] = buf.slice(0, i).split(' ');
    buf = buf.slice(i + 1);
    if (op === '+') groups.add(Number(pid)); else groups.delete(Number(pid));
  }
});
const alive = (g) => { try { process.kill(-g, 0); return true; } catch { return false; } };
const kill = (s) => { for (const g of groups) try { process.kill(-g, s); } catch {} };
process.stdin.on('end', () => {
  kill('SIGTERM');
  const t0 = Date.now();
  const tick = setInterval(() => {
    if ([...groups].every((g) => !alive(g))) process.exit(0);
    if (Date.now() - t0 > 3000) { kill('SIGKILL'); process.exit(0); }
  }, 50);
});
`;

export class Reaper {
  private readonly proc: ChildProcess;
  constructor() {
    // Its own process group: a SIGKILL to ours (how a parent stops a hung devnet) spares it.
    this.proc = spawn(process.execPath, ['-e', REAPER], {
      stdio: ['pipe', 'ignore', 'ignore'],
      env: nodeEnv(),
      detached: true,
    });
    this.proc.on('error', () => undefined);
    this.proc.stdin!.on('error', () => undefined);
  }
  get pid(): number {
    return this.proc.pid ?? 0;
  }
  watch(pgid: number): void {
    this.proc.stdin!.write(`+ ${pgid}\n`);
  }
  forget(pgid: number): void {
    this.proc.stdin!.write(`- ${pgid}\n`);
  }
  /** Ends the reaper (what it still watches is stopped by it). */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    await exited;
  }
}

/** Starts `command args` in a new process group, watched by the reaper. */
export function startChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  reaper: Reaper,
): Child {
  const proc = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  if (!proc.pid) throw new IdlerigError('INTERNAL', `Could not start the ${name}`);
  reaper.watch(proc.pid);
  let out = '';
  let err = '';
  let partial = '';
  const listeners: ((line: string) => void)[] = [];
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (c: string) => {
    out = (out + c).slice(-64_000);
    partial += c;
    for (let i; (i = partial.indexOf('\n')) >= 0;) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      for (const l of listeners) l(line);
    }
  });
  proc.stderr!.on('data', (c: string) => (err = (err + c).slice(-64_000)));
  proc.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  return {
    name,
    proc,
    pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    onLine: (l) => void listeners.push(l),
  };
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* the group is gone */
  }
}

/**
 * Stops a child's whole process group: SIGTERM (a graceful stop), SIGKILL after `graceMs`, and
 * SIGKILL to whatever of its group outlived it.
 */
export async function stopChild(c: Child, reaper: Reaper, graceMs = 3000): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) {
    killGroup(c.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(c.pid, 'SIGKILL'), graceMs);
    await c.exited;
    clearTimeout(timer);
  }
  killGroup(c.pid, 'SIGKILL');
  reaper.forget(c.pid);
}

/** The last line a failed child wrote, for a one-line error. */
export function lastWords(c: Child): string {
  const lines = (c.stderr() + '\n' + c.stdout())
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const said = lines.find((l) => l.startsWith('idlerig: ')) ?? lines.at(-1) ?? 'no message';
  return said.replace(/^idlerig: /, '');
}

/** Waits for the first stdout line matching `re`; fails with the child's last words if it exits. */
export async function waitForLine(
  c: Child,
  re: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  const t0 = Date.now();
  for (;;) {
    const m = re.exec(c.stdout());
    if (m) return m;
    if (c.proc.exitCode !== null || c.proc.signalCode !== null)
      throw new IdlerigError('UNAVAILABLE', `The ${c.name} stopped: ${lastWords(c)}`);
    if (Date.now() - t0 > timeoutMs)
      throw new IdlerigError(
        'UNAVAILABLE',
        `The ${c.name} did not start within ${timeoutMs / 1000} s`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}
