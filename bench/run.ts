/**
 * `npm run bench`: runs the benchmarks one after the other (loopback only, bounded in count and time) and
 * prints one summary line each. `npm run bench -- <name> ...` runs only the named ones.
 */
import { benchHotPath } from './hot-path';
import { benchColdStart } from './cold-start';
import { benchIdentityPlusPool } from './identity-plus-pool';
import { benchNginxCache } from './nginx-cache';
import { benchReportQueryVsScan } from './report-query-vs-scan';

/** A benchmark: runs itself and returns at least a printable one-line summary. */
type Benchmark = () => Promise<{ readonly summary: string }>;

/** Every benchmark by name; add new ones here. */
const BENCHMARKS = {
  'cold-start': () => benchColdStart(),
  'hot-path': () => benchHotPath(),
  'identity-plus-pool': () => benchIdentityPlusPool(),
  'nginx-cache': () => benchNginxCache(),
  'report-query-vs-scan': () => benchReportQueryVsScan(),
} as const satisfies Readonly<Record<string, Benchmark>>;

type BenchmarkName = keyof typeof BENCHMARKS;

function isBenchmarkName(name: string): name is BenchmarkName {
  return Object.hasOwn(BENCHMARKS, name);
}

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((name) => !isBenchmarkName(name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    return 2;
  }
  const selected = argv.length > 0 ? argv.filter(isBenchmarkName) : (Object.keys(BENCHMARKS) as BenchmarkName[]);
  for (const name of selected) {
    const started = Date.now();
    const result = await BENCHMARKS[name]();
    console.log(`${name}: ${result.summary}  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
