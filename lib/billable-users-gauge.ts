/**
 * The billable-users gauge: every hour a function counts the billable users of the current billing period
 * from the ledger (sharded Queries, never a Scan) and emits the count as `BillableUsersThisPeriod`
 * (functions/handlers/billable-users.ts), for the dashboard and the optional budget alarm. It may Query the
 * records table and nothing else.
 */
import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { PlusgateFunction } from './plusgate-function';
import { billableUsersEnvironment } from './runtime-environment';

/** Props of {@link BillableUsersGauge}. */
export interface BillableUsersGaugeProps {
  /** The records table; the function gets `dynamodb:Query` on it and nothing else. */
  readonly table: ITableV2;
  /** Day of the month (1–28) a billing period starts. */
  readonly billingAnchorDay: number;
  /** When it counts. @default Schedule.cron({ minute: '5' }) (hourly, at five past) */
  readonly schedule?: Schedule;
  /**
   * Time for one count. It reads every item of the period's shards (the report's projection, a 1 MB page
   * per call, the shards in parallel); a minute covers several hundred thousand users. @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
}

/** The gauge function and its hourly schedule. */
export class BillableUsersGauge extends Construct {
  /** The counting function (`functions/handlers/billable-users.ts`). */
  public readonly counter: PlusgateFunction;
  /** Runs it every hour. */
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: BillableUsersGaugeProps) {
    super(scope, id);
    const { billingAnchorDay } = props;
    if (!Number.isInteger(billingAnchorDay) || billingAnchorDay < 1 || billingAnchorDay > 28) {
      throw new Error(
        `BillableUsersGauge: billingAnchorDay must be a whole number from 1 to 28, got ${billingAnchorDay}`,
      );
    }

    this.counter = new PlusgateFunction(this, 'Function', {
      handler: 'billable-users',
      description: 'plusgate: counts the billable users of the current billing period (hourly gauge)',
      timeout: props.timeout ?? Duration.seconds(60),
      environment: billableUsersEnvironment({ billingAnchorDay }),
    });
    this.counter.bindTable(props.table, 'dynamodb:Query');
    // A gauge: a missed hour is replaced by the next one, so no retries that would pile up behind a slow count.
    this.counter.lambda.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.hours(1) });

    // Five past the hour: the period changes at 00:00 UTC, so the first count of a new period is 00:05.
    this.schedule = new Rule(this, 'Schedule', {
      description: 'plusgate: count the billable users of the current billing period (hourly)',
      schedule: props.schedule ?? Schedule.cron({ minute: '5' }),
    });
    this.schedule.addTarget(
      new LambdaFunction(this.counter.lambda, { retryAttempts: 2, maxEventAge: Duration.hours(1) }),
    );
  }
}
