/**
 * How much the fuzz suite (test/unit/fuzz) runs, and how a failure is replayed.
 *
 * - `PLUSGATE_FUZZ_RUNS`: cases per property (default {@link DEFAULT_FUZZ_RUNS}, what `npm test` runs;
 *   `npm run fuzz` sets 5000).
 * - `PLUSGATE_FUZZ_SEED` and `PLUSGATE_FUZZ_PATH`: replay. A failing property prints fast-check's report with
 *   `seed: <n>, path: "<p>"`; run `PLUSGATE_FUZZ_SEED=<n> PLUSGATE_FUZZ_PATH=<p> npx jest test/unit/fuzz -t
 *   '<property name>'` to run exactly the shrunk counterexample again (the seed alone replays the whole run).
 *   The dev PKI is new every test run, so certificates are chosen by name (alice, mallory…), not by bytes:
 *   a replay uses the same people with new keys.
 */
import type fc from 'fast-check';

/** Cases per property in `npm test`: a few seconds for the whole suite on a 2-core machine. */
export const DEFAULT_FUZZ_RUNS = 200;

/** Cases per property: `PLUSGATE_FUZZ_RUNS`, else {@link DEFAULT_FUZZ_RUNS}. */
export function fuzzRuns(): number {
  const raw = process.env.PLUSGATE_FUZZ_RUNS;
  if (raw === undefined || raw === '') return DEFAULT_FUZZ_RUNS;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`PLUSGATE_FUZZ_RUNS must be a whole number >= 1, got "${raw}"`);
  return runs;
}

/** fast-check parameters: the number of runs, and the seed and path to replay when they are set. */
export function fuzzParameters<T>(): fc.Parameters<T> {
  const seed = process.env.PLUSGATE_FUZZ_SEED;
  const path = process.env.PLUSGATE_FUZZ_PATH;
  const parameters: fc.Parameters<T> = { numRuns: fuzzRuns() };
  if (seed !== undefined && seed !== '') {
    const value = Number(seed);
    if (!Number.isInteger(value)) throw new Error(`PLUSGATE_FUZZ_SEED must be an integer, got "${seed}"`);
    parameters.seed = value;
  }
  if (path !== undefined && path !== '') {
    parameters.path = path;
    parameters.endOnFailure = true;
  }
  return parameters;
}

/** A jest timeout for one property: generous for `npm run fuzz`, never below jest's usual 30 s. */
export function fuzzTimeoutMs(msPerRun: number): number {
  return Math.max(30_000, fuzzRuns() * msPerRun * 4);
}
