/**
 * Monitoring: the CloudWatch alarms that tell an on-call person plusgate needs them, and the SNS topic they
 * notify. Each alarm's description says what it means and what to do (README, "Operating plusgate"). The
 * plusgate metrics come from the functions through Powertools (names, namespace and dimensions:
 * functions/config/metrics.ts); the others are Lambda's, API Gateway's and DynamoDB's own.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type { IStage } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  type AlarmBase,
  ComparisonOperator,
  type IAlarm,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { createAlarmTopic } from './alarm-topic';
import { plusgateMetric } from './plusgate-metric';
import { METRIC } from '../functions/config/metrics';

/** Where the alarm descriptions point for what to do. */
const RUNBOOK = 'README, Operating plusgate';

/** The API certificate alarm fires when it has fewer days left than this, unless told otherwise. */
export const DEFAULT_API_CERT_EXPIRY_ALARM_DAYS = 21;

/**
 * The window of the API certificate alarm: the daily reading plus two hours of slack for a late run, so the
 * hours between two runs always hold a reading. No reading in it means the daily function did not run.
 */
export const API_CERT_DAYS_LEFT_WINDOW = Duration.hours(26);

/** A plusgate function, as the alarms and the dashboard name it. */
export interface WatchedFunction {
  /** Short PascalCase name, e.g. `Edge`: part of its alarms' construct IDs and names, so keep it stable. */
  readonly name: string;
  readonly lambda: IFunction;
  /** Where it logs: named in its alarms' descriptions. */
  readonly logGroup: ILogGroup;
  /**
   * An alarm that already watches this function's errors (period close has one). It is sent to the topic
   * instead of a second alarm on the same errors. @default - an Errors alarm is created
   */
  readonly errorsAlarm?: AlarmBase;
}

/** A REST API stage, watched for 5xx answers. */
export interface WatchedApi {
  /** Short PascalCase name, e.g. `Edge` (the alarm is `<name>Api5xx`). */
  readonly name: string;
  readonly stage: IStage;
  /** Its access logs: named in the alarm's description. */
  readonly accessLogs: ILogGroup;
}

/**
 * A function URL behind CloudFront (the CloudFront edge), watched for 5xx answers. CloudFront's own metrics
 * (5xxErrorRate) are published in us-east-1 only and an alarm watches metrics of its own region, so a stack
 * elsewhere watches what the function URL answered CloudFront instead.
 */
export interface WatchedFunctionUrl {
  /** Short PascalCase name, e.g. `Edge` (the alarm is `<name>Url5xx`). */
  readonly name: string;
  readonly lambda: IFunction;
  /** Where the function logs: named in the alarm's description. */
  readonly logGroup: ILogGroup;
}

/** Props of {@link Monitoring}. */
export interface MonitoringProps {
  /** The functions that decide on certificates (edge, verify, authorizer): they emit the decision metrics. */
  readonly decidingFunctions: readonly WatchedFunction[];
  /** The daily API certificate renewal: it emits `ApiCertDaysLeft` and the renewal metrics. */
  readonly renewalFunction: WatchedFunction;
  /** Every other plusgate function, watched for errors and throttles. @default - none */
  readonly otherFunctions?: readonly WatchedFunction[];
  /** The APIs, watched for 5xx answers. */
  readonly apis: readonly WatchedApi[];
  /** The function URLs, watched for 5xx answers. @default - none */
  readonly functionUrls?: readonly WatchedFunctionUrl[];
  /** The records table, watched for throttling. */
  readonly table: ITableV2;
  /** The API certificate secret: named in the descriptions (how to renew by hand). */
  readonly apiCertSecret: ISecret;
  /** Alarm when the API certificate has fewer days left than this. @default DEFAULT_API_CERT_EXPIRY_ALARM_DAYS (21) */
  readonly apiCertExpiryAlarmDays?: number;
  /**
   * Identity Plus failures in a minute that make it a failing minute. One is enough by default: the decision
   * cache keeps repeat sign-ins off Identity Plus, so a small deployment sees few calls even when it is down.
   * @default 1
   */
  readonly identityPlusFailuresPerMinute?: number;
  /** Failing minutes, within that many plus two, before the alarm (a lone timeout does not page). @default 3 */
  readonly identityPlusFailureMinutes?: number;
  /** 5xx answers of one API in 5 minutes before its alarm. @default 5 */
  readonly api5xxThreshold?: number;
  /** Alarm when the period has more billable users than this. @default - no budget alarm */
  readonly billableUsersAlarmThreshold?: number;
  /** The topic the alarms notify. @default - a new topic, encrypted with a key of its own, TLS only */
  readonly alarmTopic?: ITopic;
  /** Subscribed by email to the created topic (not allowed with `alarmTopic`). @default - nobody */
  readonly alarmEmail?: string;
}

/** The alarm topic and every alarm. */
export class Monitoring extends Construct {
  /** Every alarm notifies it. */
  public readonly topic: ITopic;
  /** The key of the created topic. @default - none when an `alarmTopic` was given */
  public readonly topicKey?: Key;
  /** The alarms on plusgate's own metrics, by construct ID. */
  public readonly apiCertExpiring: Alarm;
  public readonly apiCertRenewalFailed: Alarm;
  public readonly identityPlusUnavailable: Alarm;
  public readonly ledgerWriteFailures: Alarm;
  public readonly degradedAllows: Alarm;
  /** Only with `billableUsersAlarmThreshold`. */
  public readonly billableUsersAboveThreshold?: Alarm;

  private readonly watched: IAlarm[] = [];
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const days = props.apiCertExpiryAlarmDays ?? DEFAULT_API_CERT_EXPIRY_ALARM_DAYS;
    const perMinute = props.identityPlusFailuresPerMinute ?? 1;
    const minutes = props.identityPlusFailureMinutes ?? 3;
    const api5xx = props.api5xxThreshold ?? 5;
    wholeNumber('apiCertExpiryAlarmDays', days, 1, 365);
    wholeNumber('identityPlusFailuresPerMinute', perMinute, 1, 1_000_000);
    wholeNumber('identityPlusFailureMinutes', minutes, 1, 1440);
    wholeNumber('api5xxThreshold', api5xx, 1, 1_000_000);
    if (props.billableUsersAlarmThreshold !== undefined) {
      wholeNumber('billableUsersAlarmThreshold', props.billableUsersAlarmThreshold, 1, Number.MAX_SAFE_INTEGER);
    }

    if (props.alarmTopic) {
      if (props.alarmEmail !== undefined) {
        throw new Error(
          'Monitoring: alarmEmail subscribes to the topic this construct creates; with alarmTopic, subscribe people to that topic yourself',
        );
      }
      this.topic = props.alarmTopic;
    } else {
      const { topic, key } = createAlarmTopic(this);
      if (props.alarmEmail !== undefined) topic.addSubscription(new EmailSubscription(props.alarmEmail));
      this.topic = topic;
      this.topicKey = key;
    }
    this.action = new SnsAction(this.topic);

    const deciding = props.decidingFunctions;
    const decidingLogs = deciding.map((f) => f.logGroup.logGroupName).join(', ');
    const renewalLogs = props.renewalFunction.logGroup.logGroupName;
    const renewByHand = `npm run renew-api-cert -- --secret-name ${props.apiCertSecret.secretName} --region ${stack.region}`;
    const invokeRenewal = `aws lambda invoke --function-name ${props.renewalFunction.lambda.functionName} --cli-binary-format raw-in-base64-out --payload '{"force":true}' out.json`;

    // Paging alarms notify on ALARM and on OK (the on-call person learns it is over); notices only on ALARM.
    this.apiCertExpiring = this.alarm('ApiCertExpiring', {
      // Maximum: the freshest reading is the highest (days left fall by one a day and jump up after a
      // renewal), so a renewal clears the alarm at its next reading instead of 26 hours later.
      metric: plusgateMetric(METRIC.API_CERT_DAYS_LEFT, { statistic: 'Maximum', period: API_CERT_DAYS_LEFT_WINDOW }),
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      threshold: days,
      // No reading for 26 hours: the daily renewal function is not running, and nothing renews the certificate.
      treatMissingData: TreatMissingData.BREACHING,
      page: true,
      description:
        `The Identity Plus API certificate expires in under ${days} days, or the daily renewal function reported nothing for 26 hours (ApiCertDaysLeft). ` +
        'When it expires every sign-in fails closed. ' +
        `Renew now: ${renewByHand} --force, or ${invokeRenewal}; or store a new certificate (npm run put-api-cert). ` +
        `Why the daily renewal did not: aws logs tail ${renewalLogs} --since 2d. ${RUNBOOK}, API certificate.`,
    });
    this.apiCertRenewalFailed = this.alarm('ApiCertRenewalFailed', {
      metric: plusgateMetric(METRIC.API_CERT_RENEWAL_FAILURES, { statistic: 'Sum', period: Duration.days(1) }),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      page: true,
      description:
        'Renewing the Identity Plus API certificate failed (ApiCertRenewalFailures in the last day). Nothing was stored: ' +
        'the current certificate stays in use until it expires, and the next daily run (04:00 UTC) tries again. ' +
        `Why: aws logs tail ${renewalLogs} --since 1d --filter-pattern ERROR. ` +
        `After fixing, renew by hand: ${renewByHand} (or ${invokeRenewal}). ${RUNBOOK}, API certificate.`,
    });
    this.identityPlusUnavailable = this.alarm('IdentityPlusUnavailable', {
      metric: plusgateMetric(METRIC.IDENTITY_PLUS_FAILURES, { statistic: 'Sum', period: Duration.minutes(1) }),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: perMinute,
      evaluationPeriods: minutes + 2,
      datapointsToAlarm: minutes,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      page: true,
      description:
        `Identity Plus is failing: in ${minutes} of the last ${minutes + 2} minutes, ${perMinute} or more calls got no usable answer or an ER code (IdentityPlusFailures). ` +
        'Sign-ins fail closed with 503 (or use the stale grace if staleIfErrorSeconds > 0). ' +
        'Reason api-certificate-problem (ER 1100-1106) means our API certificate is refused: check ApiCertDaysLeft and renew. ' +
        'Others (identity-plus-unavailable): Identity Plus is down or unreachable from this region. ' +
        `Logs (decision, reason): ${decidingLogs}. ${RUNBOOK}, Identity Plus unavailable.`,
    });
    this.ledgerWriteFailures = this.alarm('LedgerWriteFailures', {
      metric: plusgateMetric(METRIC.LEDGER_WRITE_FAILURES, { statistic: 'Sum', period: Duration.minutes(5) }),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      page: true,
      description:
        'Writes to the billing ledger failed (LedgerWriteFailures in 5 minutes). Those sign-ins were answered 503, so ' +
        'nobody got in unrecorded, but they could not sign in. See the TableThrottles alarm and DynamoDB health in ' +
        `the region; the error (RecordWriteError, level ERROR) is in ${decidingLogs}. ${RUNBOOK}, Ledger.`,
    });
    this.degradedAllows = this.alarm('DegradedAllows', {
      metric: plusgateMetric(METRIC.DEGRADED_ALLOWS, { statistic: 'Sum', period: Duration.minutes(5) }),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      page: true,
      description:
        'People were let in on the stale grace (DegradedAllows in 5 minutes): Identity Plus could not answer, so ' +
        'certificates allowed within staleIfErrorSeconds were allowed again unchecked; a revocation is not seen ' +
        'meanwhile. Treat as Identity Plus unavailable; to fail closed instead deploy with -c staleIfErrorSeconds=0. ' +
        `Logs (degraded: true): ${decidingLogs}. ${RUNBOOK}, Degraded allows.`,
    });

    for (const fn of [...deciding, props.renewalFunction, ...(props.otherFunctions ?? [])]) {
      const logs = fn.logGroup.logGroupName;
      if (fn.errorsAlarm) {
        // Alarm action only: its OK comes when its window has passed, whether or not anyone fixed the cause.
        fn.errorsAlarm.addAlarmAction(this.action);
        this.watched.push(fn.errorsAlarm);
      } else {
        this.alarm(`${fn.name}Errors`, {
          metric: fn.lambda.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          threshold: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          page: true,
          description:
            `The ${fn.name} function failed (Lambda Errors in 5 minutes): an invocation threw or timed out. ` +
            `Read: aws logs tail ${logs} --since 30m --filter-pattern '?ERROR ?"timed out"'. ` +
            'Usual causes: a timeout, a configuration or secret it cannot read, a recent deploy (roll back). ' +
            `${RUNBOOK}, Function errors.`,
        });
      }
      this.alarm(`${fn.name}Throttles`, {
        metric: fn.lambda.metricThrottles({ statistic: 'Sum', period: Duration.minutes(5) }),
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        page: true,
        description:
          `Lambda throttled the ${fn.name} function (Throttles in 5 minutes): the region's concurrency limit is ` +
          'reached (every function of the account counts) and those requests failed. See ' +
          `aws lambda get-account-settings --region ${stack.region} (ConcurrentExecutions) and the account's ` +
          `ConcurrentExecutions metric; ask AWS for a higher limit, or cap the function using it. ${RUNBOOK}, Throttling.`,
      });
    }

    const throttleEvents = (name: string) =>
      props.table.metric(name, { statistic: 'Sum', period: Duration.minutes(5) });
    this.alarm('TableThrottles', {
      metric: new MathExpression({
        expression: 'FILL(reads, 0) + FILL(writes, 0)',
        usingMetrics: { reads: throttleEvents('ReadThrottleEvents'), writes: throttleEvents('WriteThrottleEvents') },
        period: Duration.minutes(5),
        label: 'ledger throttle events',
      }),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 1,
      // (CloudWatch keeps the state of alarms on AWS/DynamoDB metrics while they have no data, whatever this says.)
      treatMissingData: TreatMissingData.NOT_BREACHING,
      page: true,
      description:
        `DynamoDB throttled the ledger table ${props.table.tableName} (ReadThrottleEvents + WriteThrottleEvents in 5 minutes). ` +
        'Throttled writes fail sign-ins with 503 (LedgerWriteFailures); throttled Queries slow or fail reports. ' +
        'An on-demand table throttles a sudden rise above twice its previous peak, or a hot partition; it ' +
        `usually clears within minutes. If it persists, open the table's Monitor tab. ${RUNBOOK}, Throttling.`,
    });

    for (const api of props.apis) {
      this.alarm(`${api.name}Api5xx`, {
        metric: new Metric({
          namespace: 'AWS/ApiGateway',
          metricName: '5XXError',
          dimensionsMap: { ApiName: api.stage.restApi.restApiName, Stage: api.stage.stageName },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // One 5xx heals on the caller's retry (a cold start, a dropped connection); several in 5 minutes is a
        // pattern, and few enough to see an outage at low traffic.
        threshold: api5xx,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        page: true,
        description:
          `The ${api.name} API answered ${api5xx} or more 5xx in 5 minutes (API Gateway 5XXError). plusgate's own ` +
          '503s count too: check the Identity Plus, ledger and function alarms first. Access logs (status, ' +
          `integrationStatus, errorMessage): ${api.accessLogs.logGroupName}. ${RUNBOOK}, API 5xx.`,
      });
    }

    for (const url of props.functionUrls ?? []) {
      this.alarm(`${url.name}Url5xx`, {
        metric: new Metric({
          namespace: 'AWS/Lambda',
          metricName: 'Url5xxCount',
          dimensionsMap: { FunctionName: url.lambda.functionName },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: api5xx,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        page: true,
        description:
          `The ${url.name} function URL answered CloudFront ${api5xx} or more 5xx in 5 minutes (Lambda Url5xxCount): ` +
          "plusgate's own 503s, function errors and timeouts. Check the Identity Plus, ledger and function alarms first. " +
          `Logs: ${url.logGroup.logGroupName}. CloudFront's own 5xxErrorRate is in us-east-1 (CloudFront console, Monitoring). ${RUNBOOK}, API 5xx.`,
      });
    }

    if (props.billableUsersAlarmThreshold !== undefined) {
      const threshold = props.billableUsersAlarmThreshold;
      this.billableUsersAboveThreshold = this.alarm('BillableUsersAboveThreshold', {
        metric: plusgateMetric(METRIC.BILLABLE_USERS_THIS_PERIOD, { statistic: 'Maximum', period: Duration.hours(1) }),
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        threshold,
        // An hourly gauge: a gap between two counts keeps the state instead of flapping.
        treatMissingData: TreatMissingData.IGNORE,
        page: false,
        description:
          `This billing period has more than ${threshold} billable users (BillableUsersThisPeriod, counted hourly): ` +
          `Identity Plus bills each. Who: npm run report -- --table ${props.table.tableName} --region ${stack.region}. ` +
          `If expected, raise billableUsersAlarmThreshold. ${RUNBOOK}, Billable users.`,
      });
    }
  }

  /** Every alarm sent to the topic (the ones made here and the `errorsAlarm`s given), for the dashboard. */
  public get alarms(): readonly IAlarm[] {
    return this.watched;
  }

  /** An alarm named `<stack>-<id>` that notifies the topic (and on OK too when `page`). */
  private alarm(
    id: string,
    spec: {
      metric: IMetric;
      comparisonOperator: ComparisonOperator;
      threshold: number;
      evaluationPeriods?: number;
      datapointsToAlarm?: number;
      treatMissingData: TreatMissingData;
      page: boolean;
      description: string;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      alarmName: `${Stack.of(this).stackName}-${id}`,
      alarmDescription: spec.description,
      metric: spec.metric,
      comparisonOperator: spec.comparisonOperator,
      threshold: spec.threshold,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      datapointsToAlarm: spec.datapointsToAlarm,
      treatMissingData: spec.treatMissingData,
    });
    alarm.addAlarmAction(this.action);
    if (spec.page) alarm.addOkAction(this.action);
    this.watched.push(alarm);
    return alarm;
  }
}

/** Throws unless `value` is a whole number in [min, max], naming the prop. */
function wholeNumber(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`Monitoring: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
}
