import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A bad command line: the CLI prints the message and its usage text, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The flags of a CLI as node:util's parseArgs reads them, strictly (an unknown flag or a missing value is an
 * error) and without positionals; a bad command line is a UsageError with parseArgs' own words.
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
