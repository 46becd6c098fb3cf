// A real provider node (in this process) writing job rows through its recorder, as the market
// client does: each id is printed only after its end() returned, i.e. after the commit. The
// test SIGKILLs this process in the middle of the writes (jobs-db.test.ts).
import { ProviderNode } from '../../electron/provider/node';

const [dataDir, countText] = process.argv.slice(2);
const node = new ProviderNode({ dataDir: dataDir!, mode: 'headless', power: { detect: false } });
await node.start();
process.stdout.write('started\n');
const rec = node.jobs.recorder;
for (let i = 0; i < Number(countText); i++) {
  const id = `job-${i}`;
  rec.start({
    id,
    gateway: 'ws://127.0.0.1:1/provider',
    model: { id: 'stories260k', sha256: 'a'.repeat(64) },
    kind: 'completion',
    tokensIn: 4,
    price: { amount: 1000n, unit: 'per-request' },
    token: { symbol: 'IDLE', decimals: 18, address: '0x' + '1'.repeat(40) },
  });
  const ok = rec.end(id, {
    status: 'done',
    tokensOut: 16,
    ttftMs: 2,
    durationMs: 9,
    earned: 1000n,
  });
  if (!ok) throw new Error(`end of ${id} not recorded`);
  process.stdout.write(`${id}\n`);
  // Let the parent see progress and kill us mid-way.
  if (i % 50 === 49) await new Promise((r) => setImmediate(r));
}
process.stdout.write('finished\n');
await node.stop();
