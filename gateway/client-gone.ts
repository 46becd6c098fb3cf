// "The requester went away": what a job listens to so it can cancel the provider's work. The
// subset of AbortSignal the dispatcher uses, so an AbortSignal can be passed where one exists,
// and ClientGone where one is made per request: an AbortController is an EventTarget whose
// construction and listeners cost about 4 µs per request here, a tenth of the gateway's own
// matching and dispatch; this costs a few hundred nanoseconds.

export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Aborted once, by whoever owns it (the HTTP route, when the response closes unfinished). */
export class ClientGone implements CancelSignal {
  private listeners: (() => void)[] = [];
  aborted = false;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  /** Calls each listener once, in the order added; one that throws does not stop the rest. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const ls = this.listeners;
    this.listeners = [];
    let first: unknown = null;
    for (const l of ls) {
      try {
        l();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== null) throw first;
  }
}
