// The one byte formatter (shared/format.ts) the page, the CLI, the node and the engine use, and
// formatValue, which names untrusted values in error messages.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatValue } from '../../shared/format';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [812, '812 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [26_542, '26 KiB'],
    [1_185_376, '1.1 MiB'],
    [812 * 1024 ** 2, '812 MiB'],
    [6.3 * 1024 ** 3, '6.3 GiB'],
    [40 * 1024 ** 3, '40 GiB'],
    [3 * 1024 ** 5, '3072 TiB'],
  ])('%d bytes read "%s"', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe('formatValue (a value someone sent, named in an error message)', () => {
  it('shows primitives cut to length and names objects without calling their toString', () => {
    expect(formatValue('abcdef', 3)).toBe('abc');
    expect(formatValue(42)).toBe('42');
    expect(formatValue(null)).toBe('null');
    expect(formatValue(undefined)).toBe('undefined');
    expect(formatValue(JSON.parse('{"toString":null}'))).toBe('an object');
    expect(formatValue([{ toString: null }])).toBe('an array');
  });
});
