/**
 * The one synth with everything on, as `cdk synth` does it: esbuild bundles the real handler (locally, no
 * Docker) and CDK's built-in CloudFormation validation checks the template; cdk-nag runs as always.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { readTruststore } from '../../lib/truststore-pem';
import { only } from '../support/only';
import { REPO_ROOT, synthPlusgate } from './plusgate-fixture';

test('the stack synthesizes with real bundling and template validation; the edge bundle is minified CJS with a source map and its own AWS SDK', () => {
  const { app, template } = synthPlusgate({}, { realBundling: true });
  const checked = readTruststore(path.join(REPO_ROOT, 'examples', 'truststore', 'identity-plus-example-ca.pem'));
  if (!('truststore' in checked)) throw new Error('example truststore does not read');
  const truststorePem = checked.truststore.pem;
  const assembly = app.synth();
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  /** The one Lambda function whose logical id starts with `prefix`. */
  const functionOf = (prefix: string) =>
    only(
      Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix)),
      `${prefix}* function`,
    )[1];

  const edge = functionOf('EdgeFunction');
  const assetHash = String(edge.Properties.Code.S3Key).replace(/\.zip$/, '');
  const assetDir = path.join(assembly.directory, `asset.${assetHash}`);
  expect(readdirSync(assetDir).sort()).toEqual(['index.js', 'index.js.map']);

  const bundle = readFileSync(path.join(assetDir, 'index.js'), 'utf8');
  expect(bundle).toMatch(/exports/); // CommonJS
  // The SDK is bundled (lib/function-bundling.ts): nothing is required from the runtime's copy but the SDK's
  // optional CRT signer, which it loads only for SigV4a (multi-region access points; plusgate uses none).
  const required = new Set([...bundle.matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]));
  expect([...required]).toEqual(['@aws-sdk/signature-v4-crt']);
  expect(bundle.length / bundle.split('\n').length).toBeGreaterThan(1000); // minified (template literals keep their newlines)
  expect(statSync(path.join(assetDir, 'index.js')).size).toBeLessThan(1_500_000);

  const map = JSON.parse(readFileSync(path.join(assetDir, 'index.js.map'), 'utf8'));
  expect(map.sources.some((s: string) => s.endsWith('functions/handlers/edge.ts'))).toBe(true);
  expect(map.sourcesContent).toBeUndefined();

  // Verify and the authorizer carry the truststore they check chains against: exactly the checked,
  // normalised PEM the edge domain trusts.
  for (const prefix of ['VerifyFunction', 'AuthorizerFunction']) {
    const fn = functionOf(prefix);
    const dir = path.join(assembly.directory, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
    expect(readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map', 'truststore.pem']);
    expect(readFileSync(path.join(dir, 'truststore.pem'), 'utf8')).toBe(truststorePem);
  }

  // The report function never calls Identity Plus: its bundle carries no undici, only the SDK and our code.
  const reportFn = functionOf('ReportFunction');
  const reportBundle = readFileSync(
    path.join(assembly.directory, `asset.${String(reportFn.Properties.Code.S3Key).replace(/\.zip$/, '')}`, 'index.js'),
    'utf8',
  );
  expect(reportBundle).not.toMatch(/undici/i);
  expect(reportBundle.length).toBeLessThan(600_000);

  const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
  expect(JSON.stringify(report.pluginReports)).not.toMatch(/"severity":"(error|fatal)"|AwsSolutions-/i);
});
