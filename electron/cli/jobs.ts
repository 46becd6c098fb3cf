// `idlerig jobs [--since DATE] [--until DATE] [--model M] [--gateway URL] [--status S[,S]]
// [--limit N] [--json | --csv FILE]`: the job record. On a data folder a running node owns, the
// verb asks that node (its API; the CSV streams from its export route); otherwise it takes the
// data-dir lock and reads the database itself.
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import {
  JobFilterSchema,
  JOB_STATUS_VALUES,
  JobsListParamsSchema,
  type JobFilter,
  type JobRow,
} from '../../shared/api/jobs';
import { IdlerigError } from '../../shared/errors';
import { systemWords, usage } from './errors';
import { parseCliArgs } from './args';
import { formatTokenAmount } from '../../shared/payments';
import { DataDirLock, readEndpoint } from '../provider/datadir-lock';
import { openJobsDb } from '../provider/jobs/db';
import { JobQueries } from '../provider/jobs/queries';
import { writeJobsCsv } from '../provider/jobs/csv';
import { JOBS_CSV_PATH } from '../provider/jobs/http-export';
import type { NodeApiClient } from '../provider/api/node-client';
import { findOwner, resolveDataDir, unreachableError } from './context';

/** The most jobs one --limit asks for: the API's own maximum (jobs.list's schema). */
const MAX_LIMIT = JobsListParamsSchema.shape.limit.unwrap().maxValue ?? Number.MAX_SAFE_INTEGER;

export const JOBS_HELP = `  idlerig jobs [--since DATE] [--until DATE] [--model ID] [--gateway URL]
              [--status done,failed,cancelled,declined,running] [--limit N]
              [--json | --csv FILE] [--data-dir DIR]
      The job record: every job with its tokens, timings, energy and pay (newest first; the
      latest 50, or --limit N, at most ${MAX_LIMIT}). DATE is YYYY-MM-DD (local day) or an ISO
      time. --json prints every matching job (or the latest N) as a JSON array; --csv writes
      them to FILE ("-": stdout), oldest first.
`;

interface Parsed {
  dataDir?: string;
  filter: JobFilter;
  limit: number | null;
  json: boolean;
  csv: string | null;
}

export function parseJobsArgs(args: string[]): Parsed {
  const { values } = parseCliArgs(
    'jobs',
    args,
    {
      since: { type: 'string' },
      until: { type: 'string' },
      model: { type: 'string' },
      gateway: { type: 'string' },
      status: { type: 'string', multiple: true },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      csv: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    false,
  );
  if (values.json && values.csv !== undefined) usage('Give --json or --csv, not both');
  const status = (values.status ?? []).flatMap((s) => s.split(',')).filter(Boolean);
  for (const s of status)
    if (!(JOB_STATUS_VALUES as readonly string[]).includes(s))
      usage(`--status is one of ${JOB_STATUS_VALUES.join(', ')}, not ${JSON.stringify(s)}`);
  const parsed = JobFilterSchema.safeParse({
    ...(values.since !== undefined ? { since: values.since } : {}),
    ...(values.until !== undefined ? { until: values.until } : {}),
    ...(values.model !== undefined ? { model: values.model } : {}),
    ...(values.gateway !== undefined ? { gateway: values.gateway } : {}),
    ...(status.length ? { status } : {}),
  });
  if (!parsed.success)
    usage(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  let limit: number | null = values.json || values.csv !== undefined ? null : 50;
  if (values.limit !== undefined) {
    const n = Number(values.limit);
    if (!/^\d+$/.test(values.limit.trim()) || n < 1 || n > MAX_LIMIT)
      usage(
        `--limit must be a whole number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(values.limit)}`,
        'jobs',
      );
    limit = n;
  }
  return {
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    filter: parsed.data,
    limit,
    json: values.json ?? false,
    csv: values.csv ?? null,
  };
}

/** Where rows come from: the running node's API, or the database file itself. */
interface Source {
  page(offset: number, limit: number): Promise<{ rows: JobRow[]; total: number }>;
  csv(out: Writable): Promise<void>;
  close(): Promise<void>;
}

const PAGE = 1000;

export async function jobsVerb(args: string[]): Promise<number> {
  const opts = parseJobsArgs(args);
  // The file is opened before anything else: a folder that is not there is said at once.
  const csvFile = opts.csv !== null && opts.csv !== '-' ? await openCsvFile(opts.csv) : null;
  try {
    return await listJobs(opts, csvFile);
  } finally {
    // Not committed (any failure): the partial file goes.
    await csvFile?.discard();
  }
}

interface CsvFile {
  out: Writable;
  /** The complete export takes FILE's place. */
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * --csv FILE: written to a temporary file beside it and renamed over FILE once complete, so a
 * failed export leaves nothing behind (and an earlier FILE as it was). A folder that does not
 * exist or that may not be written is one line in words, before the job record is opened.
 */
async function openCsvFile(file: string): Promise<CsvFile> {
  const target = resolve(file);
  const folder = dirname(target);
  const cannot = (why: string): IdlerigError =>
    new IdlerigError('UNAVAILABLE', `cannot write ${file}: ${why}`);
  if ((await stat(target).catch(() => null))?.isDirectory())
    throw cannot(`${target} is a folder; give a file name`);
  const tmp = join(folder, `.${basename(target)}.${process.pid}.partial`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw cannot(
      code === 'ENOENT'
        ? `the folder ${folder} does not exist`
        : code === 'ENOTDIR'
          ? `a part of ${folder} is a file, not a folder`
          : code === 'EACCES' || code === 'EPERM'
            ? `permission denied in the folder ${folder}`
            : systemWords(err),
    );
  }
  const out = fh.createWriteStream();
  let done = false;
  let failure: Error | null = null;
  out.on('error', (err) => (failure ??= err));
  return {
    out,
    async commit() {
      out.end();
      try {
        await finished(out);
        await rename(tmp, target);
      } catch (err) {
        throw cannot(systemWords(err));
      }
      done = true;
    },
    async discard() {
      if (done) return;
      out.destroy();
      await finished(out).catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      if (failure) throw cannot(systemWords(failure));
    },
  };
}

async function listJobs(opts: Parsed, csvFile: CsvFile | null): Promise<number> {
  const paths = resolveDataDir(opts.dataDir);
  const owner = await findOwner(paths);
  if (owner.kind === 'unreachable') throw unreachableError(owner, paths.root);
  const source =
    owner.kind === 'served'
      ? await remoteSource(owner.client, paths.endpoint, opts.filter)
      : await localSource(paths, opts.filter);
  try {
    if (csvFile) {
      // A write that fails (a full disk) ends the export instead of waiting for a drain.
      const failed = new Promise<never>((_, reject) => csvFile.out.once('error', reject));
      failed.catch(() => undefined);
      await Promise.race([source.csv(csvFile.out), failed]);
      await csvFile.commit();
      process.stderr.write(`Jobs written to ${opts.csv}\n`);
      return 0;
    }
    if (opts.csv === '-') {
      await source.csv(process.stdout);
      return 0;
    }
    if (opts.json) {
      process.stdout.write('[');
      let first = true;
      for (let offset = 0; ; offset += PAGE) {
        const want = opts.limit === null ? PAGE : Math.min(PAGE, opts.limit - offset);
        if (want <= 0) break;
        const { rows } = await source.page(offset, want);
        for (const r of rows) {
          process.stdout.write(`${first ? '' : ','}\n${JSON.stringify(r)}`);
          first = false;
        }
        if (rows.length < want) break;
      }
      process.stdout.write(first ? ']\n' : '\n]\n');
      return 0;
    }
    const { rows, total } = await source.page(0, opts.limit ?? 50);
    process.stdout.write(table(rows, total));
    return 0;
  } finally {
    await source.close();
  }
}

async function remoteSource(
  client: NodeApiClient,
  endpointFile: string,
  filter: JobFilter,
): Promise<Source> {
  const endpoint = await readEndpoint(endpointFile);
  return {
    page: (offset, limit) => client.call('jobs.list', { ...filter, offset, limit }),
    async csv(out) {
      if (!endpoint) throw new IdlerigError('UNAVAILABLE', 'The running node serves no API');
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(filter))
        q.set(k, Array.isArray(v) ? v.join(',') : String(v));
      const res = await fetch(`${endpoint.url}${JOBS_CSV_PATH}?${q}`, {
        headers: { authorization: `Bearer ${endpoint.token}` },
      }).catch((err: unknown) => {
        throw new IdlerigError('UNAVAILABLE', `The node did not answer: ${(err as Error).message}`);
      });
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => null)) as {
          error?: { message?: string };
        } | null;
        throw new IdlerigError(
          'INTERNAL',
          body?.error?.message ?? `The node refused the export (HTTP ${res.status})`,
        );
      }
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    },
    close: async () => undefined,
  };
}

async function localSource(
  paths: ReturnType<typeof resolveDataDir>,
  filter: JobFilter,
): Promise<Source> {
  const lock = new DataDirLock(paths.lock, 'cli');
  await lock.acquire();
  let report;
  try {
    report = openJobsDb(paths.jobsDb);
  } catch (err) {
    await lock.release();
    throw err;
  }
  if (report.recoveredFrom)
    process.stderr.write(
      `Warning: the job history could not be read (${report.recoveredFrom.problem}); it was kept as ${report.recoveredFrom.backup} and a new one was started.\n`,
    );
  const queries = new JobQueries(report.db);
  return {
    page: (offset, limit) => Promise.resolve(queries.list({ ...filter, offset, limit })),
    csv: async (out) => {
      await writeJobsCsv(report.db, filter, out);
    },
    close: async () => {
      report.db.close();
      await lock.release();
    },
  };
}

function table(rows: JobRow[], total: number): string {
  if (rows.length === 0) return 'No jobs match.\n';
  const head = ['Started', 'Model', 'Kind', 'Status', 'Tokens', 'Time', 'Energy', 'Earned'];
  const body = rows.map((r) => [
    r.startedAt.replace('T', ' ').slice(0, 19),
    r.modelId ?? '—',
    r.test ? `${r.kind ?? '?'} (test)` : (r.kind ?? '?'),
    r.status + (r.errorCode ? ` (${r.errorCode})` : ''),
    `${r.tokensIn ?? 0}/${r.tokensOut ?? 0}`,
    r.durationMs === null ? '—' : `${(r.durationMs / 1000).toFixed(2)} s`,
    r.energyWh === null ? '—' : `${r.energyWh.toFixed(3)} Wh`,
    r.earned === null
      ? '—'
      : formatTokenAmount(r.earned, r.token?.decimals ?? 0, r.token?.symbol ?? ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const more =
    total > rows.length ? `\n${rows.length} of ${total} jobs shown (--limit N for more).` : '';
  return `${[line(head), ...body.map(line)].join('\n')}${more}\n`;
}
