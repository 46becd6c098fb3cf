// Byte counts as people read them, in binary units: "812 B", "14.2 KiB", "3.1 MiB", "40 GiB".
// One formatter for the page, the CLI, the node's messages and the engine's (a figure in an
// error must read the same as on the Models page).

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < UNITS.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/**
 * A value someone sent, for an error message: primitives as text, cut to `max` characters;
 * objects and arrays named by kind. Never String() of an object — one whose toString is not a
 * function (`{"toString":null}` in JSON) makes String() throw, and code that reports bad input
 * must not throw on it.
 */
export function formatValue(x: unknown, max = 64): string {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) {
    return String(x).slice(0, max);
  }
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'function' ? 'a function' : 'an object';
}
