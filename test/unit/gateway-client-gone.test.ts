// ClientGone: the per-request "requester went away" signal the dispatcher and the provider
// registry listen to (in place of an AbortController per request).
import { describe, expect, it } from 'vitest';
import { ClientGone, type CancelSignal } from '../../gateway/client-gone';

describe('ClientGone', () => {
  it('calls each listener once, in order; a removed one is not called; abort twice is one abort', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    const b = (): void => void calls.push('b');
    const c = (): void => void calls.push('c');
    gone.addEventListener('abort', a);
    gone.addEventListener('abort', b);
    gone.addEventListener('abort', c);
    gone.removeEventListener('abort', b);
    expect(gone.aborted).toBe(false);
    gone.abort();
    gone.abort();
    expect(gone.aborted).toBe(true);
    expect(calls).toEqual(['a', 'c']);
    gone.addEventListener('abort', a);
    expect(calls).toEqual(['a', 'c']);
  });

  it('a listener that throws does not stop the others, and the error is not swallowed', () => {
    const gone = new ClientGone();
    let after = false;
    gone.addEventListener('abort', () => {
      throw new Error('boom');
    });
    gone.addEventListener('abort', () => {
      after = true;
    });
    expect(() => gone.abort()).toThrow('boom');
    expect(after).toBe(true);
  });

  it('an AbortSignal is a CancelSignal too (the dispatcher takes either)', () => {
    const ac = new AbortController();
    const s: CancelSignal = ac.signal;
    let heard = false;
    s.addEventListener('abort', () => (heard = true), { once: true });
    ac.abort();
    expect(heard && s.aborted).toBe(true);
  });
});
