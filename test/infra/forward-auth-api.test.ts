/**
 * The mutual-TLS door for proxies (lib/forward-auth-api.ts): absent unless configured; when configured a third
 * REST API behind mutual TLS with the proxies' CA, only ANY /auth/..., integrated with the verify function;
 * and the configuration the synth refuses (partial keys, a truststore sharing trust with the device one, the
 * edge's domain).
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Template } from 'aws-cdk-lib/assertions';
import { AUTH_ROUTES } from '../../functions/config/names';
import { defined, only } from '../support/only';
import { testPki } from '../support/test-pki';
import { allPolicyStatements, asList, REPO_ROOT, type Synthesized, synthPlusgate } from './plusgate-fixture';

type Resources = Record<string, { Type: string; Properties: any }>;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DOOR_DOMAIN = 'forward-auth.example.com';
const DOOR_CERTIFICATE_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-1111-1111-1111-111111111111';
const DEVICE_TRUSTSTORE = path.join(REPO_ROOT, 'examples/truststore/identity-plus-example-ca.pem');

const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-forward-auth-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The proxy CA: the dev PKI's foreign root (not an Identity Plus CA, not in the example device truststore). */
let proxyCaPem: string;
let doorContext: Record<string, unknown>;
let door: Synthesized;
let resources: Resources;
beforeAll(async () => {
  proxyCaPem = (await testPki()).foreignCa.cert;
  doorContext = {
    forwardAuthDomainName: DOOR_DOMAIN,
    forwardAuthCertificateArn: DOOR_CERTIFICATE_ARN,
    forwardAuthTruststorePath: file('proxy-ca.pem', proxyCaPem),
  };
  door = synthPlusgate(doorContext);
  resources = door.template.toJSON().Resources as Resources;
});

const ofType = (res: Resources, type: string) => Object.entries(res).filter(([, r]) => r.Type === type);
const doorOfType = (type: string) => ofType(resources, type).filter(([id]) => id.startsWith('ForwardAuth'));
const doorApiId = () => only(doorOfType('AWS::ApiGateway::RestApi'), 'the door RestApi')[0];
const verifyFunctionId = () =>
  only(
    ofType(resources, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('VerifyFunction')),
    'the verify function',
  )[0];
const resourcePath = (id: string): string => {
  const r = defined(resources[id], `the resource ${id}`).Properties;
  const parent = r.ParentId?.Ref as string | undefined;
  return `${parent && resources[parent]?.Type === 'AWS::ApiGateway::Resource' ? resourcePath(parent) : ''}/${r.PathPart}`;
};

describe('without the forwardAuth keys', () => {
  test('there is no third API, no door domain and no ForwardAuthUrl output (with them, there is)', () => {
    const { template, stack } = synthPlusgate();
    expect(stack.forwardAuth).toBeUndefined();
    expect(door.stack.forwardAuth).toBeDefined();
    const res = template.toJSON().Resources as Resources;
    expect(ofType(res, 'AWS::ApiGateway::RestApi').map(([, r]) => r.Properties.Name)).toEqual([
      'plusgate-edge',
      'plusgate-service',
    ]);
    expect(ofType(res, 'AWS::ApiGateway::DomainName')).toHaveLength(1);
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('ForwardAuthUrl');
  });
});

describe('with the forwardAuth keys', () => {
  test('a third REST API: REGIONAL, execute-api endpoint disabled and not advertised', () => {
    const [, api] = only(doorOfType('AWS::ApiGateway::RestApi'), 'the door RestApi');
    expect(api.Properties).toMatchObject({
      Name: 'plusgate-forward-auth',
      DisableExecuteApiEndpoint: true,
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    expect(ofType(resources, 'AWS::ApiGateway::RestApi')).toHaveLength(3);
    const outputs = JSON.stringify(door.template.toJSON().Outputs);
    expect(outputs).not.toContain(`"Ref":"${doorApiId()}"},".execute-api`);
  });

  test('its domain has mutual TLS with the uploaded proxy-CA truststore object (version-pinned) and TLS_1_2', () => {
    const [, domain] = only(doorOfType('AWS::ApiGateway::DomainName'), 'the door DomainName');
    const [bucketId] = only(
      doorOfType('AWS::S3::Bucket').filter(([id]) => id.startsWith('ForwardAuthTruststore')),
      'the door truststore bucket',
    );
    const [uploadId, upload] = only(doorOfType('Custom::PlusgateTruststore'), 'the door truststore upload');
    const pem = `${proxyCaPem.trim()}\n`;
    const key = `truststore/${createHash('sha256').update(pem).digest('hex')}.pem`;
    expect(domain.Properties).toMatchObject({
      DomainName: DOOR_DOMAIN,
      RegionalCertificateArn: DOOR_CERTIFICATE_ARN,
      EndpointConfiguration: { Types: ['REGIONAL'] },
      SecurityPolicy: 'TLS_1_2',
      MutualTlsAuthentication: {
        TruststoreUri: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, `/${key}`]] },
        TruststoreVersion: { 'Fn::GetAtt': [uploadId, 'VersionId'] },
      },
    });
    // Exactly the proxy CA is uploaded, at that key: nothing of the device truststore.
    const parts = upload.Properties.Create['Fn::Join'][1] as unknown[];
    const call = JSON.parse(
      parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p).replace(/"/g, ''))).join(''),
    );
    expect(call.parameters).toEqual({
      Bucket: `{Ref:${bucketId}}`,
      Key: key,
      Body: pem,
      ContentType: 'application/x-pem-file',
    });
    // The domain serves the door's API.
    const [, mapping] = only(doorOfType('AWS::ApiGateway::BasePathMapping'), 'the door base path mapping');
    expect(mapping.Properties.RestApiId).toEqual({ Ref: doorApiId() });
  });

  test('the function that uploads truststores may write the door truststore object', () => {
    // Every truststore upload runs on one singleton function (AwsCustomResource): its role must cover both.
    const [uploadId, upload] = only(doorOfType('Custom::PlusgateTruststore'), 'the door truststore upload');
    const providerId = defined(upload.Properties.ServiceToken?.['Fn::GetAtt']?.[0], `${uploadId}'s provider`);
    const roleId = defined(resources[providerId], providerId).Properties.Role['Fn::GetAtt'][0];
    const [bucketId] = only(
      doorOfType('AWS::S3::Bucket').filter(([id]) => id.startsWith('ForwardAuthTruststore')),
      'the door truststore bucket',
    );
    const writes = allPolicyStatements(door.template).filter(
      ({ logicalId, statement }) =>
        resources[logicalId]?.Properties.Roles?.some((r: { Ref: string }) => r.Ref === roleId) &&
        asList(statement.Action as string | string[]).includes('s3:PutObject') &&
        JSON.stringify(statement.Resource).includes(bucketId),
    );
    expect(writes).toHaveLength(1);
  });

  test('only ANY /auth/{dialect} and ANY /auth/{dialect}/{path+}, without authorizer, to the verify function', () => {
    const methods = doorOfType('AWS::ApiGateway::Method').map(([, m]) => m.Properties);
    expect(methods.map((m) => `${m.HttpMethod} ${resourcePath(m.ResourceId.Ref)}`).sort()).toEqual([
      `ANY ${AUTH_ROUTES.DIALECT}`,
      `ANY ${AUTH_ROUTES.DIALECT_PATH}`,
    ]);
    for (const m of methods) {
      expect(m.AuthorizationType).toBe('NONE');
      expect(m.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
      expect(JSON.stringify(m.Integration.Uri)).toContain(verifyFunctionId());
    }
  });

  test('API Gateway may invoke the verify function from the door, and the function gets nothing else', () => {
    const permissions = ofType(resources, 'AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties.SourceArn).includes(doorApiId()),
    );
    expect(permissions).toHaveLength(2);
    for (const [, p] of permissions) {
      expect(p.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [verifyFunctionId(), 'Arn'] },
      });
    }
    // The verify role's statements are the same with the door as without.
    const verifyStatements = (s: Synthesized) =>
      allPolicyStatements(s.template)
        .filter(({ logicalId }) => logicalId.startsWith('VerifyFunction'))
        .map(({ statement }) => statement);
    expect(verifyStatements(door)).toEqual(verifyStatements(synthPlusgate()));
  });

  test('its stage is throttled and access-logged; API Gateway errors are a 503 with Retry-After or a 404', () => {
    const [, stage] = only(doorOfType('AWS::ApiGateway::Stage'), 'the door Stage');
    expect(stage.Properties.AccessLogSetting.DestinationArn).toBeDefined();
    expect(stage.Properties.MethodSettings[0]).toMatchObject({
      ThrottlingRateLimit: 1000,
      ThrottlingBurstLimit: 2000,
      DataTraceEnabled: false,
      LoggingLevel: 'ERROR',
    });
    const responses = doorOfType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties);
    expect(responses.map((r) => `${r.ResponseType} ${r.StatusCode}`).sort()).toEqual([
      'DEFAULT_5XX 503',
      'MISSING_AUTHENTICATION_TOKEN 404',
      'THROTTLED 503',
    ]);
    for (const r of responses.filter((r) => r.StatusCode === '503'))
      expect(r.ResponseParameters['gatewayresponse.header.Retry-After']).toBe("'5'");
  });

  test('outputs the forward-auth URL and the regional target for DNS', () => {
    const outputs = door.template.toJSON().Outputs;
    const [domainId] = only(doorOfType('AWS::ApiGateway::DomainName'), 'the door DomainName');
    expect(outputs.ForwardAuthUrl.Value).toBe(`https://${DOOR_DOMAIN}/auth/<dialect>`);
    expect(outputs.ForwardAuthRegionalDomainName.Value).toEqual({ 'Fn::GetAtt': [domainId, 'RegionalDomainName'] });
    expect(outputs.ForwardAuthRegionalHostedZoneId.Value).toEqual({
      'Fn::GetAtt': [domainId, 'RegionalHostedZoneId'],
    });
  });

  test('a hosted zone holding the door domain gets its A alias record; one that does not, none', () => {
    const zone = { hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' };
    const inZone = synthPlusgate({ ...doorContext, ...zone }).template;
    const aliasNames = (t: Template) =>
      ofType(t.toJSON().Resources as Resources, 'AWS::Route53::RecordSet').map(([, r]) => r.Properties.Name);
    expect(aliasNames(inZone).sort()).toEqual(['auth.example.com.', `${DOOR_DOMAIN}.`]);
    const outside = synthPlusgate({ ...doorContext, ...zone, forwardAuthDomainName: 'forward-auth.example.org' });
    expect(aliasNames(outside.template)).toEqual(['auth.example.com.']);
  });

  test('cdk-nag AwsSolutions report no unacknowledged finding with the door on', () => {
    const { app, stack } = synthPlusgate(doorContext);
    expect(stack.forwardAuth).toBeDefined();
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(JSON.stringify(report.pluginReports ?? [])).not.toMatch(/AwsSolutions-/);
  });
});

describe('configuration the synth refuses', () => {
  test('only some of the three keys, naming the missing ones', () => {
    expect(() => synthPlusgate({ forwardAuthDomainName: DOOR_DOMAIN })).toThrow(
      /got only forwardAuthDomainName, missing forwardAuthCertificateArn and forwardAuthTruststorePath; expected all three/,
    );
    expect(() =>
      synthPlusgate({ ...doorContext, forwardAuthCertificateArn: undefined, forwardAuthTruststorePath: '' }),
    ).toThrow(/got only forwardAuthDomainName, missing forwardAuthCertificateArn and forwardAuthTruststorePath/);
    expect(() => synthPlusgate({ ...doorContext, forwardAuthDomainName: undefined })).toThrow(
      /got only forwardAuthCertificateArn and forwardAuthTruststorePath, missing forwardAuthDomainName/,
    );
  });

  test('a door truststore that contains a certificate of the device truststore', () => {
    const both = file('proxy-and-device.pem', proxyCaPem + readFileSync(DEVICE_TRUSTSTORE, 'utf8'));
    expect(() => synthPlusgate({ ...doorContext, forwardAuthTruststorePath: both })).toThrow(
      /forwardAuthTruststorePath: got ".*proxy-and-device\.pem", but it contains the certificate \(.*SHA-256 [0-9A-F:]{95}\) that truststorePath contains too; expected only your proxies' CA/,
    );
    // The device truststore itself, as the door's.
    expect(() => synthPlusgate({ ...doorContext, forwardAuthTruststorePath: DEVICE_TRUSTSTORE })).toThrow(
      /that truststorePath contains too/,
    );
  });

  test('a door truststore holding another certificate for a device CA key (re-issued, cross-signed)', async () => {
    const pki = await testPki();
    const reissued = await reissuedRoot(pki.root.cert, pki.root.key);
    expect(() =>
      synthPlusgate({
        ...doorContext,
        truststorePath: file('dev-chain.pem', pki.caChain),
        forwardAuthTruststorePath: file('reissued-root.pem', reissued),
      }),
    ).toThrow(/forwardAuthTruststorePath: .* has the key of a truststorePath certificate/);
  });

  test('the door on the edge domain', () => {
    expect(() => synthPlusgate({ ...doorContext, forwardAuthDomainName: 'auth.example.com' })).toThrow(
      /forwardAuthDomainName: got "auth\.example\.com"; expected a domain other than domainName/,
    );
  });

  test('a door truststore that fails the truststore checks, a bad domain, a certificate in another region', async () => {
    const pki = await testPki();
    expect(() =>
      synthPlusgate({
        ...doorContext,
        forwardAuthDomainName: 'https://forward-auth.example.com',
        forwardAuthCertificateArn:
          'arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111',
        forwardAuthTruststorePath: file('leaf.pem', pki.devices.alice.cert),
      }),
    ).toThrow(
      /forwardAuthDomainName: got "https:\/\/forward-auth.example.com"[\s\S]*forwardAuthCertificateArn: got ".*us-east-1.*"; expected a certificate in account 123456789012 and region eu-west-1[\s\S]*forwardAuthTruststorePath: got ".*leaf\.pem" .* is not a CA certificate/,
    );
  });
});

/** A new self-signed certificate for the key of `caPem`: another certificate, the same CA key. */
async function reissuedRoot(caPem: string, keyPem: string): Promise<string> {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, alg, true, ['sign']);
  const publicKey = await new x509.X509Certificate(caPem).publicKey.export(alg, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0badc0de',
    name: 'O=Someone,CN=Re-issued Root CA',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: { privateKey, publicKey },
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
  });
  return cert.toString('pem');
}
