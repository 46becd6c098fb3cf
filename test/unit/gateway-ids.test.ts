// Job ids are UUIDv7: valid RFC 9562 UUIDs whose text sorts by creation time, so the gateway's
// ledger appends to its indexes (gateway/ids.ts).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newJobId } from '../../gateway/ids';

describe('newJobId', () => {
  it('is a version 7 UUID with the RFC variant, carrying its millisecond timestamp', () => {
    const at = Date.UTC(2026, 11, 1, 12, 0, 0, 123);
    const id = newJobId(at);
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  it('sorts by time as text, and is unique within one millisecond', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => newJobId(1_700_000_000_000 + (i >> 4)));
    const sorted = [...ids].sort();
    // Ids of different milliseconds keep their order; within one they are random but distinct.
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i]!.slice(0, 13) >= sorted[i - 1]!.slice(0, 13)).toBe(true);
    }
    expect(sorted.map((s) => s.slice(0, 13))).toEqual(ids.map((s) => s.slice(0, 13)));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
