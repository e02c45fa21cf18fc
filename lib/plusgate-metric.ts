/** The metrics the plusgate functions emit, as CDK metrics for alarms and the dashboard. */
import type { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { DIMENSION, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from '../functions/config/metrics';

/** Options of {@link plusgateMetric}. */
export interface PlusgateMetricOptions {
  readonly statistic: string;
  readonly period: Duration;
  /** Dimensions besides `service` (only `Decisions` has any: `decision`, and `decision` + `reason`). @default - none */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** @default - the metric name */
  readonly label?: string;
  /** @default - automatic */
  readonly color?: string;
}

/** A metric the plusgate functions emit: namespace `plusgate`, dimension `service` = `plusgate`. */
export function plusgateMetric(name: MetricName, options: PlusgateMetricOptions): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [DIMENSION.SERVICE]: METRICS_SERVICE, ...options.dimensions },
    statistic: options.statistic,
    period: options.period,
    label: options.label,
    color: options.color,
  });
}
