// The headless dashboard's "Export CSV": GET /api/jobs/export.csv?since=…&until=…&model=…&
// gateway=…&status=done,failed&test=true|false streams the matching jobs as a download (no file
// is kept on the node; the browser saves it).
import type { ServerResponse } from 'node:http';
import { JobFilterSchema, type JobFilter } from '../../../shared/api/jobs';
import { IdlerigError } from '../../../shared/errors';
import type { ScopedLogger } from '../logs/logger';
import type { JobsService } from './service';

export const JOBS_CSV_PATH = '/api/jobs/export.csv';

/** The filter of a query string (the same names as the `jobs.list` parameters). */
export function filterFromQuery(q: URLSearchParams): JobFilter {
  const raw: Record<string, unknown> = {};
  for (const key of ['since', 'until', 'model', 'gateway'] as const) {
    const v = q.get(key);
    if (v !== null && v !== '') raw[key] = v;
  }
  const status = q
    .getAll('status')
    .flatMap((s) => s.split(','))
    .filter(Boolean);
  if (status.length) raw.status = status;
  const test = q.get('test');
  if (test === 'true' || test === 'false') raw.test = test === 'true';
  else if (test !== null && test !== '')
    throw new IdlerigError('INVALID_PARAMS', 'test is true or false');
  const parsed = JobFilterSchema.safeParse(raw);
  if (!parsed.success)
    throw new IdlerigError(
      'INVALID_PARAMS',
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  return parsed.data;
}

export async function serveJobsCsv(
  jobs: JobsService,
  query: URLSearchParams,
  res: ServerResponse,
  log?: ScopedLogger,
): Promise<void> {
  let filter: JobFilter;
  try {
    filter = filterFromQuery(query);
  } catch (err) {
    const e = err as IdlerigError;
    res.statusCode = 400;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
    return;
  }
  const day = new Date().toISOString().slice(0, 10);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="idlerig-jobs-${day}.csv"`);
  try {
    await jobs.writeCsv(filter, res);
  } catch (err) {
    // Headers are gone: the client sees a cut download, the log says why.
    log?.error('jobs CSV export failed', { error: (err as Error).message });
    res.destroy();
    return;
  }
  res.end();
}
