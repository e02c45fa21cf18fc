/**
 * Period close: when a billing period ends, an EventBridge schedule runs a function that exports the
 * closed period's report (`reports/<period>/report.json`) and user list (`reports/<period>/users.csv`) into
 * a versioned, encrypted, private, TLS-only bucket: what a bill is checked against, kept after the ledger's
 * own items expire. The function may Query the records table and put objects under `reports/`: nothing else.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Bucket, CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../functions/config/names';
import { settingsEnvironment } from '../functions/config/settings';
import { PlusgateFunction } from './plusgate-function';
import { privateBucket } from './private-bucket';

/** Key prefix of the exports; the function may write only under it. */
export const REPORTS_PREFIX = 'reports/';

/** Props of {@link PeriodClose}. */
export interface PeriodCloseProps {
  /** The records table; the function gets `dynamodb:Query` on it and nothing else. */
  readonly table: ITableV2;
  /** Day of the month (1–28) a billing period starts; the schedule fires on it at 00:30 UTC. */
  readonly billingAnchorDay: number;
  /** Price per user per year, for the exported report's cost estimate. */
  readonly pricePerUserYear: number;
  /** Time for one export. @default Duration.minutes(15) (Lambda's maximum: a run is monthly and pays only for what it uses) */
  readonly timeout?: Duration;
}

/** The reports bucket, the period-close function and its monthly schedule. */
export class PeriodClose extends Construct {
  /** Where the exports go (versioned, SSE-S3, private, TLS only, retained). */
  public readonly bucket: Bucket;
  /** The period-close function (`functions/handlers/period-close.ts`). */
  public readonly exporter: PlusgateFunction;
  /** In alarm when an export failed; add an action to be told. */
  public readonly failures: Alarm;
  /** Fires on `billingAnchorDay` at 00:30 UTC. */
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: PeriodCloseProps) {
    super(scope, id);
    const { billingAnchorDay, pricePerUserYear } = props;
    if (!Number.isInteger(billingAnchorDay) || billingAnchorDay < 1 || billingAnchorDay > 28) {
      throw new Error(`PeriodClose: billingAnchorDay must be a whole number from 1 to 28, got ${billingAnchorDay}`);
    }

    // Billing evidence: retained; versioned, so a rerun of an export or an overwrite keeps the earlier object.
    this.bucket = privateBucket(this, 'Bucket', {
      noAccessLogsReason:
        'Written only by the period-close function (two objects a month, visible in its logs) and read by operators; server access logs would need a second, unlogged bucket. Enable CloudTrail S3 data events on this bucket if reads must be audited.',
    });

    this.exporter = new PlusgateFunction(this, 'Function', {
      handler: 'period-close',
      description: 'plusgate period close: exports the closed billing period report and user list to S3',
      timeout: props.timeout ?? Duration.minutes(15),
      environment: {
        ...settingsEnvironment({ billingAnchorDay, pricePerUserYear }, ['billingAnchorDay', 'pricePerUserYear']),
        [ENV.REPORTS_BUCKET]: this.bucket.bucketName,
      },
    });
    this.exporter.bindTable(props.table, 'dynamodb:Query');
    // Exactly what an export needs: write objects under reports/ and abort its own failed multipart upload
    // (parts would otherwise be stored and billed). No read, list, delete, tagging, retention or legal hold.
    this.exporter.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [this.bucket.arnForObjects(`${REPORTS_PREFIX}*`)],
      }),
    );
    const bucketLogicalId = Stack.of(this).resolve(
      Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket),
    ) as string;
    Validations.of(this.exporter.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${REPORTS_PREFIX}*]`,
      reason:
        'Objects under reports/ only: the function writes reports/<period>/report.json and users.csv for a period known only at run time.',
    });

    // The period that just ended is exported half an hour after it ends: sign-ins from its last instants
    // are written within milliseconds, so the ledger is settled by then.
    this.schedule = new Rule(this, 'Schedule', {
      description: `plusgate: export the billing period that ended (day ${billingAnchorDay} of each month, 00:30 UTC)`,
      schedule: Schedule.cron({ minute: '30', hour: '0', day: String(billingAnchorDay) }),
    });
    this.schedule.addTarget(
      new LambdaFunction(this.exporter.lambda, { retryAttempts: 2, maxEventAge: Duration.hours(6) }),
    );

    // An export that fails after its retries must not go unnoticed: point an alarm action (e.g. SNS) at this.
    this.failures = new Alarm(this, 'Failures', {
      alarmDescription:
        'plusgate period close failed: a closed billing period may be missing from the reports bucket. Re-run it by hand (README, Billing report).',
      metric: this.exporter.lambda.metricErrors({ period: Duration.hours(6), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
