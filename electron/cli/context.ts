import { resolve } from 'node:path';
import { dataFolderIsAFile, defaultDataDir, dataPaths, type DataPaths } from '../provider/paths';
import { readEndpoint, readLockOwner } from '../provider/datadir-lock';
import { NodeApiClient } from '../provider/api/node-client';
import { IdlerigError } from '../../shared/errors';

export function resolveDataDir(flag: string | undefined): DataPaths {
  return dataPaths(checkDataFolder(flag ? resolve(flag) : defaultDataDir()));
}

/**
 * A data folder (the node's, a gateway's, the demo network's) that is a file, or under one, is
 * said before a verb does anything: the node's own words (provider/paths.ts), for every verb.
 */
export function checkDataFolder(dir: string): string {
  const inTheWay = dataFolderIsAFile(dir);
  if (inTheWay) throw inTheWay;
  return dir;
}

export type Owner =
  | { kind: 'none' }
  | { kind: 'served'; client: NodeApiClient; url: string; pid: number }
  | { kind: 'unreachable'; pid: number; mode: string };

/**
 * Who owns the data folder. A verb on a folder that a running node owns talks to that node
 * through its API, so no two processes ever write the same files; with no owner it may work on
 * the files itself (taking the lock first).
 */
export async function findOwner(paths: DataPaths): Promise<Owner> {
  const owner = await readLockOwner(paths.lock);
  if (!owner) return { kind: 'none' };
  const endpoint = await readEndpoint(paths.endpoint);
  if (endpoint && endpoint.pid === owner.pid) {
    return {
      kind: 'served',
      client: new NodeApiClient(endpoint.url, endpoint.token),
      url: endpoint.url,
      pid: owner.pid,
    };
  }
  return { kind: 'unreachable', pid: owner.pid, mode: owner.mode };
}

export function unreachableError(owner: { pid: number; mode: string }, dir: string): IdlerigError {
  return new IdlerigError(
    'CONFLICT',
    owner.mode === 'electron'
      ? `The Idlerig desktop app (pid ${owner.pid}) owns ${dir}; use its window, or quit it first.`
      : `Another Idlerig process (pid ${owner.pid}, ${owner.mode}) owns ${dir} and serves no API.`,
  );
}
