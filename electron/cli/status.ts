import type { Status } from '../../shared/api';
import { findOwner, resolveDataDir, unreachableError } from './context';

export async function statusVerb(opts: { dataDir?: string; json: boolean }): Promise<number> {
  const paths = resolveDataDir(opts.dataDir);
  const owner = await findOwner(paths);
  if (owner.kind === 'unreachable') throw unreachableError(owner, paths.root);
  if (owner.kind === 'none') {
    if (opts.json)
      process.stdout.write(`${JSON.stringify({ running: false, dataDir: paths.root })}\n`);
    else
      process.stdout.write(
        `No Idlerig node is running on ${paths.root}.\nStart one with: idlerig --headless --data-dir ${JSON.stringify(paths.root)}\n`,
      );
    return 3;
  }
  const status: Status = await owner.client.call('status.get', {});
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ running: true, url: owner.url, ...status })}\n`);
  } else {
    const lines = [
      `Idlerig ${status.version} (${status.mode}, pid ${owner.pid})`,
      `State:    ${status.state} (${status.reason})`,
      `Uptime:   ${Math.round(status.uptimeSeconds)} s`,
      `Data:     ${status.dataDir}`,
      `API:      ${owner.url}`,
      ...status.warnings.map((w) => `Warning:  ${w.message}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
