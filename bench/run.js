#!/usr/bin/env node
// `npm run bench -- NAME [NAME...]`: runs bench/NAME.ts (TypeScript through tsx) one after another.
// Each benchmark prints one JSON document on stdout with the machine and its ratios.
// With no name it lists the benchmarks.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

// Short names for benchmarks whose file name says more.
const aliases = { gas: 'contracts-gas' };
const names = process.argv.slice(2).map((n) => aliases[n] ?? n);
if (names.length === 0) {
  console.log(`Benchmarks: ${available.join(', ')}\nRun: npm run bench -- <name> [<name> ...]`);
  process.exit(0);
}
let failed = 0;
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`Unknown benchmark "${name}". Available: ${available.join(', ')}`);
    process.exit(2);
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
