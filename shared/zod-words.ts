// Zod's own messages ("Too big: expected number to be <=36", "Invalid input: expected int, received
// number") are not for users, yet a schema check without a message of its own sends them: the API
// puts a refused call's issues in INVALID_PARAMS details and the dashboard shows each one on its
// field. This is zod's global error map for every process that loads the shared schemas (the
// node, the dashboard): plain words for the checks a schema did not word itself. A message given
// in the schema (`.positive('The token value must be above 0')`) still wins.
import { z } from 'zod';

type RawIssue = z.core.$ZodRawIssue;

const num = (n: unknown): string =>
  typeof n === 'bigint' ? n.toString() : typeof n === 'number' ? String(n) : String(n);

/** Words for one issue zod raised, or undefined to keep zod's own. */
export function issueWords(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined || issue.input === null) return 'Required';
      if (issue.expected === 'int') return 'Enter a whole number';
      if (issue.expected === 'number') return 'Enter a number';
      if (issue.expected === 'string') return 'Enter text';
      if (issue.expected === 'boolean') return 'Choose yes or no';
      return 'Not a value this setting takes';
    }
    case 'too_small': {
      const min = num(issue.minimum);
      if (issue.origin === 'string')
        return issue.minimum === 1
          ? 'Cannot be empty'
          : `Use at least ${min} character${min === '1' ? '' : 's'}`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `Needs at least ${min} entr${min === '1' ? 'y' : 'ies'}`;
      return issue.inclusive === false ? `Enter a number above ${min}` : `Enter ${min} or more`;
    }
    case 'too_big': {
      const max = num(issue.maximum);
      if (issue.origin === 'string') return `Use at most ${max} character${max === '1' ? '' : 's'}`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `Takes at most ${max} entr${max === '1' ? 'y' : 'ies'}`;
      return issue.inclusive === false ? `Enter a number below ${max}` : `Enter ${max} or less`;
    }
    case 'not_multiple_of':
      return `Enter a multiple of ${num(issue.divisor)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `Must be ${String(issue.values[0])}`
        : `Choose one of: ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'url'
        ? 'Enter a web address (https://…)'
        : 'Not in the expected form';
    case 'unrecognized_keys':
      return `Not a setting: ${issue.keys.join(', ')}`;
    default:
      return undefined;
  }
}

z.config({ customError: issueWords });
