// What a CLI failure prints on stderr, as the project wants it: one line in words, no stack.
import { expect } from 'vitest';

/** The one line a failed command prints, checked to be the only one and free of a stack. */
export function oneLine(stderr: string): string {
  expect(stderr).not.toContain('    at ');
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^idlerig: /);
  return lines[0]!;
}
