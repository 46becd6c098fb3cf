// pino-roll ships no type declarations; the part of its API the logger uses.
declare module 'pino-roll' {
  import type { EventEmitter } from 'node:events';

  export interface PinoRollStream extends EventEmitter {
    /** The file written now (changes at each rotation). */
    readonly file: string;
    /** -1 until the file is open ('ready'). */
    readonly fd: number;
    write(data: string): boolean;
    flush(cb?: (err?: Error) => void): void;
    end(): void;
    destroy(): void;
  }

  export interface PinoRollOptions {
    file: string;
    size?: string | number;
    frequency?: string | number;
    extension?: string;
    limit?: { count: number; removeOtherLogFiles?: boolean };
    symlink?: boolean;
    mkdir?: boolean;
    mode?: number;
    sync?: boolean;
    minLength?: number;
  }

  export default function pinoRoll(options: PinoRollOptions): Promise<PinoRollStream>;
}
