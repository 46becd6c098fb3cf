// Where the demo network's files are, from wherever the bundler put this code (dist/main/*.js,
// dist/main/chunks/*.js, or the sources under tsx), and in a packaged app (resources/).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function firstExisting(relative: string[], fallback: string | null): string | null {
  for (const r of relative) {
    const p = fileURLToPath(new URL(r, import.meta.url));
    if (existsSync(p)) return p;
  }
  return fallback !== null && existsSync(fallback) ? fallback : null;
}

/** resources/demo-models: the demo models and the MNIST digits. */
export function demoModelsDir(): string {
  const packaged = (process as { resourcesPath?: string }).resourcesPath;
  const dir = firstExisting(
    ['../../resources/demo-models/', '../../../resources/demo-models/'],
    packaged ? join(packaged, 'resources', 'demo-models') : null,
  );
  if (!dir) throw new Error('The demo models (resources/demo-models) are not installed');
  return dir;
}

/** The CLI bundle (dist/main/cli.js) that `idlerig devnet --attach` runs from. */
export function cliBundle(): string {
  const cli = firstExisting(['./cli.js', '../cli.js', '../../dist/main/cli.js'], null);
  if (!cli) throw new Error('The idlerig CLI bundle (dist/main/cli.js) is not built');
  return cli;
}
