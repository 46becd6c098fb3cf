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
    const started: Promise<T> = load().finally(() => {
      // A load the owner gave up on (its settings changed) may end after a newer one started.
      if (loading.get(key) === started) loading.delete(key);
    });
    pending = started;
    loading.set(key, pending);
  }
  const entry = await pending;
  entry.pins++;
  return entry;
}
