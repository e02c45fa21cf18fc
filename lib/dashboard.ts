/**
 * The operations dashboard (`plusgate-<stack>`): what plusgate decides and how fast, how often the cache
 * answers, who is billed, how long the API certificate has left, and the state of every alarm. The metric
 * names come from functions/config/metrics.ts; the README ("Operating plusgate") says how to read it.
 */
import { Duration, Stack, Tags } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Color,
  Dashboard,
  GraphWidget,
  type IAlarm,
  MathExpression,
  type IWidget,
  SingleValueWidget,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { DIMENSION, METRIC } from '../functions/config/metrics';
import { API_CERT_DAYS_LEFT_WINDOW, type WatchedFunction } from './monitoring';
import { plusgateMetric } from './plusgate-metric';

/**
 * The four decisions `decide()` makes (docs/design.md, "The decision"), with the colour each is drawn in.
 * `Decisions` is emitted only per decision (and per decision and reason), never as one total: the totals
 * here are sums of these four series.
 */
const DECISIONS: ReadonlyArray<readonly [decision: string, color: string]> = [
  ['allow', Color.GREEN],
  ['validate', Color.BLUE],
  ['deny', Color.ORANGE],
  ['error', Color.RED],
];

/** Props of {@link PlusgateDashboard}. */
export interface PlusgateDashboardProps {
  /** Every plusgate function: their durations are drawn. */
  readonly functions: readonly WatchedFunction[];
  /** Shown in the alarm status widget. */
  readonly alarms: readonly IAlarm[];
  /** @default `plusgate-<stack name>` */
  readonly dashboardName?: string;
}

/** The CloudWatch dashboard and its console URL. */
export class PlusgateDashboard extends Construct {
  public readonly dashboard: Dashboard;
  /** Its name (as given, or `plusgate-<stack name>`). */
  public readonly dashboardName: string;
  /** Where it opens in the CloudWatch console. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: PlusgateDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.dashboardName = props.dashboardName ?? `plusgate-${stack.stackName}`;
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(this.dashboardName)) {
      throw new Error(
        `PlusgateDashboard: the dashboard name "${this.dashboardName}" may hold only A-Z a-z 0-9 - _ (1-255 characters)`,
      );
    }
    this.url = `https://${stack.region}.console.aws.amazon.com/cloudwatch/home?region=${stack.region}#dashboards/dashboard/${this.dashboardName}`;

    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    /** Decisions of one outcome, under a metric-math id of its own (`allow`, `validate`, …). */
    const decisionsOf = (decision: string, period: Duration) =>
      plusgateMetric(METRIC.DECISIONS, { statistic: 'Sum', period, dimensions: { [DIMENSION.DECISION]: decision } });

    const decisionsByOutcome = new GraphWidget({
      title: 'Decisions per minute, by outcome',
      width: 12,
      stacked: true,
      left: DECISIONS.map(([decision, color]) =>
        plusgateMetric(METRIC.DECISIONS, {
          statistic: 'Sum',
          period: minute,
          dimensions: { [DIMENSION.DECISION]: decision },
          label: decision,
          color,
        }),
      ),
      leftYAxis: { min: 0, label: 'per minute', showUnits: false },
    });
    const cacheHitRate = new GraphWidget({
      title: 'Decision cache hit rate (%)',
      width: 6,
      left: [
        new MathExpression({
          expression: `100 * FILL(hits, 0) / (${DECISIONS.map(([decision]) => `FILL(${decision}, 0)`).join(' + ')})`,
          usingMetrics: {
            hits: plusgateMetric(METRIC.CACHE_HITS, { statistic: 'Sum', period: fiveMinutes }),
            ...Object.fromEntries(DECISIONS.map(([decision]) => [decision, decisionsOf(decision, fiveMinutes)])),
          },
          period: fiveMinutes,
          label: 'cache hits / decisions',
        }),
      ],
      leftYAxis: { min: 0, max: 100, showUnits: false },
    });
    const identityPlusLatency = new GraphWidget({
      title: 'Identity Plus latency (ms)',
      width: 6,
      left: ['p50', 'p99'].map((statistic) =>
        plusgateMetric(METRIC.IDENTITY_PLUS_LATENCY, { statistic, period: fiveMinutes, label: statistic }),
      ),
      leftYAxis: { min: 0, showUnits: false },
    });
    const durations = (statistic: string) =>
      new GraphWidget({
        title: `Function duration ${statistic} (ms)`,
        width: 12,
        left: props.functions.map((fn) => fn.lambda.metricDuration({ statistic, period: fiveMinutes, label: fn.name })),
        leftYAxis: { min: 0, showUnits: false },
      });
    const failures = new GraphWidget({
      title: 'Failures and degraded answers per minute',
      width: 12,
      left: (
        [
          [METRIC.IDENTITY_PLUS_FAILURES, Color.RED],
          [METRIC.LEDGER_WRITE_FAILURES, Color.PURPLE],
          [METRIC.DEGRADED_ALLOWS, Color.ORANGE],
        ] as const
      ).map(([name, color]) => plusgateMetric(name, { statistic: 'Sum', period: minute, color })),
      right: [plusgateMetric(METRIC.INTENTS_CREATED, { statistic: 'Sum', period: minute, color: Color.BLUE })],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, showUnits: false },
    });
    const newBillableUsers = new GraphWidget({
      title: 'New billable users per day',
      width: 12,
      left: [
        plusgateMetric(METRIC.NEW_BILLABLE_USERS, {
          statistic: 'Sum',
          period: Duration.days(1),
          label: 'first sign-in of the period',
        }),
      ],
      leftYAxis: { min: 0, showUnits: false },
      period: Duration.days(1),
    });
    const billableUsers = new SingleValueWidget({
      title: 'Billable users this period (hourly count)',
      width: 6,
      height: 6,
      sparkline: true,
      metrics: [
        plusgateMetric(METRIC.BILLABLE_USERS_THIS_PERIOD, {
          statistic: 'Maximum',
          period: Duration.hours(1),
          label: 'users',
        }),
      ],
    });
    const apiCertDaysLeft = new SingleValueWidget({
      title: 'API certificate: days left',
      width: 6,
      height: 6,
      sparkline: true,
      metrics: [
        plusgateMetric(METRIC.API_CERT_DAYS_LEFT, {
          statistic: 'Maximum',
          period: API_CERT_DAYS_LEFT_WINDOW,
          label: 'days',
        }),
      ],
    });
    const alarms = new AlarmStatusWidget({
      title: 'Alarms',
      width: 24,
      height: Math.max(3, 1 + Math.ceil(props.alarms.length / 4)),
      alarms: [...props.alarms],
    });
    const legend = new TextWidget({
      width: 24,
      height: 2,
      markdown:
        '**plusgate**: each alarm says what to do in its description; the README, section *Operating plusgate*, explains every widget and alarm.',
    });

    const rows: IWidget[][] = [
      [legend],
      [alarms],
      [decisionsByOutcome, cacheHitRate, identityPlusLatency],
      [durations('p50'), durations('p99')],
      [failures, newBillableUsers],
      [billableUsers, apiCertDaysLeft],
    ];
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.days(1),
      widgets: rows,
    });
    // The stack's `app` tag (lib/plusgate-app.ts) stays off the dashboard: Tags on AWS::CloudWatch::Dashboard
    // are recent in CloudFormation's schema and cfn-lint 1.51 still refuses them; it is found by name anyway.
    Tags.of(this.dashboard).remove('app');
  }
}
