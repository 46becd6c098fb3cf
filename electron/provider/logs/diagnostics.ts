import { readFile, mkdir, readdir, unlink } from 'node:fs/promises';
import { join, basename } from 'node:path';
import os from 'node:os';
import { gzipSync } from 'node:zlib';
import type { Settings } from '../../../shared/api';
import { writeFileAtomic } from '../util/atomic-write';
import { redact } from './redact';

export interface DiagnosticsInput {
  dir: string;
  version: string;
  mode: 'electron' | 'headless';
  settings: Settings;
  logFiles: string[];
  now?: Date;
  extra?: Record<string, unknown>;
}

/**
 * A diagnostics bundle: one gzipped JSON file with system information, the redacted settings
 * and the log files. Plain JSON inside, so a user can read what they are about to share.
 */
export async function writeDiagnostics(
  input: DiagnosticsInput,
): Promise<{ fileName: string; path: string; bytes: number }> {
  await mkdir(input.dir, { recursive: true });
  const now = input.now ?? new Date();
  const logs: Record<string, string> = {};
  for (const f of input.logFiles) {
    logs[basename(f)] = await readFile(f, 'utf8').catch((e: Error) => `(unreadable: ${e.message})`);
  }
  const bundle = {
    kind: 'idlerig-diagnostics',
    createdAt: now.toISOString(),
    app: { version: input.version, mode: input.mode },
    system: {
      platform: process.platform,
      release: os.release(),
      arch: process.arch,
      node: process.versions.node,
      electron: process.versions.electron ?? null,
      cpus:
        os
          .cpus()
          .map((c) => c.model)
          .slice(0, 1)[0] ?? null,
      cpuCount: os.cpus().length,
      totalMemoryBytes: os.totalmem(),
      freeMemoryBytes: os.freemem(),
      uptimeSeconds: os.uptime(),
    },
    settings: redact(input.settings),
    ...(input.extra ? { extra: redact(input.extra) } : {}),
    logs,
  };
  const fileName = `idlerig-diagnostics-${now.toISOString().replace(/[:.]/g, '-')}.json.gz`;
  const path = join(input.dir, fileName);
  const data = gzipSync(JSON.stringify(bundle, null, 2));
  await writeFileAtomic(path, data, 0o600);
  await pruneOld(input.dir, 5);
  return { fileName, path, bytes: data.length };
}

async function pruneOld(dir: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.startsWith('idlerig-diagnostics-')).sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep)))
    await unlink(join(dir, n)).catch(() => undefined);
}

/** Only names this module wrote may be served back (no path tricks). */
export function isDiagnosticsFileName(name: string): boolean {
  return /^idlerig-diagnostics-[0-9TZ-]+\.json\.gz$/.test(name);
}
