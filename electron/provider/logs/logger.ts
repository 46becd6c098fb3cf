// Structured logs through pino into size-rotated files (pino-roll: logs/idlerig.N.log, the
// newest with the highest N; logs/current.log links to it), secrets redacted before they reach
// the disk, the last entries kept in memory for the Logs view.
//
// Logging never throws into the code that logs, and never blocks on the disk: pino-roll writes
// through sonic-boom asynchronously. The file stream opens asynchronously; entries logged before
// it is ready (or while it is being reopened after an error) wait in a bounded buffer. A stream
// that fails (a rotation that could not open its next file, a full disk) is dropped and opened
// again after a short delay, so one failed rotation never stops the logs for good.
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import pinoRoll, { type PinoRollStream } from 'pino-roll';
import type { LogEntry, LogLevel } from '../../../shared/api';
import { redact } from './redact';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const BASE = 'idlerig';
/** Lines kept while no file stream is open; older ones are dropped (and counted). */
const MAX_PENDING = 5000;
const REOPEN_DELAY_MS = 1000;

export interface LoggerOptions {
  dir: string;
  /** Rotate when the current file passes this size. */
  maxBytes?: number;
  /** Rotated files kept beside the current one. */
  keep?: number;
  /** Entries kept in memory for the Logs view. */
  ringSize?: number;
  level?: LogLevel;
  /** Also print to stderr (headless). */
  echo?: boolean;
}

export interface ScopedLogger {
  debug(msg: string, data?: Record<string, unknown>): void;
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export class Logger extends EventEmitter<{ entry: [LogEntry] }> {
  private seq = 0;
  private readonly ring: LogEntry[] = [];
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly ringSize: number;
  private readonly echo: boolean;
  private readonly pino: pino.Logger;
  private stream: PinoRollStream | null = null;
  private opening: Promise<void> | null = null;
  private reopenTimer: NodeJS.Timeout | null = null;
  private pending: string[] = [];
  private closed = false;
  /** Lines that could not be kept (buffer full while the file was unavailable). */
  dropped = 0;
  /** Stream failures seen (each one followed by a reopen). */
  failures = 0;
  level: LogLevel;

  constructor(private readonly opts: LoggerOptions) {
    super();
    try {
      mkdirSync(opts.dir, { recursive: true });
    } catch {
      /* reported when the stream fails to open; the ring still works */
    }
    this.maxBytes = opts.maxBytes ?? 5 * 1024 * 1024;
    this.keep = opts.keep ?? 5;
    this.ringSize = opts.ringSize ?? 2000;
    this.level = opts.level ?? 'info';
    this.echo = opts.echo ?? false;
    // A closed stderr (the terminal went away, a pipe reader quit) is an 'error' event on the
    // stream: without a listener it would end the process.
    if (this.echo && process.stderr.listenerCount('error') === 0)
      process.stderr.on('error', () => undefined);
    // Every level is written (the node filters before pino); entries carry their own time.
    this.pino = pino(
      {
        level: 'trace',
        base: null,
        timestamp: false,
        messageKey: 'msg',
        formatters: { level: (label) => ({ level: label }) },
      },
      { write: (line: string) => this.sink(line) },
    );
    this.openStream();
  }

  /** The file written now. */
  get file(): string {
    return this.stream?.file ?? join(this.opts.dir, `${BASE}.${this.lastNumber()}.log`);
  }

  scope(scope: string): ScopedLogger {
    return {
      debug: (msg, data) => this.log('debug', scope, msg, data),
      info: (msg, data) => this.log('info', scope, msg, data),
      warn: (msg, data) => this.log('warn', scope, msg, data),
      error: (msg, data) => this.log('error', scope, msg, data),
    };
  }

  log(level: LogLevel, scope: string, msg: string, data?: Record<string, unknown>): void {
    try {
      if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) return;
      const entry: LogEntry = {
        seq: ++this.seq,
        time: new Date().toISOString(),
        level,
        scope,
        msg,
      };
      if (data && Object.keys(data).length > 0)
        entry.data = redact(data) as Record<string, unknown>;
      this.ring.push(entry);
      if (this.ring.length > this.ringSize) this.ring.splice(0, this.ring.length - this.ringSize);
      const { msg: text, level: _level, ...fields } = entry;
      this.pino[level](fields, text);
      if (this.echo)
        process.stderr.write(
          `${entry.time} ${level.toUpperCase().padEnd(5)} [${scope}] ${msg}${entry.data ? ` ${JSON.stringify(entry.data)}` : ''}\n`,
        );
      this.emit('entry', entry);
    } catch {
      // A value that cannot be serialised, a closed stderr, a listener that throws: logging
      // must never fail the code that logs.
    }
  }

  tail(limit: number, minLevel: LogLevel = 'debug'): LogEntry[] {
    const min = LEVEL_RANK[minLevel];
    const out = this.ring.filter((e) => LEVEL_RANK[e.level] >= min);
    return out.slice(-limit);
  }

  /** The log files, newest first, for the diagnostics bundle. */
  files(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.opts.dir);
    } catch {
      return [];
    }
    return names
      .map((n) => ({ n, num: numberOf(n) }))
      .filter((f): f is { n: string; num: number } => f.num !== null)
      .sort((a, b) => b.num - a.num)
      .map((f) => join(this.opts.dir, f.n));
  }

  /**
   * Writes out what is buffered, in order, and closes the file (shutdown). Resolves once the
   * file is closed (at most about a second), so a process may exit right after.
   */
  close(): Promise<void> {
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    const stream = this.stream;
    this.stream = null;
    if (!stream) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      try {
        for (const line of this.pending.splice(0)) stream.write(line);
        stream.once('close', done);
        stream.once('error', done);
        stream.end();
      } catch {
        done();
      }
    });
  }

  /** Resolves when the buffered lines have reached the file (tests, diagnostics). */
  async flush(): Promise<void> {
    if (this.opening) await this.opening;
    const stream = this.stream;
    if (!stream) return;
    // The file opens asynchronously; sonic-boom cannot flush before it is open.
    if (stream.fd < 0)
      await new Promise<void>((resolve) => {
        stream.once('ready', () => resolve());
        stream.once('error', () => resolve());
      });
    await new Promise<void>((resolve) => {
      try {
        stream.flush(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private sink(line: string): void {
    if (this.closed) return;
    const stream = this.stream;
    if (stream) {
      try {
        stream.write(line);
        return;
      } catch (err) {
        this.onStreamError(stream, err);
      }
    }
    this.pending.push(line);
    if (this.pending.length > MAX_PENDING) {
      this.dropped += this.pending.length - MAX_PENDING;
      this.pending.splice(0, this.pending.length - MAX_PENDING);
    }
  }

  private openStream(): void {
    if (this.closed || this.opening) return;
    this.opening = pinoRoll({
      file: join(this.opts.dir, BASE),
      extension: '.log',
      size: `${Math.max(1, Math.floor(this.maxBytes / 1024))}k`,
      // With removeOtherLogFiles the count includes the current file.
      limit: { count: this.keep + 1, removeOtherLogFiles: true },
      symlink: true,
      mkdir: true,
      mode: 0o600,
    }).then(
      (stream) => {
        this.opening = null;
        if (this.closed) {
          stream.end();
          return;
        }
        stream.on('error', (err: unknown) => this.onStreamError(stream, err));
        this.stream = stream;
        for (const line of this.pending.splice(0)) stream.write(line);
      },
      () => {
        this.opening = null;
        this.failures++;
        this.scheduleReopen();
      },
    );
  }

  /** A stream that failed is dropped and a new one opened shortly after (it continues the numbering). */
  private onStreamError(stream: PinoRollStream, _err: unknown): void {
    if (this.stream !== stream) return;
    this.failures++;
    this.stream = null;
    try {
      stream.destroy();
    } catch {
      /* already broken */
    }
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.openStream();
    }, REOPEN_DELAY_MS);
    this.reopenTimer.unref();
  }

  private lastNumber(): number {
    const first = this.files()[0];
    return (first && numberOf(basename(first))) || 1;
  }
}

/** N of idlerig.N.log, or null for another file. */
function numberOf(name: string): number | null {
  const m = /^idlerig\.(\d+)\.log$/.exec(name);
  return m ? Number(m[1]) : null;
}
