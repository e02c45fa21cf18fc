/** A bad command line: the CLI prints the message and its usage text, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
