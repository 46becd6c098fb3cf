// The one place the CLI parses its command line (node:util parseArgs, strict), for every verb.
// What parseArgs says about a mistake is put in words here: a negative number given to a flag
// goes to that flag's own check (`--port -1` is `--port=-1`), a flag followed by another flag (or
// by nothing) "needs a value", and an unknown option points at the verb's help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usage } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A value that starts with "-" and is a number: -1, -0.5, -3e2. */
const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * parseArgs over `args` with `options`; `verb` (e.g. "jobs", "gateway keys") names the help a
 * mistake points at (null: `idlerig --help`). A mistake is a usage error: one line, exit code 2.
 */
export function parseCliArgs<O extends Options, P extends boolean>(
  verb: string | null,
  args: string[],
  options: O,
  allowPositionals: P,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: P; strict: true }>> {
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) if (o.short) byShort.set(o.short, name);
  const isOption = (token: string): boolean =>
    token.startsWith('--')
      ? Object.hasOwn(options, token.slice(2).split('=')[0]!)
      : /^-[^-]/.test(token) && byShort.has(token[1]!);

  const given = [...args];
  for (let i = 0; i < given.length; i++) {
    const token = given[i]!;
    if (token === '--') break;
    const name = token.startsWith('--')
      ? token.includes('=')
        ? undefined
        : token.slice(2)
      : /^-[^-]$/.test(token)
        ? byShort.get(token[1]!)
        : undefined;
    if (name === undefined || !Object.hasOwn(options, name) || options[name]!.type !== 'string')
      continue;
    const next = given[i + 1];
    if (next === undefined) usage(`--${name} needs a value`, verb);
    if (next.length > 1 && next.startsWith('-')) {
      if (NEGATIVE_NUMBER.test(next)) {
        given.splice(i, 2, `--${name}=${next}`);
        continue;
      }
      if (next === '--' || isOption(next)) usage(`--${name} needs a value`, verb);
      usage(
        `--${name} needs a value; to give one that starts with "-", write --${name}=${next}`,
        verb,
      );
    }
    i++;
  }

  try {
    return parseArgs({ args: given, options, allowPositionals, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const quoted = /'([^']+)'/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
      usage(`unknown option ${quoted}`, verb);
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted)
      usage(`unexpected argument ${quoted}`, verb);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // "Option '-h, --help' does not take an argument": a boolean flag given a value.
      const flag = /--[\w-]+/.exec(e.message)?.[0];
      if (flag && / does not take an argument/.test(e.message))
        usage(`${flag} takes no value`, verb);
    }
    usage(e.message.split('\n')[0]!, verb);
  }
}
