/** Something loaded that jobs pin while they use it (an LLM, an ONNX session). */
export interface Pinned {
  pins: number;
}

/**
 * The loaded entry for `key`, pinned for the caller (who unpins when done). However many callers
 * ask at once, `load` runs once; it is expected to put its result into `loaded`.
 */
export async function acquirePinned<T extends Pinned>(
  key: string,
  loaded: ReadonlyMap<string, T>,
  loading: Map<string, Promise<T>>,
  load: () => Promise<T>,
): Promise<T> {
  const existing = loaded.get(key);
  if (existing) {
    existing.pins++;
    return existing;
  }
  let pending = loading.get(key);
  if (!pending) {
    pending = load().finally(() => loading.delete(key));
    loading.set(key, pending);
  }
  const entry = await pending;
  entry.pins++;
  return entry;
}
