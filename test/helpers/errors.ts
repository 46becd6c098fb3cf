import { expect } from 'vitest';
import { IdlerigError } from '../../shared/errors';

/** The typed error a call fails with; the test fails if the call succeeds or throws another kind. */
export async function errorOf(p: Promise<unknown>): Promise<IdlerigError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IdlerigError);
    return err as IdlerigError;
  }
  throw new Error('expected the call to fail with an IdlerigError');
}
