// The bytes of an unfinished download and how to resume them:
//
//   <models>/<file>.partial        the bytes so far (appended to, never rewritten in the middle)
//   <models>/<file>.partial.json   the sidecar: url, validator (ETag / Last-Modified), bytes
//
// A partial file is resumed only against the validator the server gave when it began.
import type { IncomingMessage } from 'node:http';
import type { Stats } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { keepAside } from '../util/json-file';
import { resolveModelPath } from './registry';

export interface Sidecar {
  version: 1;
  url: string;
  validator: { etag: string | null; lastModified: string | null };
  bytes: number;
  totalBytes: number | null;
  sha256: string | null;
  updatedAt: string;
}

export function partialPaths(modelsDir: string, file: string): { part: string; sidecar: string } {
  const part = resolveModelPath(modelsDir, `${file}.partial`);
  return { part, sidecar: `${part}.json` };
}

/** Deletes a download's partial file and sidecar. */
export async function removePartial(modelsDir: string, file: string): Promise<void> {
  const { part, sidecar } = partialPaths(modelsDir, file);
  await rm(part, { force: true });
  await rm(sidecar, { force: true });
  await rm(`${sidecar}.tmp`, { force: true });
}

/** Bytes of a partial file (0 when none). */
export async function partialBytes(modelsDir: string, file: string): Promise<number> {
  const { part } = partialPaths(modelsDir, file);
  return (await stat(part).catch(() => null))?.size ?? 0;
}

function strongEtag(etag: string | undefined): string | null {
  if (!etag || etag.startsWith('W/')) return null;
  return etag;
}

export function validatorOf(res: IncomingMessage): Sidecar['validator'] {
  const etag = res.headers.etag;
  const lastModified = res.headers['last-modified'];
  return {
    etag: strongEtag(typeof etag === 'string' ? etag : undefined),
    lastModified: typeof lastModified === 'string' ? lastModified : null,
  };
}

export function sameValidator(a: Sidecar['validator'], b: Sidecar['validator']): boolean {
  if (a.etag && b.etag) return a.etag === b.etag;
  if (a.etag || b.etag) return false;
  return a.lastModified !== null && a.lastModified === b.lastModified;
}

export function ifRangeOf(v: Sidecar['validator']): string | null {
  return v.etag ?? v.lastModified;
}

/** Why a partial file cannot be resumed (in words, for a notice), or null when it can. */
export function discardReason(
  part: Stats,
  sidecar: Sidecar | null,
  url: URL,
  expectedSha: string | null,
  sizeBytes: number | null,
): string | null {
  if (!sidecar) return 'its record is missing';
  if (sidecar.url !== url.href) return 'it came from another url';
  if (sidecar.sha256 !== expectedSha) return 'it was for another file';
  if (!ifRangeOf(sidecar.validator))
    return 'the server gave no ETag or Last-Modified to resume against';
  if (sizeBytes !== null && part.size > sizeBytes) return 'it is larger than the file';
  return null;
}

/**
 * Writes the sidecar by rename (never torn) but without fsync: losing it to a power cut only
 * costs a restart from zero, while an fsync per update would slow every download down.
 */
export async function writeSidecar(path: string, record: Sidecar): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(record));
  await rename(tmp, path);
}

/**
 * The sidecar, or null when missing, empty or invalid (the partial then starts from zero). An
 * empty or invalid one is kept aside as NAME.corrupt-<time>, as every file the node keeps is.
 */
export async function readSidecar(path: string): Promise<Sidecar | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as Sidecar;
    if (s && s.version === 1 && typeof s.url === 'string' && typeof s.bytes === 'number') return s;
  } catch {
    /* kept aside below */
  }
  await keepAside(path).catch(() => undefined);
  return null;
}
