// Job ids: UUIDv7 (RFC 9562), a 48-bit millisecond timestamp then random bits. Time-ordered ids
// make the ledger's inserts append to the end of its indexes instead of landing on a random page
// each (a random v4 id dirtied about twice the pages per job: bench/market.ts). Node 20 has no
// randomUUIDv7, so it is made from randomUUID's random bits (its variant bits are already right).
import { randomUUID } from 'node:crypto';

export function newJobId(now = Date.now()): string {
  const t = now.toString(16).padStart(12, '0');
  const r = randomUUID(); // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(15)}`;
}
