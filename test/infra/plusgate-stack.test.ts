/**
 * Security invariants of the synthesized stack, one assertion each (design.md, "Security invariants").
 * Every synth here also runs the cdk-nag AwsSolutions checks: an unacknowledged finding fails it.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsCustomResource } from 'aws-cdk-lib/custom-resources';
import { EDGE_ROUTES, ENV } from '../../functions/config/names';
import { SETTINGS } from '../../functions/config/settings';
import { addPlusgate } from '../../lib/plusgate-app';
import type { PlusgateStack } from '../../lib/plusgate-stack';
import { readTruststore } from '../../lib/truststore-pem';
import { defined, only as onlyOf } from '../support/only';
import { allPolicyStatements, asList, CDK_JSON_CONTEXT, REPO_ROOT, synthPlusgate } from './plusgate-fixture';

type Resources = Record<string, { Type: string; Properties: any; DeletionPolicy?: string; DependsOn?: string[] }>;

const { app, stack, template } = synthPlusgate();
const resources = template.toJSON().Resources as Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
/** Resources of the edge API only (the service API has its own tests in service-api.test.ts). */
const edgeOfType = (type: string) => ofType(type).filter(([id]) => id.startsWith('EdgeApi'));
const edgeOnly = (type: string) => onlyOf(edgeOfType(type), `edge API ${type}`);
const only = (type: string) => onlyOf(ofType(type), type);

/** The AwsCustomResource provider (writes the truststore object) is CDK's, not a plusgate function. */
const PROVIDER_LOGICAL_ID_PREFIX = `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`;
const plusgateFunctions = ofType('AWS::Lambda::Function').filter(([id]) => !id.startsWith(PROVIDER_LOGICAL_ID_PREFIX));
const [edgeFunctionId, edgeFunction] = defined(
  plusgateFunctions.find(([id]) => id.startsWith('EdgeFunction')),
  'an EdgeFunction* Lambda function',
);

const truststore = readTruststore(path.resolve(REPO_ROOT, String(CDK_JSON_CONTEXT.truststorePath)));
if (!truststore.ok) throw new Error('the example truststore in cdk.json must be valid');
const truststoreKey = `truststore/${truststore.truststore.sha256}.pem`;

describe('edge API: mutual TLS is the only way in', () => {
  const [, domain] = only('AWS::ApiGateway::DomainName');
  const [bucketId, bucket] = onlyOf(
    ofType('AWS::S3::Bucket').filter(([id]) => id.startsWith('EdgeTruststore')),
    'EdgeTruststore* bucket',
  );
  const [uploadId, upload] = only('Custom::PlusgateTruststore');

  test('the custom domain requires a client certificate from the truststore at a content-hashed key, pinned to the uploaded version', () => {
    expect(domain.Properties.MutualTlsAuthentication).toEqual({
      TruststoreUri: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, `/${truststoreKey}`]] },
      TruststoreVersion: { 'Fn::GetAtt': [uploadId, 'VersionId'] },
    });
  });

  test('the uploaded object is exactly the checked truststore PEM under its SHA-256 key', () => {
    // Create is Fn::Join of JSON text around the bucket's Ref: put a placeholder there and parse it.
    const parts: unknown[] = upload.Properties.Create['Fn::Join'][1];
    const sdkCall = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(sdkCall).toMatchObject({
      service: 'S3',
      action: 'PutObject',
      parameters: { Key: truststoreKey, Body: truststore.truststore.pem },
    });
    expect(upload.Properties.Update).toEqual(upload.Properties.Create);
    expect(upload.Properties.Delete).toBeUndefined(); // old truststores stay for rollbacks
  });

  test('the truststore bucket is versioned, encrypted, not public and retained', () => {
    expect(bucket.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
  });

  test('the truststore bucket refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('the truststore writer may put only that one object', () => {
    // S3 statements on the truststore bucket (the period-close export bucket has its own test).
    const s3 = allPolicyStatements(template).filter(
      ({ statement }) =>
        asList(statement.Action as string[]).some((a) => a.startsWith('s3:')) &&
        JSON.stringify(statement.Resource).includes(bucketId),
    );
    expect(s3.map(({ statement }) => statement)).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${truststoreKey}`]] },
      },
    ]);
  });

  test('the domain uses the TLS_1_2 security policy', () => {
    expect(domain.Properties.SecurityPolicy).toBe('TLS_1_2');
  });

  test('the API and its domain are REGIONAL', () => {
    expect(edgeOnly('AWS::ApiGateway::RestApi')[1].Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
    expect(domain.Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
  });

  test('the execute-api endpoint is disabled and not advertised', () => {
    expect(edgeOnly('AWS::ApiGateway::RestApi')[1].Properties.DisableExecuteApiEndpoint).toBe(true);
    // Outputs may name the IAM-only service API's execute-api URL and ARNs; none points at the edge API's.
    const [edgeApiId] = edgeOnly('AWS::ApiGateway::RestApi');
    for (const [name, output] of Object.entries(template.toJSON().Outputs as Record<string, unknown>)) {
      const text = JSON.stringify(output);
      if (text.includes('execute-api')) expect([name, text.includes(edgeApiId)]).toEqual([name, false]);
    }
  });

  test('the domain serves the API at its root', () => {
    const [, mapping] = only('AWS::ApiGateway::BasePathMapping');
    expect(mapping.Properties).toMatchObject({ RestApiId: { Ref: edgeOnly('AWS::ApiGateway::RestApi')[0] } });
    expect(mapping.Properties.BasePath).toBeUndefined();
  });

  test('exactly GET /signin, /return and /whoami exist, each proxied to the one edge function', () => {
    const paths = edgeOfType('AWS::ApiGateway::Resource').map(([, r]) => `/${r.Properties.PathPart}`);
    expect(paths.sort()).toEqual(Object.values(EDGE_ROUTES).sort());
    const methods = edgeOfType('AWS::ApiGateway::Method').map(([, m]) => m.Properties);
    expect(methods).toHaveLength(3);
    for (const m of methods) {
      expect(m.HttpMethod).toBe('GET');
      expect(m.AuthorizationType).toBe('NONE'); // mTLS is the gate
      expect(m.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(m.Integration.Uri)).toContain(`"Fn::GetAtt":["${edgeFunctionId}","Arn"]`);
    }
  });

  test('API Gateway may invoke the edge function only for those three routes of its own stage', () => {
    const sources = edgeOfType('AWS::Lambda::Permission').map(([, p]) => JSON.stringify(p.Properties.SourceArn));
    expect(sources).toHaveLength(3);
    for (const route of Object.values(EDGE_ROUTES))
      expect(sources.some((s) => s.endsWith(`/GET${route}"]]}`))).toBe(true);
    expect(sources.join()).not.toContain('test-invoke-stage');
  });

  test('the stage writes JSON access logs (with the client certificate, without query strings) to a log group with retention', () => {
    const [, stage] = edgeOnly('AWS::ApiGateway::Stage');
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      clientCertSerial: '$context.identity.clientCert.serialNumber',
    });
    expect(stage.Properties.AccessLogSetting.Format).not.toMatch(/querystring|\$context\.path\b/i);
    const logGroupId = defined(
      JSON.stringify(stage.Properties.AccessLogSetting.DestinationArn).match(/"Ref":"([^"]+)"/)?.[1],
      'a Ref in the access log destination',
    );
    expect(defined(resources[logGroupId], logGroupId).Properties.RetentionInDays).toBeGreaterThan(0);
  });

  test('the stage logs errors and throttles by default, and never logs bodies', () => {
    const [, stage] = edgeOnly('AWS::ApiGateway::Stage');
    expect(stage.Properties.MethodSettings).toEqual([
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
      }),
    ]);
  });

  test('no DNS record unless a hosted zone is configured', () => {
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
  });
});

describe('functions', () => {
  test("every plusgate function runs nodejs22.x on arm64 (the only other function is CDK's truststore writer)", () => {
    expect(plusgateFunctions.length).toBeGreaterThan(0);
    for (const [id, fn] of plusgateFunctions) {
      // Behind API Gateway: under its 29 s limit. Period close runs from a schedule: up to Lambda's 15 minutes;
      // the renewal and the billable-users count run from schedules too: a minute each.
      const timeout = id.startsWith('PeriodClose')
        ? 900
        : id.startsWith('ApiCertRenewal') || id.startsWith('BillableUsers')
          ? 60
          : 25;
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Timeout: timeout,
        MemorySize: 512,
      });
    }
    expect(ofType('AWS::Lambda::Function')).toHaveLength(plusgateFunctions.length + 1);
  });

  test('every function logs to its own log group with a retention', () => {
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref;
      expect(resources[ref]?.Type).toBe('AWS::Logs::LogGroup');
      expect(resources[ref]?.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });

  test("no role carries an AWS managed policy except API Gateway's account logging role", () => {
    const withManaged = ofType('AWS::IAM::Role').filter(([, r]) => r.Properties.ManagedPolicyArns);
    expect(withManaged.map(([id]) => id)).toEqual([expect.stringMatching(/CloudWatchRole/)]);
  });

  test('the edge function gets every setting by name from ENV, with the configured values', () => {
    expect(edgeFunction.Properties.Environment.Variables).toEqual({
      [ENV.TABLE_NAME]: { Ref: only('AWS::DynamoDB::GlobalTable')[0] },
      [ENV.API_CERT_SECRET]: CDK_JSON_CONTEXT.apiCertSecretName,
      [ENV.STATE_KEY_SECRET]: { Ref: only('AWS::SecretsManager::Secret')[0] },
      [ENV.IDENTITY_PLUS_API_URL]: 'https://api.identity.plus/v1',
      [ENV.IDENTITY_PLUS_SIGNON_URL]: 'https://signon.identity.plus',
      [ENV.INTENT_TYPE]: 'discover',
      [ENV.ALLOWED_ROLES]: '[]',
      [ENV.ALLOWED_RETURN_ORIGINS]: '[]',
      [ENV.BILLING_ANCHOR_DAY]: '1',
      [ENV.DECISION_CACHE_SECONDS]: '60',
      [SETTINGS.negativeCacheSeconds.env]: '15',
      [SETTINGS.intentIntervalSeconds.env]: '10',
      [ENV.STALE_IF_ERROR_SECONDS]: '0',
      [ENV.PUBLIC_ORIGIN]: `https://${CDK_JSON_CONTEXT.domainName}`,
    });
  });

  test('each function gets the settings it reads and no others', () => {
    const settingVariables = new Set<string>(Object.values(SETTINGS).map((setting) => setting.env));
    const settingsOf = (prefix: string) =>
      Object.keys(
        defined(
          plusgateFunctions.find(([id]) => id.startsWith(prefix)),
          `a ${prefix}* function`,
        )[1].Properties.Environment.Variables,
      )
        .filter((v) => settingVariables.has(v))
        .sort();
    const decision = [
      ENV.ALLOWED_ROLES,
      ENV.ALLOWED_RETURN_ORIGINS,
      ENV.BILLING_ANCHOR_DAY,
      ENV.DECISION_CACHE_SECONDS,
      SETTINGS.negativeCacheSeconds.env,
      SETTINGS.intentIntervalSeconds.env,
      ENV.STALE_IF_ERROR_SECONDS,
      ENV.IDENTITY_PLUS_API_URL,
      ENV.IDENTITY_PLUS_SIGNON_URL,
      ENV.INTENT_TYPE,
    ].sort();
    expect(settingsOf('EdgeFunction')).toEqual(decision);
    expect(settingsOf('VerifyFunction')).toEqual(decision);
    expect(settingsOf('AuthorizerFunction')).toEqual(decision);
    expect(settingsOf('ReportFunction')).toEqual([ENV.BILLING_ANCHOR_DAY, ENV.PRICE_PER_USER_YEAR].sort());
    expect(settingsOf('PeriodClose')).toEqual([ENV.BILLING_ANCHOR_DAY, ENV.PRICE_PER_USER_YEAR].sort());
    expect(settingsOf('ApiCertRenewal')).toEqual(
      [SETTINGS.identityPlusSelfAuthorityUrl.env, SETTINGS.apiCertRenewAtFraction.env].sort(),
    );
    expect(settingsOf('BillableUsers')).toEqual([ENV.BILLING_ANCHOR_DAY]);
  });

  test('no secret value is in any function environment: secrets travel as a name or an ARN', () => {
    const [stateKeyId] = only('AWS::SecretsManager::Secret');
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const env = JSON.stringify(fn.Properties.Environment ?? {});
      expect(env).not.toMatch(/resolve:secretsmanager|SecretString|PRIVATE KEY|"p12"|password/i);
      // The generated key is referenced only as a whole (Ref = its ARN), never through an attribute of its value.
      expect(env).not.toMatch(new RegExp(`"Fn::GetAtt":\\["${stateKeyId}"`));
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/\{\{resolve:secretsmanager/);
  });
});

describe('least privilege', () => {
  const statements = allPolicyStatements(template);

  test('no IAM statement grants DynamoDB or Secrets Manager actions on "*"', () => {
    const scoped = statements.filter(({ statement }) =>
      asList(statement.Action as string[]).some((a) => /^(dynamodb|secretsmanager):/.test(a)),
    );
    expect(scoped.length).toBeGreaterThan(0);
    for (const { statement } of scoped) {
      for (const resource of asList(statement.Resource)) expect(resource).not.toBe('*');
      expect(asList(statement.Action as string[]).every((a) => !a.endsWith('*'))).toBe(true);
    }
  });

  test('the edge role may only write its logs, UpdateItem the table and read the two secrets', () => {
    const roleRef = edgeFunction.Properties.Role['Fn::GetAtt'][0];
    const policies = ofType('AWS::IAM::Policy').filter(([, p]) =>
      p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleRef),
    );
    expect(policies).toHaveLength(1);
    const [, policy] = onlyOf(policies, 'policy of the edge role');
    const [tableId] = only('AWS::DynamoDB::GlobalTable');
    const [stateKeyId] = only('AWS::SecretsManager::Secret');
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [edgeFunction.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] },
      },
      { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } },
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: [
          `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${CDK_JSON_CONTEXT.apiCertSecretName}-??????`,
          { Ref: stateKeyId },
        ],
      },
    ]);
  });
});

describe('least privilege of the scheduled operations functions', () => {
  const apiCertArn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${CDK_JSON_CONTEXT.apiCertSecretName}-??????`;
  /** The statements of the one policy attached to the role of the function whose logical id starts with `prefix`. */
  const statementsOf = (prefix: string) => {
    const [, fn] = defined(
      plusgateFunctions.find(([id]) => id.startsWith(prefix)),
      `a ${prefix}* function`,
    );
    const roleRef = fn.Properties.Role['Fn::GetAtt'][0];
    const [, policy] = onlyOf(
      ofType('AWS::IAM::Policy').filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleRef)),
      `policy of the ${prefix} role`,
    );
    const logs = {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [fn.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] },
    };
    return { statements: policy.Properties.PolicyDocument.Statement as unknown[], logs };
  };

  test('the renewal role may read the API certificate secret and put a new version of it: nothing else', () => {
    const { statements: renewal, logs } = statementsOf('ApiCertRenewal');
    expect(renewal).toEqual([
      logs,
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: apiCertArn,
      },
      { Effect: 'Allow', Action: 'secretsmanager:PutSecretValue', Resource: apiCertArn },
    ]);
  });

  test('only the renewal role may write a secret, and only with PutSecretValue', () => {
    const writes = allPolicyStatements(template).filter(({ statement }) =>
      asList(statement.Action as string[]).some(
        (a) =>
          a.startsWith('secretsmanager:') &&
          !['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'].includes(a),
      ),
    );
    expect(writes.map(({ logicalId, statement }) => [logicalId.replace(/[0-9A-F]{8}$/, ''), statement.Action])).toEqual(
      [['ApiCertRenewalFunctionRoleDefaultPolicy', 'secretsmanager:PutSecretValue']],
    );
  });

  test('the billable-users role may only Query the table', () => {
    const { statements: gauge, logs } = statementsOf('BillableUsers');
    expect(gauge).toEqual([
      logs,
      {
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::GetAtt': [only('AWS::DynamoDB::GlobalTable')[0], 'Arn'] },
      },
    ]);
  });
});

describe('records table', () => {
  const [, table] = only('AWS::DynamoDB::GlobalTable');

  test('point-in-time recovery is on', () => {
    expect(table.Properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  test('items expire through TTL on expiresAt', () => {
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });

  test('the ledger survives mistakes: deletion protection and RETAIN', () => {
    expect(table.Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
  });

  test('on-demand, keyed by pk/sk strings, encrypted with the AWS-managed key', () => {
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
  });
});

describe('secrets', () => {
  test('the state key is generated by Secrets Manager: 64 characters, no punctuation', () => {
    expect(only('AWS::SecretsManager::Secret')[1].Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
  });

  test('the API certificate secret is not created by the stack (its key never passes through CloudFormation)', () => {
    expect(ofType('AWS::SecretsManager::Secret')).toHaveLength(1);
  });
});

describe('cdk-nag', () => {
  test('the AwsSolutions checks report no unacknowledged finding', () => {
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
    const findings = JSON.stringify(report.pluginReports ?? []);
    expect(findings).not.toMatch(/AwsSolutions-/);
  });

  test('with the edge WAF and the service API resource policy on, they report no unacknowledged finding either', () => {
    const { app: hardened } = synthPlusgate({
      wafRateLimitPer5Min: 1000,
      serviceCallerArns: ['arn:aws:iam::123456789012:role/orders-service'],
      reportReaderArns: ['arn:aws:iam::123456789012:root'],
    });
    const assembly = hardened.synth();
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(JSON.stringify(report.pluginReports ?? [])).not.toMatch(/AwsSolutions-/);
  });

  test('an unacknowledged finding fails the synth (the checks are live)', () => {
    const probe = synthPlusgateWithoutTemplate();
    new Bucket(probe.stack, 'UnloggedBucket');
    expect(() => probe.app.synth()).toThrow(/AwsSolutions-S1|server access logs/);
  });

  test('the stack deploys to the account and region of the domain certificate', () => {
    expect(stack.account).toBe('123456789012');
    expect(stack.region).toBe('eu-west-1');
  });
});

describe('admission policy', () => {
  test('the synth fails unless someone decided who may sign in (allowedRoles or allowAnyIdentityPlusUser)', () => {
    expect(() => synthPlusgate({ allowAnyIdentityPlusUser: undefined })).toThrow(
      /allowedRoles and allowAnyIdentityPlusUser: got allowedRoles \[\] and allowAnyIdentityPlusUser unset; expected a decision on who may sign in/,
    );
    expect(() => synthPlusgate({ allowedRoles: ['member'] })).toThrow(/contradictory|expected one of them/);
    expect(() => synthPlusgate({ allowedRoles: ['member'], allowAnyIdentityPlusUser: false })).not.toThrow();
  });
});

describe('optional configuration', () => {
  test('a hosted zone gets an A alias record to the regional domain name', () => {
    const { template: t } = synthPlusgate({ hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' });
    const [domainId] = defined(
      Object.entries(t.toJSON().Resources as Resources).find(([, r]) => r.Type === 'AWS::ApiGateway::DomainName'),
      'an AWS::ApiGateway::DomainName',
    );
    t.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'auth.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      AliasTarget: {
        DNSName: { 'Fn::GetAtt': [domainId, 'RegionalDomainName'] },
        HostedZoneId: { 'Fn::GetAtt': [domainId, 'RegionalHostedZoneId'] },
      },
    });
  });

  test('an ownership verification certificate is set on the domain', () => {
    const arn = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-1111-1111-1111-111111111111';
    const { template: t } = synthPlusgate({ ownershipVerificationCertificateArn: arn });
    t.hasResourceProperties('AWS::ApiGateway::DomainName', { OwnershipVerificationCertificateArn: arn });
  });

  test('-c values given as strings reach the function as parsed, normalised values', () => {
    const { template: t } = synthPlusgate({
      allowAnyIdentityPlusUser: 'false',
      allowedRoles: '["org. administrator","member"]',
      allowedReturnOrigins: '["https://app.example.com"]',
      billingAnchorDay: '15',
      decisionCacheSeconds: '0',
      intentType: 'validate',
      identityPlusService: 'billing.example.com',
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.ALLOWED_ROLES]: '["org. administrator","member"]',
          [ENV.ALLOWED_RETURN_ORIGINS]: '["https://app.example.com"]',
          [ENV.BILLING_ANCHOR_DAY]: '15',
          [ENV.DECISION_CACHE_SECONDS]: '0',
          [ENV.INTENT_TYPE]: 'validate',
          [SETTINGS.identityPlusService.env]: 'billing.example.com',
        }),
      },
    });
  });
});

/** A second app for the negative cdk-nag control (Template.fromStack would synthesize it too early). */
function synthPlusgateWithoutTemplate(): { app: App; stack: PlusgateStack } {
  const probeApp = new App({
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  return { app: probeApp, stack: addPlusgate(probeApp, { baseDir: REPO_ROOT }) };
}
