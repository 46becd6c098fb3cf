// The last line of defence of a process that hosts the node (headless and the Electron main
// process): an error nothing caught is logged with its context instead of ending the process
// mid-write. A rejected promise nobody handled is logged and the node goes on; an uncaught
// exception leaves the process in an unknown state, so the node is stopped gracefully (data
// flushed, engine and servers stopped, data-folder lock released) and the process exits 1.
import { formatValue } from '../../shared/format';
import type { ScopedLogger } from './logs/logger';

export interface ProcessGuardOptions {
  log: ScopedLogger;
  /** Stops the node gracefully; bounded by the caller (the 5 s stop budget). */
  shutdown: () => Promise<void>;
  /** Ends the process (process.exit; Electron: app.exit). */
  exit?: (code: number) => void;
  /** Told once, in words, that the node is stopping because of an internal error. */
  notify?: (message: string) => void;
  /** What stops, in the messages ("node" by default; "gateway" for `idlerig gateway`). */
  what?: string;
  /** Longest wait for shutdown() before exiting anyway. */
  shutdownTimeoutMs?: number;
}

function details(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      error: err.message,
      name: err.name,
      ...(code ? { code } : {}),
      stack: err.stack?.split('\n').slice(0, 12).join('\n'),
    };
  }
  return { error: formatValue(err, 500) };
}

/** Installs the handlers; returns a function that removes them. */
export function installProcessGuards(opts: ProcessGuardOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const what = opts.what ?? 'node';
  let fatal = false;
  const onRejection = (reason: unknown): void => {
    try {
      opts.log.error(`unhandled promise rejection (the ${what} goes on)`, details(reason));
    } catch {
      /* logging must not throw from here */
    }
  };
  const onException = (err: unknown, origin?: string): void => {
    if (fatal) {
      // A second one while stopping: stop waiting.
      exit(1);
      return;
    }
    fatal = true;
    try {
      opts.log.error(`uncaught exception: stopping the ${what}`, {
        ...details(err),
        ...(origin ? { origin } : {}),
      });
      opts.notify?.(
        `Internal error: ${err instanceof Error ? err.message : formatValue(err, 200)}. The ${what} is stopping (details in the log).`,
      );
    } catch {
      /* logging must not throw from here */
    }
    const timer = setTimeout(() => exit(1), opts.shutdownTimeoutMs ?? 4500);
    timer.unref();
    void Promise.resolve()
      .then(() => opts.shutdown())
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        exit(1);
      });
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
