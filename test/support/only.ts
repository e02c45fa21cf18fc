/**
 * Checked picks for tests under noUncheckedIndexedAccess: each returns the value or throws an error that
 * says what was missing, instead of a `!` that would turn a wrong fixture into a TypeError further on.
 */

/** The one element of `xs`; throws, naming `what`, unless there is exactly one. */
export function only<T>(xs: readonly T[], what = 'element'): T {
  if (xs.length !== 1) throw new Error(`expected exactly one ${what}, found ${xs.length}`);
  return xs[0] as T;
}

/** The first element of `xs`; throws, naming `what`, if there is none. */
export function first<T>(xs: readonly T[], what = 'element'): T {
  if (xs.length === 0) throw new Error(`expected at least one ${what}, found none`);
  return xs[0] as T;
}

/** `x` itself; throws, naming `what`, if it is undefined or null. */
export function defined<T>(x: T | undefined | null, what: string): T {
  if (x === undefined || x === null) throw new Error(`expected ${what}, got ${x}`);
  return x;
}
