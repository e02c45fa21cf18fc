/**
 * Day-2 operations in the synthesized stack: every alarm with the metric it watches and where it sends, the
 * alarm topic, the dashboard, the renewal and billable-users schedules; and the constructs' own checks.
 * Every synth here also runs cdk-nag's AwsSolutions checks (an unacknowledged finding fails it).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Alarm, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { METRIC, METRICS_NAMESPACE } from '../../functions/config/metrics';
import { ApiCertRenewal } from '../../lib/api-cert-renewal';
import { BillableUsersGauge } from '../../lib/billable-users-gauge';
import { Monitoring, type MonitoringProps } from '../../lib/monitoring';
import { defined, only } from '../support/only';
import { synthPlusgate } from './plusgate-fixture';

type Resource = { Type: string; Properties: any };
type Resources = Record<string, Resource>;

const RUNBOOK = 'README, Operating plusgate';
const BUDGET = 2500;
const EMAIL = 'oncall@example.com';

function synthesized(overrides: Record<string, unknown> = {}) {
  const s = synthPlusgate(overrides);
  const resources = s.template.toJSON().Resources as Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  /** Logical id of the one resource of `type` whose id starts with `prefix`. */
  const idOf = (type: string, prefix: string) =>
    only(
      ofType(type).filter(([id]) => id.startsWith(prefix)),
      `${type} ${prefix}*`,
    )[0];
  const alarms = new Map(ofType('AWS::CloudWatch::Alarm').map(([, r]) => [String(r.Properties.AlarmName), r]));
  return { ...s, resources, ofType, idOf, alarms, outputs: s.template.toJSON().Outputs as Record<string, any> };
}

/** `x` with every token replaced by its JSON: CloudFormation text as a plain string, for `toContain`. */
function text(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && 'Fn::Join' in x) {
    const [separator, parts] = (x as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(text).join(separator);
  }
  return JSON.stringify(x);
}

const full = synthesized({ billableUsersAlarmThreshold: BUDGET, alarmEmail: EMAIL });
const [topicId] = only(full.ofType('AWS::SNS::Topic'), 'the alarm topic');
const alarm = (name: string) => defined(full.alarms.get(`Plusgate-${name}`), `the alarm Plusgate-${name}`).Properties;
const plusgateDimensions = [{ Name: 'service', Value: 'plusgate' }];

describe('alarms on the plusgate metrics (functions/config/metrics.ts)', () => {
  test.each([
    // name, metric, statistic, period (s), comparison, threshold, evaluation periods, datapoints, missing data
    [
      'ApiCertExpiring',
      METRIC.API_CERT_DAYS_LEFT,
      'Maximum',
      93_600,
      'LessThanThreshold',
      21,
      1,
      undefined,
      'breaching',
    ],
    [
      'ApiCertRenewalFailed',
      METRIC.API_CERT_RENEWAL_FAILURES,
      'Sum',
      86_400,
      'GreaterThanOrEqualToThreshold',
      1,
      1,
      undefined,
      'notBreaching',
    ],
    [
      'IdentityPlusUnavailable',
      METRIC.IDENTITY_PLUS_FAILURES,
      'Sum',
      60,
      'GreaterThanOrEqualToThreshold',
      1,
      5,
      3,
      'notBreaching',
    ],
    [
      'LedgerWriteFailures',
      METRIC.LEDGER_WRITE_FAILURES,
      'Sum',
      300,
      'GreaterThanOrEqualToThreshold',
      1,
      1,
      undefined,
      'notBreaching',
    ],
    [
      'DegradedAllows',
      METRIC.DEGRADED_ALLOWS,
      'Sum',
      300,
      'GreaterThanOrEqualToThreshold',
      1,
      1,
      undefined,
      'notBreaching',
    ],
    [
      'BillableUsersAboveThreshold',
      METRIC.BILLABLE_USERS_THIS_PERIOD,
      'Maximum',
      3600,
      'GreaterThanThreshold',
      BUDGET,
      1,
      undefined,
      'ignore',
    ],
  ] as const)(
    '%s watches %s (%s over %i s, %s %i, %i periods)',
    (name, metricName, statistic, period, comparison, threshold, evaluationPeriods, datapoints, missing) => {
      expect(alarm(name)).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        MetricName: metricName,
        Dimensions: plusgateDimensions,
        Statistic: statistic,
        Period: period,
        ComparisonOperator: comparison,
        Threshold: threshold,
        EvaluationPeriods: evaluationPeriods,
        TreatMissingData: missing,
      });
      expect(alarm(name).DatapointsToAlarm).toBe(datapoints);
    },
  );

  test('the API certificate window holds one daily reading with slack, so the hours between runs are never missing', () => {
    // 26 h: a run at 04:00 is still in the window when the next one is up to two hours late.
    expect(alarm('ApiCertExpiring').Period).toBeGreaterThan(86_400);
    expect(alarm('ApiCertExpiring').Period % 60).toBe(0);
    expect(alarm('ApiCertExpiring').Period * alarm('ApiCertExpiring').EvaluationPeriods).toBeLessThanOrEqual(604_800);
  });

  test('apiCertExpiryAlarmDays sets the API certificate threshold', () => {
    const { alarms } = synthesized({ apiCertExpiryAlarmDays: '45' });
    expect(defined(alarms.get('Plusgate-ApiCertExpiring'), 'the alarm').Properties.Threshold).toBe(45);
  });

  test('no budget alarm without billableUsersAlarmThreshold', () => {
    const { alarms } = synthesized();
    expect(alarms.has('Plusgate-BillableUsersAboveThreshold')).toBe(false);
    expect(alarms.has('Plusgate-ApiCertExpiring')).toBe(true);
  });
});

describe('alarms on the functions, the table and the APIs', () => {
  const functionIds = {
    Edge: full.idOf('AWS::Lambda::Function', 'EdgeFunction'),
    Verify: full.idOf('AWS::Lambda::Function', 'VerifyFunction'),
    Authorizer: full.idOf('AWS::Lambda::Function', 'AuthorizerFunction'),
    Report: full.idOf('AWS::Lambda::Function', 'ReportFunction'),
    PeriodClose: full.idOf('AWS::Lambda::Function', 'PeriodCloseFunction'),
    ApiCertRenewal: full.idOf('AWS::Lambda::Function', 'ApiCertRenewalFunction'),
    BillableUsers: full.idOf('AWS::Lambda::Function', 'BillableUsersFunction'),
  };
  const lambdaAlarm = (functionId: string, metricName: string) => ({
    Namespace: 'AWS/Lambda',
    MetricName: metricName,
    Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId } }],
    Statistic: 'Sum',
    Period: 300,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    Threshold: 1,
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
  });

  test('every plusgate function has a throttles alarm that names it', () => {
    for (const [name, id] of Object.entries(functionIds)) {
      expect(alarm(`${name}Throttles`)).toMatchObject(lambdaAlarm(id, 'Throttles'));
      expect(text(alarm(`${name}Throttles`).AlarmDescription)).toContain(`the ${name} function`);
    }
  });

  test('every plusgate function has an errors alarm that names it; period close keeps its own, now notifying the topic', () => {
    for (const [name, id] of Object.entries(functionIds)) {
      if (name === 'PeriodClose') continue;
      expect(alarm(`${name}Errors`)).toMatchObject(lambdaAlarm(id, 'Errors'));
      expect(text(alarm(`${name}Errors`).AlarmDescription)).toContain(`The ${name} function failed`);
    }
    expect(full.alarms.has('Plusgate-PeriodCloseErrors')).toBe(false);
    const [, failures] = only(
      full.ofType('AWS::CloudWatch::Alarm').filter(([id]) => id.startsWith('PeriodCloseFailures')),
      'the period-close failures alarm',
    );
    expect(failures.Properties).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionIds.PeriodClose } }],
      AlarmActions: [{ Ref: topicId }],
    });
  });

  test('the ledger table alarms on read and write throttle events', () => {
    const tableId = only(full.ofType('AWS::DynamoDB::GlobalTable'), 'table')[0];
    const table = alarm('TableThrottles');
    expect(table).toMatchObject({
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
    });
    const metrics = table.Metrics as Array<{ Id: string; Expression?: string; MetricStat?: any; ReturnData: boolean }>;
    expect(metrics.filter((m) => m.ReturnData)).toEqual([
      expect.objectContaining({ Expression: 'FILL(reads, 0) + FILL(writes, 0)' }),
    ]);
    for (const [id, name] of [
      ['reads', 'ReadThrottleEvents'],
      ['writes', 'WriteThrottleEvents'],
    ]) {
      expect(metrics.find((m) => m.Id === id)?.MetricStat).toEqual({
        Metric: {
          Namespace: 'AWS/DynamoDB',
          MetricName: name,
          Dimensions: [{ Name: 'TableName', Value: { Ref: tableId } }],
        },
        Period: 300,
        Stat: 'Sum',
      });
    }
  });

  test.each([
    ['Edge', 'plusgate-edge', 'EdgeApiDeploymentStage'],
    ['Service', 'plusgate-service', 'ServiceApiDeploymentStage'],
  ])('the %s API alarms on 5 or more 5XXError in 5 minutes of its stage', (name, apiName, stagePrefix) => {
    expect(alarm(`${name}Api5xx`)).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [
        { Name: 'ApiName', Value: apiName },
        { Name: 'Stage', Value: { Ref: full.idOf('AWS::ApiGateway::Stage', stagePrefix) } },
      ],
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 5,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });
});

describe('where the alarms go', () => {
  test('every alarm notifies the topic; every one but the budget and period close also says when it is over', () => {
    const all = full.ofType('AWS::CloudWatch::Alarm');
    // 5 on plusgate metrics + budget + 7 throttles + 6 errors + table + 2 APIs + period close
    expect(all).toHaveLength(23);
    for (const [id, { Properties: p }] of all) {
      expect([id, p.AlarmActions]).toEqual([id, [{ Ref: topicId }]]);
      const notice = p.AlarmName === 'Plusgate-BillableUsersAboveThreshold' || id.startsWith('PeriodCloseFailures');
      expect([id, p.OKActions]).toEqual([id, notice ? undefined : [{ Ref: topicId }]]);
    }
  });

  test('every description says what it means and where to read on, within CloudWatch’s 1024 characters', () => {
    for (const [id, { Properties: p }] of full.ofType('AWS::CloudWatch::Alarm')) {
      const description = text(p.AlarmDescription);
      // A resolved log group or table name is at most ~100 characters; the JSON of its token is shorter.
      expect([id, description.length + 300 <= 1024]).toEqual([id, true]);
      if (!id.startsWith('PeriodCloseFailures'))
        expect([id, description]).toEqual([id, expect.stringContaining(RUNBOOK)]);
    }
    expect(text(alarm('ApiCertExpiring').AlarmDescription)).toContain(
      'npm run renew-api-cert -- --secret-name plusgate/identity-plus-api-cert --region eu-west-1 --force',
    );
    const renewalFunction = full.idOf('AWS::Lambda::Function', 'ApiCertRenewalFunction');
    expect(text(alarm('ApiCertExpiring').AlarmDescription)).toContain(
      `aws lambda invoke --function-name {"Ref":"${renewalFunction}"} --cli-binary-format raw-in-base64-out --payload '{"force":true}'`,
    );
    const renewalLogs = full.idOf('AWS::Logs::LogGroup', 'ApiCertRenewalFunctionLogs');
    expect(text(alarm('ApiCertRenewalFailed').AlarmDescription)).toContain(`aws logs tail {"Ref":"${renewalLogs}"}`);
    expect(text(alarm('IdentityPlusUnavailable').AlarmDescription)).toContain(
      JSON.stringify({ Ref: full.idOf('AWS::Logs::LogGroup', 'EdgeFunctionLogs') }),
    );
    expect(text(alarm('EdgeApi5xx').AlarmDescription)).toContain(
      JSON.stringify({ Ref: full.idOf('AWS::Logs::LogGroup', 'EdgeAccessLogs') }),
    );
  });

  test('the topic is encrypted with its own rotated key that CloudWatch may use, and refuses publishing without TLS', () => {
    const [keyId, key] = only(full.ofType('AWS::KMS::Key'), 'the topic key');
    expect(full.resources[topicId]?.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
    const [, policy] = only(full.ofType('AWS::SNS::TopicPolicy'), 'the topic policy');
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: {
          StringEquals: { 'aws:SourceAccount': '123456789012' },
          ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' },
        },
      }),
    ]);
  });

  test('alarmEmail subscribes that address; without it nobody is subscribed', () => {
    const [, subscription] = only(full.ofType('AWS::SNS::Subscription'), 'the email subscription');
    expect(subscription.Properties).toEqual({ Protocol: 'email', Endpoint: EMAIL, TopicArn: { Ref: topicId } });
    expect(synthesized().ofType('AWS::SNS::Subscription')).toEqual([]);
  });

  test('alarmTopicArn sends every alarm to that topic instead, and the stack creates none', () => {
    const arn = 'arn:aws:sns:eu-west-1:123456789012:oncall';
    const own = synthesized({ alarmTopicArn: arn });
    expect(own.ofType('AWS::SNS::Topic')).toEqual([]);
    expect(own.ofType('AWS::KMS::Key')).toEqual([]);
    for (const [id, { Properties: p }] of own.ofType('AWS::CloudWatch::Alarm')) {
      expect([id, p.AlarmActions]).toEqual([id, [arn]]);
    }
    expect(own.outputs.AlarmTopicArn.Value).toBe(arn);
  });

  test('the stack outputs the topic ARN', () => {
    expect(full.outputs.AlarmTopicArn.Value).toEqual({ Ref: topicId });
  });
});

describe('the dashboard', () => {
  const [, dashboard] = only(full.ofType('AWS::CloudWatch::Dashboard'), 'the dashboard');
  const body = text(dashboard.Properties.DashboardBody);

  test('is named plusgate-<stack> and its console URL is an output', () => {
    expect(dashboard.Properties.DashboardName).toBe('plusgate-Plusgate');
    expect(full.outputs.DashboardUrl.Value).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/plusgate-Plusgate',
    );
  });

  test('draws every plusgate metric the operator reads, in the plusgate namespace', () => {
    // Decisions is drawn per decision only (see the next test).
    for (const name of [
      METRIC.CACHE_HITS,
      METRIC.IDENTITY_PLUS_LATENCY,
      METRIC.IDENTITY_PLUS_FAILURES,
      METRIC.LEDGER_WRITE_FAILURES,
      METRIC.DEGRADED_ALLOWS,
      METRIC.INTENTS_CREATED,
      METRIC.NEW_BILLABLE_USERS,
      METRIC.BILLABLE_USERS_THIS_PERIOD,
      METRIC.API_CERT_DAYS_LEFT,
    ]) {
      expect(body).toContain(`["${METRICS_NAMESPACE}","${name}","service","plusgate"`);
    }
  });

  test('decisions per minute by outcome, the cache hit rate, and p50/p99 latencies', () => {
    for (const decision of ['allow', 'validate', 'deny', 'error']) {
      expect(body).toContain(`["plusgate","Decisions","decision","${decision}","service","plusgate"`);
    }
    expect(body).toContain(
      '"expression":"100 * FILL(hits, 0) / (FILL(allow, 0) + FILL(validate, 0) + FILL(deny, 0) + FILL(error, 0))"',
    );
    // The functions emit Decisions per decision only (functions/runtime/metrics.ts): a series without the
    // decision dimension would stay empty.
    expect(body).not.toMatch(/"Decisions","service","plusgate"/);
    expect(body).toMatch(/"IdentityPlusLatency".*"stat":"p50".*"IdentityPlusLatency".*"stat":"p99"/);
    expect(body).toContain('"title":"Function duration p50 (ms)"');
    expect(body).toContain('"title":"Function duration p99 (ms)"');
    for (const prefix of ['EdgeFunction', 'ApiCertRenewalFunction', 'BillableUsersFunction']) {
      const id = full.idOf('AWS::Lambda::Function', prefix);
      expect(body).toContain(`["AWS/Lambda","Duration","FunctionName","{"Ref":"${id}"}"`);
    }
    expect(body).toContain(
      '"NewBillableUsers","service","plusgate",{"label":"first sign-in of the period","period":86400',
    );
  });

  test('shows the state of every alarm', () => {
    const alarmIds = full.ofType('AWS::CloudWatch::Alarm').map(([id]) => id);
    expect(alarmIds).toHaveLength(23);
    for (const id of alarmIds) expect(body).toContain(`{"Fn::GetAtt":["${id}","Arn"]}`);
  });
});

describe('the scheduled functions', () => {
  const ruleFor = (prefix: string) => {
    const fnId = full.idOf('AWS::Lambda::Function', prefix);
    return only(
      full.ofType('AWS::Events::Rule').filter(([, r]) => text(r.Properties.Targets).includes(`"${fnId}"`)),
      `the rule of ${prefix}`,
    )[1].Properties;
  };
  const invokeConfigOf = (prefix: string) =>
    only(
      full
        .ofType('AWS::Lambda::EventInvokeConfig')
        .filter(([, c]) => c.Properties.FunctionName.Ref === full.idOf('AWS::Lambda::Function', prefix)),
      `the invoke config of ${prefix}`,
    )[1].Properties;

  test('the renewal runs daily at 04:00 UTC and is retried once after a failure (each try issues a certificate)', () => {
    expect(ruleFor('ApiCertRenewalFunction')).toMatchObject({
      ScheduleExpression: 'cron(0 4 * * ? *)',
      State: 'ENABLED',
    });
    expect(invokeConfigOf('ApiCertRenewalFunction')).toMatchObject({ MaximumRetryAttempts: 1, Qualifier: '$LATEST' });
  });

  test('the billable users are counted every hour, without retries', () => {
    expect(ruleFor('BillableUsersFunction')).toMatchObject({
      ScheduleExpression: 'cron(5 * * * ? *)',
      State: 'ENABLED',
    });
    expect(invokeConfigOf('BillableUsersFunction')).toMatchObject({ MaximumRetryAttempts: 0 });
  });

  test('each is invoked only by its own rule', () => {
    for (const prefix of ['ApiCertRenewalFunction', 'BillableUsersFunction']) {
      const fnId = full.idOf('AWS::Lambda::Function', prefix);
      const permissions = full
        .ofType('AWS::Lambda::Permission')
        .filter(([, p]) => p.Properties.FunctionName['Fn::GetAtt']?.[0] === fnId);
      expect(permissions.map(([, p]) => p.Properties.Principal)).toEqual(['events.amazonaws.com']);
    }
  });

  test('the renewal function gets its secret by name and the renewal settings', () => {
    const fn = full.resources[full.idOf('AWS::Lambda::Function', 'ApiCertRenewalFunction')];
    expect(fn?.Properties.Environment.Variables).toEqual({
      PLUSGATE_API_CERT_SECRET: 'plusgate/identity-plus-api-cert',
      PLUSGATE_IDENTITY_PLUS_SELF_AUTHORITY_URL: 'https://selfauthority.identity.plus',
      PLUSGATE_API_CERT_RENEW_AT_FRACTION: '0.75',
    });
    expect(fn?.Properties.Timeout).toBe(60);
  });
});

describe('cdk-nag', () => {
  test.each([
    ['an email subscriber and a budget', { billableUsersAlarmThreshold: BUDGET, alarmEmail: EMAIL }],
    ['an existing topic', { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall' }],
  ])('the AwsSolutions checks report no unacknowledged finding with %s', (_, overrides) => {
    const { app } = synthPlusgate(overrides);
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(JSON.stringify(report.pluginReports ?? [])).not.toMatch(/AwsSolutions-/);
  });
});

describe('the constructs check what they are given', () => {
  /** A stack with the resources the constructs take. */
  function fixture() {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
    const table = new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    const secret = Secret.fromSecretNameV2(stack, 'Secret', 'api-cert');
    const fn = new LambdaFunction(stack, 'Fn', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {}'),
    });
    const watched = { name: 'Fn', lambda: fn, logGroup: new LogGroup(stack, 'Logs') };
    const api = new RestApi(stack, 'Api');
    api.root.addMethod('GET');
    const props: MonitoringProps = {
      decidingFunctions: [watched],
      renewalFunction: { ...watched, name: 'Renewal' },
      apis: [{ name: 'Api', stage: api.deploymentStage, accessLogs: watched.logGroup }],
      table,
      apiCertSecret: secret,
    };
    return { stack, table, secret, props };
  }

  test('Monitoring refuses alarmEmail with an alarmTopic', () => {
    const { stack, props } = fixture();
    const alarmTopic = Topic.fromTopicArn(stack, 'Own', 'arn:aws:sns:eu-west-1:111122223333:oncall');
    expect(() => new Monitoring(stack, 'Monitoring', { ...props, alarmTopic, alarmEmail: EMAIL })).toThrow(
      /with alarmTopic, subscribe people to that topic yourself/,
    );
  });

  test.each([
    ['apiCertExpiryAlarmDays', 0],
    ['apiCertExpiryAlarmDays', 366],
    ['identityPlusFailuresPerMinute', 0.5],
    ['identityPlusFailureMinutes', 1441],
    ['api5xxThreshold', 0],
    ['billableUsersAlarmThreshold', 0],
  ])('Monitoring refuses %s = %d', (name, value) => {
    const { stack, props } = fixture();
    expect(() => new Monitoring(stack, 'Monitoring', { ...props, [name]: value })).toThrow(
      new RegExp(`Monitoring: ${name} must be a whole number from \\d+ to \\d+, got ${value}`),
    );
  });

  test('Monitoring takes the Identity Plus threshold and minutes as props', () => {
    const { stack, props } = fixture();
    new Monitoring(stack, 'Monitoring', { ...props, identityPlusFailuresPerMinute: 20, identityPlusFailureMinutes: 5 });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: METRIC.IDENTITY_PLUS_FAILURES,
      Threshold: 20,
      EvaluationPeriods: 7,
      DatapointsToAlarm: 5,
      Period: 60,
    });
  });

  test('Monitoring hooks a given errors alarm to the topic instead of making a second one', () => {
    const { stack, props } = fixture();
    const existing = new Alarm(stack, 'Existing', {
      metric: new Metric({ namespace: 'AWS/Lambda', metricName: 'Errors' }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    const monitoring = new Monitoring(stack, 'Monitoring', {
      ...props,
      otherFunctions: [{ ...props.renewalFunction, name: 'Other', errorsAlarm: existing }],
    });
    expect(monitoring.alarms).toContain(existing);
    expect(monitoring.node.tryFindChild('OtherErrors')).toBeUndefined();
    expect(monitoring.node.tryFindChild('OtherThrottles')).toBeDefined();
  });

  test('ApiCertRenewal refuses settings its function would refuse', () => {
    const { stack, secret } = fixture();
    expect(() => new ApiCertRenewal(stack, 'Renewal', { secret, apiCertRenewAtFraction: 1 })).toThrow(
      /ApiCertRenewal: apiCertRenewAtFraction: got 1; expected a number greater than 0 and less than 1/,
    );
    expect(
      () => new ApiCertRenewal(stack, 'Renewal2', { secret, identityPlusSelfAuthorityUrl: 'http://example.com' }),
    ).toThrow(/ApiCertRenewal: identityPlusSelfAuthorityUrl: got "http:\/\/example.com"; expected an https URL/);
  });

  test('BillableUsersGauge refuses an anchor day that is not in every month', () => {
    const { stack, table } = fixture();
    expect(() => new BillableUsersGauge(stack, 'Gauge', { table, billingAnchorDay: 29 })).toThrow(
      /BillableUsersGauge: billingAnchorDay must be a whole number from 1 to 28, got 29/,
    );
  });
});

describe('renewal and the expiry alarm together', () => {
  test('warns at synth when renewal would be due after the expiry alarm fires', () => {
    const { stack } = synthPlusgate({ apiCertRenewAtFraction: 0.95, apiCertExpiryAlarmDays: 21 });
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('apiCertRenewAtFraction 0.95 leaves about 18 days'),
    );
  });

  test('does not warn with the defaults', () => {
    const { stack } = synthPlusgate();
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('apiCertRenewAtFraction'))).toEqual([]);
  });
});
