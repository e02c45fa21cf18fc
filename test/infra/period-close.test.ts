/**
 * The PeriodClose construct in a test stack (fast synth: no bundling, no built-in template validation;
 * cdk-nag's AwsSolutions checks run as in the real app, so an unacknowledged finding fails here).
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '../../functions/config/names';
import { PeriodClose } from '../../lib/period-close';
import { defined, only } from '../support/only';
import { allPolicyStatements, asList } from './plusgate-fixture';

type Resources = Record<string, { Type: string; Properties: any; DeletionPolicy?: string }>;

function synth(billingAnchorDay = 1) {
  const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
  const table = new TableV2(stack, 'Table', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
  });
  const close = new PeriodClose(stack, 'PeriodClose', { table, billingAnchorDay, pricePerUserYear: 1.2 });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;
  return {
    stack,
    template,
    resources,
    close,
    tableId: idOf(table),
    bucketId: idOf(close.bucket),
    functionId: idOf(close.exporter.lambda),
    roleId: idOf(close.exporter.role),
  };
}

const s = synth(15);
const ofType = (type: string) => Object.entries(s.resources).filter(([, r]) => r.Type === type);
/** The logical id and resource of the one resource of `type` in `resources`; throws unless there is exactly one. */
const onlyOfType = (type: string, resources: Resources = s.resources) =>
  only(
    Object.entries(resources).filter(([, r]) => r.Type === type),
    type,
  );

describe('period close: the reports bucket', () => {
  test('is versioned, SSE-S3 encrypted, blocks all public access and is retained', () => {
    const [id, bucket] = onlyOfType('AWS::S3::Bucket');
    expect(id).toBe(s.bucketId);
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
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
  });

  test('refuses requests without TLS, and TLS below 1.2', () => {
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: s.bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  test('grants nobody else anything in its bucket policy', () => {
    const [, policy] = onlyOfType('AWS::S3::BucketPolicy');
    expect(
      asList(policy.Properties.PolicyDocument.Statement).every((st: { Effect: string }) => st.Effect === 'Deny'),
    ).toBe(true);
  });
});

describe('period close: the function', () => {
  const fn = defined(s.resources[s.functionId], `the function ${s.functionId}`);

  test('runs on nodejs22.x arm64 from the period-close handler, with the billing settings and the bucket name', () => {
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 900,
    });
    expect(fn.Properties.Environment.Variables).toMatchObject({
      [ENV.TABLE_NAME]: { Ref: s.tableId },
      [ENV.BILLING_ANCHOR_DAY]: '15',
      [ENV.PRICE_PER_USER_YEAR]: '1.2',
      [ENV.REPORTS_BUCKET]: { Ref: s.bucketId },
    });
  });

  test('may only Query the table and put objects under reports/ (plus its own logs); no "*" resource', () => {
    const statements = allPolicyStatements(s.template).map(({ statement }) => statement);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: expect.anything() },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: [{ 'Fn::GetAtt': [s.tableId, 'Arn'] }] },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [s.bucketId, 'Arn'] }, '/reports/*']] },
      },
    ]);
    for (const st of statements) expect(asList(st.Resource as unknown)).not.toContain('*');
    const actions = statements.flatMap((st) => asList(st.Action as string | string[]));
    expect(
      actions.filter((a) =>
        /^s3:(Get|List|Delete)|^dynamodb:(Scan|PutItem|UpdateItem|DeleteItem|GetItem|BatchWriteItem)/.test(a),
      ),
    ).toEqual([]);
  });

  test('has a role of its own that only Lambda assumes, with no managed policies', () => {
    const role = defined(s.resources[s.roleId], `the role ${s.roleId}`);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('period close: the schedule', () => {
  test('runs at 00:30 UTC on the billing anchor day, targeting the function with retries', () => {
    const [, rule] = onlyOfType('AWS::Events::Rule');
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'cron(30 0 15 * ? *)', State: 'ENABLED' });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [s.functionId, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21600 },
      }),
    ]);
  });

  test('is the only thing allowed to invoke the function', () => {
    const permissions = ofType('AWS::Lambda::Permission').map(([, p]) => p.Properties);
    expect(permissions).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [s.functionId, 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [onlyOfType('AWS::Events::Rule')[0], 'Arn'] },
      },
    ]);
  });

  test('follows the calendar month by default', () => {
    const [, rule] = onlyOfType('AWS::Events::Rule', synth(1).resources);
    expect(rule.Properties.ScheduleExpression).toBe('cron(30 0 1 * ? *)');
  });

  test('refuses an anchor day that is not in every month', () => {
    expect(() => synth(29)).toThrow(/billingAnchorDay must be a whole number from 1 to 28, got 29/);
  });

  test('raises an alarm when an export fails', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });
});
