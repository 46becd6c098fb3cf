// Reading the JSON files the node keeps (settings, models index, downloads): a file that is
// empty, half-written or invalid is never fatal and never silently lost. It is kept aside as
// NAME.corrupt-<time> and the caller starts over from what it can rebuild.
import { readFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { IdlerigError } from '../../../shared/errors';

export type JsonFileRead<T> =
  | { kind: 'missing' }
  | { kind: 'ok'; value: T; text: string }
  /** The file was unusable; it now lies at `backup`. */
  | { kind: 'recovered'; backup: string; problem: string }
  /** The file is unusable and was left where it is (a read-only look). */
  | { kind: 'invalid'; problem: string };

/**
 * Reads and checks a JSON file. `check` turns the parsed value into T or throws (a zod error,
 * or any Error: the file counts as invalid). An IdlerigError thrown by `check` is passed on
 * unchanged: the file is left where it is (a settings file from a newer app is refused, not
 * replaced). Read errors other than "no such file" are passed on too.
 */
export async function readJsonFile<T>(
  file: string,
  check: (raw: unknown) => T,
  now: () => Date = () => new Date(),
  opts: { readOnly?: boolean } = {},
): Promise<JsonFileRead<T>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  let problem: string;
  try {
    if (text.trim() === '') throw new EmptyFileError();
    return { kind: 'ok', value: check(JSON.parse(text)), text };
  } catch (err) {
    if (err instanceof IdlerigError) throw err;
    problem = describeProblem(err);
  }
  if (opts.readOnly) return { kind: 'invalid', problem };
  const backup = await keepAside(file, now);
  return { kind: 'recovered', backup, problem };
}

/** Moves a file aside as NAME.corrupt-<time> (never over an earlier one); returns the new path. */
export async function keepAside(file: string, now: () => Date = () => new Date()): Promise<string> {
  const stamp = now().toISOString().replace(/[:.]/g, '-');
  let backup = `${file}.corrupt-${stamp}`;
  for (let n = 2; existsSync(backup); n++) backup = `${file}.corrupt-${stamp}-${n}`;
  await rename(file, backup);
  return backup;
}

class EmptyFileError extends Error {
  constructor() {
    super('the file is empty');
  }
}

/** The problem in words: invalid JSON, or the fields a zod schema refused. */
export function describeProblem(err: unknown): string {
  if (err instanceof SyntaxError) return `not valid JSON (${err.message})`;
  if (
    err &&
    typeof err === 'object' &&
    'issues' in err &&
    Array.isArray((err as { issues: unknown[] }).issues)
  ) {
    const issues = (err as { issues: { path: PropertyKey[]; message: string }[] }).issues;
    return `invalid content: ${issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
      .join('; ')}`;
  }
  return err instanceof Error ? err.message : String(err);
}
