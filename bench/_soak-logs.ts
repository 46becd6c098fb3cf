// The soak benchmark's reading of its node: the warn/error lines of the node's logs, classified,
// and the slope of the RSS samples (bench/soak.ts).
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface LogLine {
  level: string;
  scope: string;
  msg: string;
  data?: Record<string, unknown>;
}
/** Warn/error lines the test's own input causes, by what causes them. */
const EXPLAINED: [string, (l: LogLine) => boolean][] = [
  [
    'a paused event client passed the send-buffer bound (its events dropped)',
    (l) => l.scope === 'http' && /^event socket client is not reading/.test(l.msg),
  ],
  [
    'a paused event client did not answer a ping (disconnected by the node)',
    (l) => l.scope === 'http' && /^event socket client did not answer a ping/.test(l.msg),
  ],
  [
    'a test job the test made fail (refused, cancelled, invalid)',
    (l) =>
      /test/i.test(l.msg) &&
      /QUEUE_FULL|CANCELLED|CONFLICT|NOT_FOUND|INVALID_PARAMS/.test(JSON.stringify(l.data ?? {})),
  ],
];
/**
 * Neither the test's doing nor a fault: llama.cpp's notice, at each load of stories260K.gguf, that
 * the model has no separator or padding token.
 */
const fixtureNotice = (l: LogLine): boolean =>
  l.scope === 'engine' && /^llama\.cpp: load: bad special token: /.test(l.msg);

/**
 * The node's warn and error lines (its logs/ folder, pino JSON lines), sorted into those the
 * soak's own input explains, llama.cpp's notices about the fixture model, and the rest.
 */
export async function classifyNodeLogs(dir: string): Promise<{
  warnOrError: number;
  explained: Record<string, number>;
  fixtureNotices: Record<string, number>;
  unexplained: Record<string, { count: number; level: string; example: unknown }>;
}> {
  const logLines: LogLine[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!/\.log$/.test(f) || f === 'current.log') continue;
    for (const raw of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      try {
        const l = JSON.parse(raw) as LogLine;
        if (l.level === 'warn' || l.level === 'error') logLines.push(l);
      } catch {
        /* a partial last line */
      }
    }
  }
  const fixtureNotices: Record<string, number> = {};
  const explained: Record<string, number> = {};
  const unexplained: Record<string, { count: number; level: string; example: unknown }> = {};
  for (const l of logLines) {
    const why = EXPLAINED.find(([, test]) => test(l))?.[0];
    if (fixtureNotice(l)) fixtureNotices[l.msg] = (fixtureNotices[l.msg] ?? 0) + 1;
    else if (why) explained[why] = (explained[why] ?? 0) + 1;
    else {
      const k = `${l.level} [${l.scope}] ${l.msg}`;
      const u = (unexplained[k] ??= { count: 0, level: l.level, example: l.data ?? null });
      u.count++;
    }
  }
  return { warnOrError: logLines.length, explained, fixtureNotices, unexplained };
}

/**
 * Theil–Sen slope (the median of the slopes between every pair of points): MB per minute. Beside
 * the least-squares fit, which one early dip of a garbage-collected heap tilts, this is what a
 * steady rise would show and an outlier would not.
 */
export function robustSlopePerMinute(xs: { t: number; mb: number }[]): number {
  const s: number[] = [];
  for (let i = 0; i < xs.length; i++)
    for (let j = i + 1; j < xs.length; j++)
      if (xs[j]!.t !== xs[i]!.t) s.push((xs[j]!.mb - xs[i]!.mb) / (xs[j]!.t - xs[i]!.t));
  if (s.length === 0) return 0;
  s.sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Least-squares slope of `mb` over `t` (minutes): MB per minute. */
export function slopePerMinute(xs: { t: number; mb: number }[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mt = xs.reduce((s, p) => s + p.t, 0) / n;
  const mm = xs.reduce((s, p) => s + p.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of xs) {
    num += (p.t - mt) * (p.mb - mm);
    den += (p.t - mt) ** 2;
  }
  return den ? num / den : 0;
}
