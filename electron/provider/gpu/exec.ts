import { execFile } from 'node:child_process';

export interface ToolResult {
  /** The tool ran and exited 0. */
  ok: boolean;
  /** The tool is not installed (not on PATH). Not an error: most machines lack most tools. */
  missing: boolean;
  stdout: string;
  stderr: string;
  code: number | null;
  /** Plain words when it failed. */
  error: string | null;
}

export interface ToolOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a vendor tool once and collects its output. Never throws: a missing tool, a non-zero exit,
 * a hang (killed after the timeout) or a crash all come back as a result the caller explains.
 */
export function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<ToolResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 8 * 1024 * 1024,
        env: opts.env ?? process.env,
        windowsHide: true,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ ok: true, missing: false, stdout, stderr, code: 0, error: null });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        if (e.code === 'ENOENT') {
          resolve({
            ok: false,
            missing: true,
            stdout: '',
            stderr: '',
            code: null,
            error: `${cmd} is not installed`,
          });
          return;
        }
        const code = typeof e.code === 'number' ? e.code : null;
        const firstLine = (stderr || stdout).trim().split('\n')[0] ?? '';
        const error = e.killed
          ? `${cmd} did not answer within ${Math.round(timeoutMs / 1000)} s`
          : `${cmd} failed${code !== null ? ` (exit ${code})` : ''}${firstLine ? `: ${firstLine}` : ''}`;
        resolve({ ok: false, missing: false, stdout, stderr, code, error });
      },
    );
  });
}
