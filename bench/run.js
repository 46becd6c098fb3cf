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
// Options (`--name value`) after a benchmark's name go to that benchmark: `soak --minutes 2`.
const runs = [];
for (const a of process.argv.slice(2)) {
  const last = runs.at(-1);
  if (last && (a.startsWith('--') || last.args.at(-1)?.startsWith('--'))) last.args.push(a);
  else runs.push({ name: aliases[a] ?? a, args: [] });
}
const names = runs.map((r) => r.name);
if (names.length === 0) {
  console.log(`Benchmarks: ${available.join(', ')}\nRun: npm run bench -- <name> [<name> ...]`);
  process.exit(0);
}
let failed = 0;
for (const { name, args } of runs) {
  if (!available.includes(name)) {
    console.error(`Unknown benchmark "${name}". Available: ${available.join(', ')}`);
    process.exit(2);
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`, ...args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
