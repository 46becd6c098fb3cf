import {
  openSync,
  writeSync,
  closeSync,
  fstatSync,
  renameSync,
  existsSync,
  unlinkSync,
  mkdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { LogEntry, LogLevel } from '../../../shared/api';
import { redact } from './redact';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  dir: string;
  /** Rotate when the current file passes this size. */
  maxBytes?: number;
  /** Rotated files kept: idlerig.1.log … idlerig.N.log. */
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

/**
 * Structured logs: one JSON object per line in logs/idlerig.log, rotated by size, secrets
 * redacted before they reach the disk, the last entries kept in memory for the UI.
 */
export class Logger extends EventEmitter<{ entry: [LogEntry] }> {
  readonly file: string;
  private fd: number | null = null;
  private size = 0;
  private seq = 0;
  private readonly ring: LogEntry[] = [];
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly ringSize: number;
  private readonly echo: boolean;
  level: LogLevel;

  constructor(private readonly opts: LoggerOptions) {
    super();
    mkdirSync(opts.dir, { recursive: true });
    this.file = join(opts.dir, 'idlerig.log');
    this.maxBytes = opts.maxBytes ?? 5 * 1024 * 1024;
    this.keep = opts.keep ?? 5;
    this.ringSize = opts.ringSize ?? 2000;
    this.level = opts.level ?? 'info';
    this.echo = opts.echo ?? false;
    this.open();
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
    if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) return;
    const entry: LogEntry = { seq: ++this.seq, time: new Date().toISOString(), level, scope, msg };
    if (data && Object.keys(data).length > 0) entry.data = redact(data) as Record<string, unknown>;
    this.ring.push(entry);
    if (this.ring.length > this.ringSize) this.ring.splice(0, this.ring.length - this.ringSize);
    this.write(`${JSON.stringify(entry)}\n`);
    if (this.echo)
      process.stderr.write(
        `${entry.time} ${level.toUpperCase().padEnd(5)} [${scope}] ${msg}${entry.data ? ` ${JSON.stringify(entry.data)}` : ''}\n`,
      );
    this.emit('entry', entry);
  }

  tail(limit: number, minLevel: LogLevel = 'debug'): LogEntry[] {
    const min = LEVEL_RANK[minLevel];
    const out = this.ring.filter((e) => LEVEL_RANK[e.level] >= min);
    return out.slice(-limit);
  }

  /** The log files, newest first, for the diagnostics bundle. */
  files(): string[] {
    const out = [this.file];
    for (let i = 1; i <= this.keep; i++) {
      const f = this.rotated(i);
      if (existsSync(f)) out.push(f);
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private rotated(i: number): string {
    return join(this.opts.dir, `idlerig.${i}.log`);
  }

  private open(): void {
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  private write(line: string): void {
    if (this.fd === null) return;
    const bytes = Buffer.byteLength(line);
    if (this.size + bytes > this.maxBytes && this.size > 0) this.rotate();
    try {
      writeSync(this.fd, line);
      this.size += bytes;
    } catch {
      // A full disk must not take the node down; the in-memory ring still has the entry.
    }
  }

  private rotate(): void {
    this.close();
    const oldest = this.rotated(this.keep);
    if (existsSync(oldest)) unlinkSync(oldest);
    for (let i = this.keep - 1; i >= 1; i--) {
      const f = this.rotated(i);
      if (existsSync(f)) renameSync(f, this.rotated(i + 1));
    }
    renameSync(this.file, this.rotated(1));
    this.open();
  }
}
