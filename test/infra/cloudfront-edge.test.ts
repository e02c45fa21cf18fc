/**
 * `edge: "cloudfront"` (lib/cloudfront-edge.ts, lib/config-edge.ts): a distribution with optional viewer
 * mutual TLS against a trust store built from the uploaded truststore object, in front of the edge
 * function's URL (AWS_IAM) through an Origin Access Control, instead of the API Gateway edge; the keys the
 * synth refuses with it; and the default synth (api-gateway) untouched. cdk-nag runs on every synth, and
 * cfn-lint checks the template where it is installed.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { SETTINGS } from '../../functions/config/settings';
import { App, Stack } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { CloudFrontEdge, FORWARDED_HEADERS } from '../../lib/cloudfront-edge';
import { ConfigError, loadConfig } from '../../lib/config';
import { cloudFrontTruststoreProblems } from '../../lib/config-edge';
import { parseTruststore, readTruststore } from '../../lib/truststore-pem';
import { defined, only } from '../support/only';
import { testPki } from '../support/test-pki';
import { CDK_JSON_CONTEXT, REPO_ROOT, synthPlusgate } from './plusgate-fixture';

type Resource = { Type: string; Properties: any; DependsOn?: string[] };
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Resources = Record<string, Resource>;

const CLOUDFRONT_CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
/** cdk.json's example context, switched to the CloudFront edge (its certificateArn left out: unused there). */
const CLOUDFRONT = {
  edge: 'cloudfront',
  cloudFrontCertificateArn: CLOUDFRONT_CERT,
  region: 'eu-west-1',
  certificateArn: '',
};

const { app, stack, template } = synthPlusgate(CLOUDFRONT);
const json = template.toJSON() as { Resources: Resources; Outputs: Record<string, any> };
const resources = json.Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const onlyOf = (type: string) => only(ofType(type), type);

const truststore = readTruststore(path.resolve(REPO_ROOT, String(CDK_JSON_CONTEXT.truststorePath)));
if (!truststore.ok) throw new Error('the example truststore in cdk.json must be valid');
const truststoreKey = `truststore/${truststore.truststore.sha256}.pem`;

const [distributionId, distribution] = onlyOf('AWS::CloudFront::Distribution');
const config = distribution.Properties.DistributionConfig;
const [trustStoreId, trustStore] = onlyOf('AWS::CloudFront::TrustStore');
const [urlId, functionUrl] = onlyOf('AWS::Lambda::Url');
const edgeFunctionId = defined(
  ofType('AWS::Lambda::Function')
    .map(([id]) => id)
    .find((id) => id.startsWith('EdgeFunction')),
  'the edge function',
);
/** The distribution's ARN as CloudFormation builds it for the Lambda permissions. */
const distributionArn = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':cloudfront::',
      { Ref: 'AWS::AccountId' },
      ':distribution/',
      { Ref: distributionId },
    ],
  ],
};

describe('edge cloudfront: viewer mutual TLS, optional', () => {
  test('the distribution states mode optional with the trust store, CA names advertised and expired certificates refused', () => {
    expect(config.ViewerMtlsConfig).toEqual({
      Mode: 'optional',
      TrustStoreConfig: {
        TrustStoreId: { 'Fn::GetAtt': [trustStoreId, 'Id'] },
        AdvertiseTrustStoreCaNames: true,
        IgnoreCertificateExpiry: false,
      },
    });
  });

  test('the trust store bundle is the uploaded truststore object: content-hashed key, pinned version, the stack region', () => {
    const [bucketId] = only(
      ofType('AWS::S3::Bucket').filter(([id]) => id.startsWith('CloudFrontEdgeTruststore')),
      'CloudFrontEdgeTruststore* bucket',
    );
    const [uploadId, upload] = onlyOf('Custom::PlusgateTruststore');
    expect(trustStore.Properties.CaCertificatesBundleSource).toEqual({
      CaCertificatesBundleS3Location: {
        Bucket: { Ref: bucketId },
        Key: truststoreKey,
        Region: 'eu-west-1',
        Version: { 'Fn::GetAtt': [uploadId, 'VersionId'] },
      },
    });
    // Create is Fn::Join of JSON text around the bucket's Ref: put a placeholder there and parse it.
    const parts: unknown[] = upload.Properties.Create['Fn::Join'][1];
    const sdkCall = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(sdkCall.parameters).toMatchObject({ Key: truststoreKey, Body: truststore.truststore.pem });
    // Identity Plus decides on revocation, not an OCSP responder CloudFront would ask.
    expect(trustStore.Properties.UseClientCertificateOCSPEndpoint).toBe(false);
  });

  test("the bucket grants CloudFront nothing: the trust store reads the bundle like API Gateway's truststore", () => {
    const policies = ofType('AWS::S3::BucketPolicy').filter(([id]) => id.startsWith('CloudFrontEdgeTruststore'));
    expect(JSON.stringify(policies)).not.toMatch(/cloudfront\.amazonaws\.com/);
  });
});

describe('edge cloudfront: only CloudFront reaches the edge function', () => {
  test('the origin is the edge function URL, auth type AWS_IAM, through an OAC that always signs with SigV4', () => {
    expect(functionUrl.Properties).toEqual({
      AuthType: 'AWS_IAM',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: { 'Fn::GetAtt': [edgeFunctionId, 'Arn'] },
    });
    const [oacId, oac] = onlyOf('AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 'lambda',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    const origin = only(config.Origins as any[], 'origin');
    expect(origin).toMatchObject({
      DomainName: { 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::GetAtt': [urlId, 'FunctionUrl'] }] }] },
      OriginAccessControlId: { 'Fn::GetAtt': [oacId, 'Id'] },
      CustomOriginConfig: { OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] },
    });
  });

  test('both Lambda permissions go to cloudfront.amazonaws.com for this distribution only', () => {
    const forCloudFront = ofType('AWS::Lambda::Permission').filter(
      ([, p]) => p.Properties.Principal === 'cloudfront.amazonaws.com',
    );
    expect(forCloudFront.map(([, p]) => p.Properties).sort((a, b) => a.Action.localeCompare(b.Action))).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [urlId, 'FunctionArn'] },
        InvokedViaFunctionUrl: true,
        Principal: 'cloudfront.amazonaws.com',
        SourceArn: distributionArn,
      },
      {
        Action: 'lambda:InvokeFunctionUrl',
        FunctionName: { 'Fn::GetAtt': [urlId, 'FunctionArn'] },
        Principal: 'cloudfront.amazonaws.com',
        SourceArn: distributionArn,
      },
    ]);
  });

  test('nothing else may invoke the edge function: no other permission names it, no public URL', () => {
    const onEdge = ofType('AWS::Lambda::Permission').filter(([, p]) => {
      const name = JSON.stringify(p.Properties.FunctionName);
      return name.includes(edgeFunctionId) || name.includes(urlId);
    });
    expect(onEdge.map(([, p]) => p.Properties.Principal)).toEqual([
      'cloudfront.amazonaws.com',
      'cloudfront.amazonaws.com',
    ]);
    expect(JSON.stringify(resources)).not.toMatch(/"AuthType":"NONE"|"FunctionUrlAuthType":"NONE"/);
  });

  test('the origin request policy forwards the certificate headers, the viewer address and Accept; never Host or cookies', () => {
    const [policyId, policy] = onlyOf('AWS::CloudFront::OriginRequestPolicy');
    expect(config.DefaultCacheBehavior.OriginRequestPolicyId).toEqual({ Ref: policyId });
    const { HeadersConfig, CookiesConfig, QueryStringsConfig } = policy.Properties.OriginRequestPolicyConfig;
    expect(HeadersConfig.HeaderBehavior).toBe('whitelist');
    expect(HeadersConfig.Headers).toEqual([...FORWARDED_HEADERS]);
    for (const header of ['Present', 'Pem', 'Serial-Number', 'Issuer', 'Subject', 'Sha256', 'Validity']) {
      expect(HeadersConfig.Headers).toContain(`CloudFront-Viewer-Cert-${header}`);
    }
    expect(HeadersConfig.Headers).toEqual(expect.arrayContaining(['CloudFront-Viewer-Address', 'Accept']));
    expect(HeadersConfig.Headers.map((h: string) => h.toLowerCase())).not.toContain('host');
    // CloudFront's default quota of headers per origin request policy.
    expect(HeadersConfig.Headers.length).toBeLessThanOrEqual(10);
    expect(CookiesConfig).toEqual({ CookieBehavior: 'none' });
    expect(QueryStringsConfig).toEqual({ QueryStringBehavior: 'all' });
  });
});

describe('edge cloudfront: the distribution', () => {
  test('HTTP/2 (never HTTP/3, which viewer mTLS does not support), HTTPS only on every behaviour, GET and HEAD', () => {
    expect(config.HttpVersion).toBe('http2');
    const behaviours = [config.DefaultCacheBehavior, ...(config.CacheBehaviors ?? [])];
    for (const behaviour of behaviours) {
      expect(behaviour.ViewerProtocolPolicy).toBe('https-only');
      expect(behaviour.AllowedMethods).toEqual(['GET', 'HEAD']);
    }
  });

  test('nothing is cached (the managed CachingDisabled policy)', () => {
    expect(config.DefaultCacheBehavior.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
  });

  test('on the custom domain with the us-east-1 certificate, SNI, TLS 1.2 at least', () => {
    expect(config.Aliases).toEqual([CDK_JSON_CONTEXT.domainName]);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: CLOUDFRONT_CERT,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
  });

  test('the outputs name the DNS target, the distribution and the function URL; no API Gateway edge outputs', () => {
    expect(json.Outputs.DistributionDomainName.Value).toEqual({ 'Fn::GetAtt': [distributionId, 'DomainName'] });
    expect(json.Outputs.DistributionId.Value).toEqual({ Ref: distributionId });
    expect(json.Outputs.EdgeFunctionUrl.Value).toEqual({ 'Fn::GetAtt': [urlId, 'FunctionUrl'] });
    expect(json.Outputs.EdgeFunctionUrl.Description).toMatch(/403 to anyone else/);
    for (const gone of ['RegionalDomainName', 'RegionalHostedZoneId', 'AccessLogGroupName']) {
      expect(json.Outputs[gone]).toBeUndefined();
    }
    expect(json.Outputs.TruststoreUri).toBeDefined();
  });
});

describe('edge cloudfront: instead of the API Gateway edge', () => {
  test('no API Gateway edge exists (no custom domain, no edge REST API, no web ACL); the service API stays', () => {
    expect(ofType('AWS::ApiGateway::DomainName')).toEqual([]);
    expect(ofType('AWS::ApiGateway::BasePathMapping')).toEqual([]);
    expect(ofType('AWS::WAFv2::WebACL')).toEqual([]);
    const apis = ofType('AWS::ApiGateway::RestApi').map(([, r]) => r.Properties.Name);
    expect(apis).toEqual(['plusgate-service']);
    expect(stack.edge).toBeUndefined();
    expect(stack.cloudFrontEdge).toBeDefined();
  });

  test("the stack sets API Gateway's account logging role itself, and the service stage waits for it", () => {
    const [accountId, account] = onlyOf('AWS::ApiGateway::Account');
    expect(account).toMatchObject({ DeletionPolicy: 'Retain' });
    const [, stage] = onlyOf('AWS::ApiGateway::Stage');
    expect(stage.DependsOn).toContain(accountId);
  });

  test('the edge function (and no other) is told its edge is cloudfront', () => {
    const env = (id: string) => resources[id]?.Properties.Environment?.Variables ?? {};
    expect(env(edgeFunctionId)[SETTINGS.edge.env]).toBe('cloudfront');
    const others = ofType('AWS::Lambda::Function').filter(([id]) => id !== edgeFunctionId);
    for (const [id] of others) expect(env(id)[SETTINGS.edge.env]).toBeUndefined();
  });

  test('the 5xx alarm watches what the function URL answered CloudFront (Url5xxCount), not an edge API', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const names = alarms.map((a) => a.AlarmName);
    expect(names).toEqual(
      expect.arrayContaining(['Plusgate-EdgeUrl5xx', 'Plusgate-ServiceApi5xx', 'Plusgate-EdgeErrors']),
    );
    expect(names).not.toContain('Plusgate-EdgeApi5xx');
    const url5xx = only(
      alarms.filter((a) => a.AlarmName === 'Plusgate-EdgeUrl5xx'),
      'EdgeUrl5xx alarm',
    );
    expect(url5xx).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Url5xxCount',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: edgeFunctionId } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
    });
    expect(JSON.stringify(url5xx.AlarmDescription)).toMatch(/5xxErrorRate is in us-east-1/);
  });

  test('the stack deploys to the account of cloudFrontCertificateArn and the region given', () => {
    expect(stack.account).toBe('123456789012');
    expect(stack.region).toBe('eu-west-1');
  });

  test('cdk-nag AwsSolutions report no unacknowledged finding', () => {
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(JSON.stringify(report.pluginReports ?? [])).not.toMatch(/AwsSolutions-/);
  });

  test('with a hosted zone, A and AAAA alias records point the domain at the distribution', () => {
    const { template: zoned } = synthPlusgate({
      ...CLOUDFRONT,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
    });
    const records = Object.values(zoned.toJSON().Resources as Resources).filter(
      (r) => r.Type === 'AWS::Route53::RecordSet',
    );
    expect(records.map((r) => r.Properties.Type).sort()).toEqual(['A', 'AAAA']);
    for (const record of records) {
      expect(record.Properties).toMatchObject({
        Name: 'auth.example.com.',
        HostedZoneId: 'Z0123456789ABCDEFGHIJ',
        AliasTarget: {
          // The same construct path, so the same logical id as in the template without a zone.
          DNSName: { 'Fn::GetAtt': [distributionId, 'DomainName'] },
          HostedZoneId: {
            'Fn::FindInMap': ['AWSCloudFrontPartitionHostedZoneIdMap', { Ref: 'AWS::Partition' }, 'zoneId'],
          },
        },
      });
    }
  });
});

describe('the CloudFrontEdge construct on its own', () => {
  test('refuses a certificate outside us-east-1, naming where it is', () => {
    const bare = new Stack(new App(), 'Bare', { env: { account: '123456789012', region: 'eu-west-1' } });
    const handler = new LambdaFunction(bare, 'Fn', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({ statusCode: 200 })'),
    });
    const certificate = (arn: string) => Certificate.fromCertificateArn(bare, `Cert${arn.length}`, arn);
    expect(
      () =>
        new CloudFrontEdge(bare, 'Edge', {
          handler,
          domainName: 'auth.example.com',
          certificate: certificate('arn:aws:acm:eu-west-1:123456789012:certificate/x'),
          truststore: truststore.truststore,
        }),
    ).toThrow(/is in eu-west-1; CloudFront takes viewer certificates from ACM in us-east-1 only/);
  });
});

describe('edge cloudfront with the forward-auth door', () => {
  test("the door's REST API keeps its mutual TLS domain, its stage waits for the stack's logging role, cdk-nag is clean", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-cf-door-'));
    try {
      const proxyCa = path.join(dir, 'proxy-ca.pem');
      writeFileSync(proxyCa, (await testPki()).foreignCa.cert);
      const { app: withDoor, template: doorTemplate } = synthPlusgate({
        ...CLOUDFRONT,
        forwardAuthDomainName: 'forward-auth.example.com',
        forwardAuthCertificateArn:
          'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-1111-1111-1111-111111111111',
        forwardAuthTruststorePath: proxyCa,
      });
      const all = Object.entries(doorTemplate.toJSON().Resources as Resources);
      const [accountId] = only(
        all.filter(([, r]) => r.Type === 'AWS::ApiGateway::Account'),
        'API Gateway account',
      );
      const domain = only(
        all.filter(([, r]) => r.Type === 'AWS::ApiGateway::DomainName'),
        'door domain',
      )[1];
      expect(domain.Properties.DomainName).toBe('forward-auth.example.com');
      const stages = all.filter(([, r]) => r.Type === 'AWS::ApiGateway::Stage');
      expect(stages).toHaveLength(2);
      for (const [, stage] of stages) expect(stage.DependsOn).toContain(accountId);
      const assembly = withDoor.synth();
      const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
      expect(JSON.stringify(report.pluginReports ?? [])).not.toMatch(/AwsSolutions-/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const cfnLintAvailable = spawnSync('cfn-lint', ['--version']).status === 0;
if (!cfnLintAvailable) {
  console.warn(
    'cfn-lint is not installed: the CloudFront template is not linted (pip install cfn-lint, or a recent Debian cfn-lint)',
  );
}
const testWithCfnLint = cfnLintAvailable ? test : test.skip;
testWithCfnLint(
  cfnLintAvailable
    ? 'cfn-lint finds no error in the CloudFront template'
    : 'cfn-lint finds no error in the CloudFront template (SKIPPED: cfn-lint is not installed)',
  () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-cfn-lint-'));
    try {
      const file = path.join(dir, 'cloudfront.template.json');
      writeFileSync(file, JSON.stringify(json, null, 1));
      const run = spawnSync('cfn-lint', ['--format', 'parseable', file], { encoding: 'utf8' });
      expect(run.error).toBeUndefined();
      // parseable: file:line:col:endline:endcol:RULE:message; E rules are errors, W and I are not.
      const errors = run.stdout.split('\n').filter((line) => /^[^:]+:\d+:\d+:\d+:\d+:E\d+:/.test(line));
      expect(errors).toEqual([]);
      expect(run.stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

describe('the default edge (api-gateway) is untouched', () => {
  const { template: defaults } = synthPlusgate();
  const types = (t: typeof defaults) =>
    Object.entries(t.toJSON().Resources as Resources)
      .map(([id, r]) => `${id} ${r.Type}`)
      .sort();

  test('edge api-gateway given explicitly synthesizes the same resources as the default', () => {
    expect(types(synthPlusgate({ edge: 'api-gateway' }).template)).toEqual(types(defaults));
  });

  test('no CloudFront, function URL or PLUSGATE_EDGE in the default template', () => {
    const text = JSON.stringify(defaults.toJSON());
    expect(text).not.toMatch(/AWS::CloudFront::|AWS::Lambda::Url|cloudfront\.amazonaws\.com|PLUSGATE_EDGE/);
    expect(text).toMatch(/AWS::ApiGateway::DomainName/);
  });
});

describe('configuration the synth refuses with edge cloudfront', () => {
  const refused = (overrides: Record<string, unknown>) => () => synthPlusgate({ ...CLOUDFRONT, ...overrides });

  test('a missing cloudFrontCertificateArn', () => {
    expect(refused({ cloudFrontCertificateArn: undefined })).toThrow(
      /cloudFrontCertificateArn: missing; expected an ACM certificate ARN in us-east-1 .*with edge "cloudfront"/,
    );
  });

  test.each([
    ['arn:aws:acm:eu-west-1:123456789012:certificate/x-1', /expected a certificate in us-east-1 \(N\. Virginia/],
    ['arn:aws-cn:acm:us-east-1:123456789012:certificate/x-1', /expected a certificate in us-east-1 \(N\. Virginia/],
    ['arn:aws:iam::123456789012:server-certificate/x', /expected an ACM certificate ARN in us-east-1/],
  ])('cloudFrontCertificateArn %s', (arn, message) => {
    expect(refused({ cloudFrontCertificateArn: arn })).toThrow(message);
    expect(refused({ cloudFrontCertificateArn: arn })).toThrow(`cloudFrontCertificateArn: got "${arn}"`);
  });

  test('a WAF rate limit: its web ACL is REGIONAL; 0 means none and is taken', () => {
    expect(refused({ wafRateLimitPer5Min: 500 })).toThrow(
      /wafRateLimitPer5Min: got 500; expected 0 or nothing with edge "cloudfront": .*CLOUDFRONT-scope web ACL.*us-east-1/,
    );
    expect(synthPlusgate({ ...CLOUDFRONT, wafRateLimitPer5Min: 0 }).stack.edgeWaf).toBeUndefined();
  });

  test('an ownership verification certificate (API Gateway mutual TLS only)', () => {
    expect(refused({ ownershipVerificationCertificateArn: CLOUDFRONT_CERT })).toThrow(
      /ownershipVerificationCertificateArn: got ".*"; expected nothing with edge "cloudfront": .*API Gateway's mutual TLS/,
    );
  });

  test('a missing or bad region; the CDK CLI region when -c region is not given', () => {
    expect(refused({ region: undefined })).toThrow(/region: missing; expected the AWS region the stack deploys to/);
    expect(refused({ region: 'EU-WEST-1' })).toThrow(/region: got "EU-WEST-1"; expected the AWS region/);
    expect(refused({ region: 'cn-north-1' })).toThrow(/region: got "cn-north-1"; expected .*partition "aws"/);
    const context: Record<string, unknown> = { ...CDK_JSON_CONTEXT, ...CLOUDFRONT, region: undefined };
    const get = (key: string) => context[key];
    const fromCli = loadConfig(get, { baseDir: REPO_ROOT, defaultRegion: 'ap-southeast-2' });
    expect(fromCli.region).toBe('ap-southeast-2');
    expect(fromCli.edgeWarnings).toEqual([
      expect.stringMatching(/^region is not given: the stack deploys to ap-southeast-2, the CDK CLI's default region/),
    ]);
    expect(
      loadConfig((key) => (key === 'region' ? 'eu-central-1' : get(key)), {
        baseDir: REPO_ROOT,
        defaultRegion: 'ap-southeast-2',
      }).region,
    ).toBe('eu-central-1');
    expect(() => loadConfig(get, { baseDir: REPO_ROOT, defaultRegion: 'moon-1' })).toThrow(
      /region \(CDK_DEFAULT_REGION\): got "moon-1"/,
    );
  });

  test('certificateArn: unused, so a warning; refused in another account than cloudFrontCertificateArn', () => {
    const { stack: withCertificate } = synthPlusgate({
      ...CLOUDFRONT,
      certificateArn: CDK_JSON_CONTEXT.certificateArn,
    });
    Annotations.fromStack(withCertificate).hasWarning(
      '*',
      Match.stringLikeRegexp('certificateArn .* is not used with edge "cloudfront"'),
    );
    expect(refused({ certificateArn: 'arn:aws:acm:eu-west-1:210987654321:certificate/x-1' })).toThrow(
      /certificateArn: got ".*210987654321.*"; expected a certificate in account 123456789012, that of cloudFrontCertificateArn/,
    );
  });

  test("with edge api-gateway: cloudFrontCertificateArn, and a region other than certificateArn's", () => {
    expect(() => synthPlusgate({ cloudFrontCertificateArn: CLOUDFRONT_CERT })).toThrow(
      /cloudFrontCertificateArn: got ".*"; expected nothing with edge "api-gateway" \(the default\)/,
    );
    expect(() => synthPlusgate({ region: 'us-west-2' })).toThrow(
      /region: got "us-west-2"; expected "eu-west-1" or nothing with edge "api-gateway"/,
    );
    expect(synthPlusgate({ region: 'eu-west-1' }).stack.region).toBe('eu-west-1');
  });

  test('every problem at once, each naming its key', () => {
    try {
      synthPlusgate({
        ...CLOUDFRONT,
        cloudFrontCertificateArn: undefined,
        region: undefined,
        wafRateLimitPer5Min: 100,
      });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.split(':')[0])).toEqual([
        'cloudFrontCertificateArn',
        'region',
        'wafRateLimitPer5Min',
      ]);
    }
  });
});

describe('a truststore a CloudFront trust store would refuse', () => {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(Date.now() + 365 * 86_400_000);

  /** A CA certificate (PEM) on a fresh key of `curve`, issued by `issuer` or self-signed. */
  async function ca(
    name: string,
    issuer?: { cert: x509.X509Certificate; keys: CryptoKeyPair },
    curve = 'P-256',
  ): Promise<{ cert: x509.X509Certificate; keys: CryptoKeyPair; pem: string }> {
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const subject = `CN=${name}`;
    const signer = issuer ?? { cert: undefined, keys };
    const cert = await x509.X509CertificateGenerator.create({
      // Positive and of fixed length: a first hex digit of 1.
      serialNumber: `1${randomBytes(8).toString('hex').slice(1)}`,
      subject,
      issuer: issuer ? issuer.cert.subject : subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: signer.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    return { cert, keys, pem: `${cert.toString('pem').replace(/\r\n/g, '\n')}\n` };
  }
  const checked = (pem: string) => {
    const result = parseTruststore(pem, 'test.pem');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    return result.truststore;
  };

  test('the example truststore fits', () => {
    expect(cloudFrontTruststoreProblems(truststore.truststore)).toEqual([]);
  });

  test('more than 25 certificates', async () => {
    const roots = await Promise.all(Array.from({ length: 26 }, (_, i) => ca(`root ${i}`)));
    expect(cloudFrontTruststoreProblems(checked(roots.map((r) => r.pem).join('')))).toEqual([
      'it holds 26 certificates, more than the 25 a CloudFront trust store takes',
    ]);
    expect(
      cloudFrontTruststoreProblems(
        checked(
          roots
            .slice(0, 25)
            .map((r) => r.pem)
            .join(''),
        ),
      ),
    ).toEqual([]);
  });

  test('a chain deeper than 4 with the device certificate (root and three intermediates)', async () => {
    const root = await ca('root');
    const one = await ca('one', root);
    const two = await ca('two', one);
    const three = await ca('three', two);
    expect(cloudFrontTruststoreProblems(checked(root.pem + one.pem + two.pem))).toEqual([]);
    expect(cloudFrontTruststoreProblems(checked(root.pem + one.pem + two.pem + three.pem))).toEqual([
      'a device certificate issued by certificate (CN=three) has a chain 5 certificates deep, more than the 4 CloudFront verifies',
    ]);
  });

  test('a CA key CloudFront does not take (ECDSA P-521)', async () => {
    const root = await ca('big curve', undefined, 'P-521');
    expect(new X509Certificate(root.pem).publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
    expect(cloudFrontTruststoreProblems(checked(root.pem))).toEqual([
      'certificate (CN=big curve) has a ec secp521r1 key; a CloudFront trust store takes RSA keys of 2048, 3072 or 4096 bits and ECDSA keys on P-256 or P-384',
    ]);
  });

  test('the synth names truststorePath with edge cloudfront only', async () => {
    const roots = await Promise.all(Array.from({ length: 26 }, (_, i) => ca(`many ${i}`)));
    const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-cf-truststore-'));
    try {
      const file = path.join(dir, 'many.pem');
      writeFileSync(file, roots.map((r) => r.pem).join(''));
      expect(() => synthPlusgate({ ...CLOUDFRONT, truststorePath: file })).toThrow(
        /truststorePath: got ".*many\.pem", but it holds 26 certificates, more than the 25 a CloudFront trust store takes; expected a truststore a CloudFront trust store takes, with edge "cloudfront"/,
      );
      const context: Record<string, unknown> = { ...CDK_JSON_CONTEXT, truststorePath: file };
      expect(loadConfig((key) => context[key], { baseDir: REPO_ROOT }).truststore.subjects).toHaveLength(26);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
