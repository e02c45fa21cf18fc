/**
 * How every plusgate function is bundled, in one place: lib/plusgate-function.ts hands it to CDK's
 * NodejsFunction and `npm run bench -- cold-start` to esbuild, so the benchmark measures what is deployed.
 * Pure data (no CDK import), so the benchmark can load it cheaply.
 *
 * Measured with `npm run bench -- cold-start` (README, "Performance"); the choices, each for the cold start:
 * - The AWS SDK is bundled, not taken from the Lambda runtime: one minified file loads faster than the SDK's
 *   hundreds of files (edge `require` ~115 ms against ~165 ms), and the SDK that runs is the one the lock
 *   file pins and the tests ran, not whatever version the runtime carries that month.
 * - `module` before `main`: the SDK's ES module builds, which esbuild can tree-shake (the edge bundle is
 *   725 KB with them against 935 KB with the CommonJS builds).
 * - A source map is built (`sourcesContent` off: line mappings only) but not loaded: `--enable-source-maps`
 *   parses it at every cold start (~30 ms for the edge), and plusgate's logs carry no stack traces
 *   (functions/runtime/observability.ts `safeError`). To read a crash's stack against the TypeScript, set
 *   `NODE_OPTIONS=--enable-source-maps` on the function.
 */

/** The esbuild options of a plusgate function bundle (CommonJS, one file, Node 22 as in Lambda). */
export const FUNCTION_BUNDLING = {
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  /** Nothing is left to the runtime: the AWS SDK comes with the bundle. */
  externalModules: [] as string[],
} as const;
