// The engine process (and the CLI that starts it) as the tests run them: bundled from the current
// sources with Vite, like `npm run build` does, into node_modules/.cache/idlerig-test/<fingerprint>/.
// The fingerprint covers every source file the bundles are made of, so a bundle is built once
// per change of the sources and never goes stale; test files running in parallel share it
// (built in a temporary folder, then renamed into place). dist/ is left alone: other work in the
// same tree (a renderer in the middle of an edit) cannot break these tests, nor they it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) sources(p, out);
    else if (/\.(ts|js|json)$/.test(entry.name)) out.push(p);
  }
  return out;
}

function fingerprint(): string {
  const files = [
    ...sources(join(root, 'electron/engine')),
    ...sources(join(root, 'electron/provider')),
    ...sources(join(root, 'electron/cli')),
    join(root, 'electron/cli.ts'),
    ...sources(join(root, 'shared')),
    join(root, 'package.json'),
  ].sort();
  const h = createHash('sha256');
  for (const f of files) {
    const st = statSync(f);
    h.update(`${relative(root, f)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

export interface Bundles {
  dir: string;
  engine: string;
  cli: string;
}

let cached: Promise<Bundles> | null = null;

/** Paths of the bundled engine entry and CLI, built first when the sources changed. */
export function bundles(): Promise<Bundles> {
  cached ??= build();
  return cached;
}

async function build(): Promise<Bundles> {
  const cacheDir = join(root, 'node_modules/.cache/idlerig-test');
  const dir = join(cacheDir, fingerprint());
  const result = { dir, engine: join(dir, 'engine.js'), cli: join(dir, 'cli.js') };
  if (existsSync(join(dir, 'done'))) return result;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const { build: viteBuild } = await import('vite');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  await viteBuild({
    configFile: false,
    root,
    // Bundler warnings about other parts of the app are not these tests' business.
    logLevel: 'error',
    define: { __IDLERIG_VERSION__: JSON.stringify(pkg.version) },
    build: {
      ssr: true,
      outDir: tmp,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      sourcemap: false,
      rollupOptions: {
        input: {
          engine: join(root, 'electron/engine/index.ts'),
          cli: join(root, 'electron/cli.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  });
  // The marker goes in before the rename: a folder under its final name is complete.
  await import('node:fs/promises').then((fs) => fs.writeFile(join(tmp, 'done'), ''));
  try {
    renameSync(tmp, dir);
  } catch {
    // Another test file built it at the same time: use theirs.
    rmSync(tmp, { recursive: true, force: true });
  }
  // Old fingerprints: keep the cache small.
  for (const entry of readdirSync(cacheDir)) {
    const p = join(cacheDir, entry);
    if (p !== dir && !entry.includes('.tmp-') && Date.now() - statSync(p).mtimeMs > 3_600_000)
      rmSync(p, { recursive: true, force: true });
  }
  return result;
}
