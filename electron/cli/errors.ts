// How the CLI says what went wrong: one line of words and an exit code (2 for a usage mistake,
// 1 for everything else), never a stack trace. Typed errors carry their own message; the
// ordinary failures of files and the system are put in words here.
import { IdlerigError } from '../../shared/errors';

const SYSTEM_WORDS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'already exists',
  ENOSPC: 'the disk is full',
  EROFS: 'the disk is read-only',
  EMFILE: 'too many open files',
  EBUSY: 'the file is in use',
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'timed out',
};

/** A usage mistake: one line naming it and the help to read (the verb's own), exit code 2. */
export function usage(message: string, verb?: string | null): never {
  throw new IdlerigError(
    'INVALID_PARAMS',
    `${message} (see idlerig ${verb ? `${verb} ` : ''}--help)`,
  );
}

/**
 * An ordinary failure of the system (ENOENT, EACCES, ...) in words, without the path: "no such
 * file or folder". Anything else: its message's first line.
 */
export function systemWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && SYSTEM_WORDS[code]) return SYSTEM_WORDS[code];
  return firstLine(err instanceof Error ? err.message : String(err)) || 'unknown error';
}

/**
 * Node's errno text inside a message that wrapped it ("Could not read X: ENOENT: no such file or
 * directory, open 'X'", "Cannot read the price file X: ENOENT") in words: "…: no such file or
 * folder". The wrapper names the file already.
 */
function errnoInWords(message: string): string {
  return message
    .replace(
      /\b(E[A-Z]{2,}): [^,]*, \w+ '[^']*'( -> '[^']*')?/g,
      (all, code: string) => SYSTEM_WORDS[code] ?? all,
    )
    .replace(/: (E[A-Z]{2,})(?=$|[.;)])/g, (all, code: string) =>
      SYSTEM_WORDS[code] ? `: ${SYSTEM_WORDS[code]}` : all,
    );
}

export function describeCliError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof IdlerigError)
    return {
      message: errnoInWords(firstLine(err.message)),
      exitCode: err.code === 'INVALID_PARAMS' ? 2 : 1,
    };
  const e = err as NodeJS.ErrnoException | null;
  const code = e && typeof e === 'object' ? e.code : undefined;
  if (code && SYSTEM_WORDS[code]) {
    const where = e!.path ? `${e!.path}: ` : '';
    return { message: `${where}${SYSTEM_WORDS[code]}`, exitCode: 1 };
  }
  const text = errnoInWords(err instanceof Error ? err.message : String(err));
  return {
    message: `unexpected error: ${firstLine(text) || 'unknown error'} (run with IDLERIG_DEBUG=1 for details)`,
    exitCode: 1,
  };
}

/** The first line only: native libraries (llama.cpp) put their whole trace in the message. */
function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
