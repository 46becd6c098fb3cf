// Builds every bundle of the app into dist/:
//   dist/main/      Node bundles: the Electron main process (index), the headless CLI (cli),
//                   the engine process entry (engine) and the gateway ledger's writer thread
//                   (ledger-worker). Dependencies stay external so
//                   native modules (node-llama-cpp, onnxruntime-node) load from node_modules.
//   dist/preload/   the sandboxed preload (CommonJS, self-contained: sandboxed preloads cannot
//                   require node_modules).
//   dist/renderer/  the React dashboard, served by Electron (file://) and by the headless node.
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { existsSync, readFileSync } from 'node:fs';
import react from '@vitejs/plugin-react';

const root = import.meta.dirname;
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string };
const define = { __IDLERIG_VERSION__: JSON.stringify(pkg.version) };

/** Node entries: the Electron main process, the CLI and (once it exists) the engine process. */
const mainInputs: Record<string, string> = {
  index: resolve(root, 'electron/main/index.ts'),
  cli: resolve(root, 'electron/cli.ts'),
};
if (existsSync(resolve(root, 'electron/engine/index.ts')))
  mainInputs.engine = resolve(root, 'electron/engine/index.ts');
// The gateway ledger's writer thread (gateway/storage/ledger-thread.ts finds it beside the bundle).
mainInputs['ledger-worker'] = resolve(root, 'gateway/storage/ledger-worker.ts');

export default defineConfig({
  main: {
    build: {
      outDir: 'dist/main',
      externalizeDeps: true,
      rollupOptions: { input: mainInputs },
    },
    define,
  },
  preload: {
    define,
    build: {
      outDir: 'dist/preload',
      externalizeDeps: false,
      isolatedEntries: true,
      rollupOptions: {
        input: { index: resolve(root, 'electron/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    base: './',
    plugins: [react()],
    define,
    build: {
      outDir: resolve(root, 'dist/renderer'),
      emptyOutDir: true,
      // electron-vite's renderer preset does not minify by default; the headless dashboard is
      // also served over HTTP, so ship it minified (React's production build either way).
      minify: true,
      rollupOptions: { input: resolve(root, 'renderer/index.html') },
    },
  },
});
