/**
 * The bundles as lib/function-bundling.ts makes them (esbuild, as CDK runs it): what goes in decides the cold
 * start (`npm run bench -- cold-start`). Checked from esbuild's metafile, for the three request-path functions.
 */
import * as path from 'node:path';
import { build } from 'esbuild';
import { FUNCTION_BUNDLING } from '../../lib/function-bundling';

const ROOT = path.resolve(__dirname, '../..');

async function inputsOf(handler: string): Promise<string[]> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'functions/handlers', `${handler}.ts`)],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: FUNCTION_BUNDLING.target,
    minify: FUNCTION_BUNDLING.minify,
    mainFields: [...FUNCTION_BUNDLING.mainFields],
    external: [...FUNCTION_BUNDLING.externalModules],
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
    outfile: path.join(ROOT, '.bench', 'bundling-test', handler, 'index.js'),
  });
  return Object.keys(result.metafile.inputs);
}

describe.each(['edge', 'verify', 'authorizer'])('the %s bundle', (handler) => {
  let inputs: string[];
  beforeAll(async () => {
    inputs = await inputsOf(handler);
  }, 60_000);

  it("holds undici's Agent and connector but not the rest of undici (fetch, WebSocket, cache, mocks)", () => {
    const undici = inputs.filter((file) => file.includes('node_modules/undici/'));
    expect(undici).toContain('node_modules/undici/lib/dispatcher/agent.js');
    expect(undici).toContain('node_modules/undici/lib/core/connect.js');
    expect(undici).not.toContain('node_modules/undici/index.js');
    // The agent's HTTP/1 client shares a few body helpers with fetch; fetch itself and the rest stay out.
    const rest =
      /\/lib\/(mock|cache|interceptor)\/|\/lib\/web\/(websocket|eventsource|cache|cookies)\/|\/lib\/web\/fetch\/index\.js$/;
    expect(undici.filter((file) => rest.test(file))).toEqual([]);
  });

  it('carries the AWS SDK itself, from its ES module builds', () => {
    const sdk = inputs.filter((file) => file.includes('node_modules/@aws-sdk/'));
    expect(sdk.some((file) => file.includes('node_modules/@aws-sdk/client-dynamodb/'))).toBe(true);
    expect(sdk.filter((file) => file.includes('/dist-cjs/'))).toEqual([]);
  });
});
