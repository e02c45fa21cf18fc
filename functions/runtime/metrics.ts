/**
 * Metrics, one facade for every function: each data point goes to Powertools Metrics (CloudWatch EMF on
 * stdout, flushed by {@link metricsMiddleware}) and to an in-process registry that local mode serves as
 * Prometheus text at `GET /metrics`. Names, namespace and dimensions: functions/config/metrics.ts.
 *
 * Light on purpose (every function imports it): no Identity Plus client, no undici. In local mode
 * `POWERTOOLS_METRICS_DISABLED=true` turns the EMF output off and only the registry counts; in Lambda
 * the registry is a few counters of memory per container.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DIMENSION, METRIC, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from '../config/metrics';
import { logger } from './observability';

/** Units plusgate emits. */
export type MetricUnitName = 'Count' | 'Milliseconds';

/** Options of {@link emitMetric}. */
export interface EmitOptions {
  /** @default the metric's own unit (Milliseconds for IdentityPlusLatency, else Count) */
  readonly unit?: MetricUnitName;
  /** Dimensions of this data point besides `service` (e.g. `decision` and `reason` for Decisions). */
  readonly dimensions?: Readonly<Record<string, string>>;
}

type Kind = 'counter' | 'gauge' | 'histogram';

interface Family {
  readonly kind: Kind;
  readonly unit: MetricUnitName;
  readonly help: string;
}

/** How each metric of the contract is shown in Prometheus text (and its default unit). */
const FAMILIES: Readonly<Record<MetricName, Family>> = {
  [METRIC.DECISIONS]: { kind: 'counter', unit: 'Count', help: 'Decisions made, by decision and reason.' },
  [METRIC.CACHE_HITS]: { kind: 'counter', unit: 'Count', help: 'Decisions answered from the decision cache.' },
  [METRIC.IDENTITY_PLUS_LATENCY]: {
    kind: 'histogram',
    unit: 'Milliseconds',
    help: 'Duration of Identity Plus calls (inquiry and intent), answered or not.',
  },
  [METRIC.IDENTITY_PLUS_FAILURES]: {
    kind: 'counter',
    unit: 'Count',
    help: 'Identity Plus calls that got no usable answer or an ER code.',
  },
  [METRIC.LEDGER_WRITE_FAILURES]: { kind: 'counter', unit: 'Count', help: 'Ledger writes that failed.' },
  [METRIC.DEGRADED_ALLOWS]: {
    kind: 'counter',
    unit: 'Count',
    help: 'Allows served from the stale-if-error grace while Identity Plus could not answer.',
  },
  [METRIC.INTENTS_CREATED]: { kind: 'counter', unit: 'Count', help: 'Validation intents created at Identity Plus.' },
  [METRIC.NEW_BILLABLE_USERS]: {
    kind: 'counter',
    unit: 'Count',
    help: 'Users billed for the first time in their billing period.',
  },
  [METRIC.BILLABLE_USERS_THIS_PERIOD]: {
    kind: 'gauge',
    unit: 'Count',
    help: 'Billable users of the current billing period, counted from the ledger.',
  },
  [METRIC.API_CERT_DAYS_LEFT]: {
    kind: 'gauge',
    unit: 'Count',
    help: 'Days until the Identity Plus API certificate expires.',
  },
  [METRIC.API_CERT_RENEWALS]: { kind: 'counter', unit: 'Count', help: 'API certificate renewals stored.' },
  [METRIC.API_CERT_RENEWAL_FAILURES]: {
    kind: 'counter',
    unit: 'Count',
    help: 'API certificate renewals that failed.',
  },
};

/** Dimension sets CloudWatch gets for a metric with dimensions (each also carries `service`); default: all of them as one set. */
const DIMENSION_SETS: Partial<Record<MetricName, ReadonlyArray<readonly string[]>>> = {
  [METRIC.DECISIONS]: [[DIMENSION.DECISION], [DIMENSION.DECISION, DIMENSION.REASON]],
};

/** Histogram buckets of the latency, in seconds (Prometheus' base unit). */
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// Powertools warnings that are expected here and would otherwise be logged on every flush or decision: a
// function that emitted nothing (report), and Decisions' two dimension sets sharing the `decision` key.
const EXPECTED_WARNINGS = [
  /^No application metrics to publish/,
  /is defined as both a dimension set and dimension set/,
];

const powertoolsLogger = {
  debug: (...content: unknown[]) => logger.debug(String(content[0]), ...content.slice(1).map(asLogItem)),
  info: (...content: unknown[]) => logger.info(String(content[0]), ...content.slice(1).map(asLogItem)),
  warn: (...content: unknown[]) => {
    const message = String(content[0]);
    if (EXPECTED_WARNINGS.some((expected) => expected.test(message))) return;
    logger.warn(message, ...content.slice(1).map(asLogItem));
  },
  error: (...content: unknown[]) => logger.error(String(content[0]), ...content.slice(1).map(asLogItem)),
};

function asLogItem(item: unknown): Record<string, unknown> {
  return item instanceof Error ? { error: { name: item.name, message: item.message } } : { detail: item };
}

let powertools: Metrics | undefined;

/**
 * The Powertools instance, made on first use: Powertools reads `POWERTOOLS_METRICS_DISABLED` when it is
 * constructed, and local mode sets that variable after this module may have been loaded.
 */
function metrics(): Metrics {
  powertools ??= new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, logger: powertoolsLogger });
  return powertools;
}

let single: Metrics | undefined;

/**
 * One single-metric instance, made once and reused: each `addMetric` on it publishes at once and clears its
 * dimensions, so every data point brings its own. (`singleMetric()` per data point builds a new Metrics, a
 * Console and the environment config each time: half the cost of a cache-hit decision.)
 */
function singleMetric(): Metrics {
  single ??= metrics().singleMetric();
  return single;
}

/**
 * Records one data point of `name`: to Powertools (stored until {@link metricsMiddleware} flushes; a data
 * point with dimensions is published at once through `singleMetric()`) and to the local registry. Never
 * throws: a metric must not fail a request.
 */
export function emitMetric(name: MetricName, value: number, options: EmitOptions = {}): void {
  const family = FAMILIES[name];
  if (!family || !Number.isFinite(value)) {
    logger.warn('metric not emitted', { metric: String(name), value: String(value) });
    return;
  }
  const unit = options.unit ?? family.unit;
  const dimensions = options.dimensions ?? {};
  registry.record(name, family, value, unit, dimensions);
  try {
    if (Object.keys(dimensions).length === 0) {
      metrics().addMetric(name, unit, value);
      return;
    }
    const single = singleMetric();
    for (const set of DIMENSION_SETS[name] ?? [Object.keys(dimensions)]) {
      single.addDimensions(Object.fromEntries(set.map((key) => [key, dimensions[key] ?? 'none'])));
    }
    single.addMetric(name, unit, value);
  } catch (err) {
    logger.warn('metric not emitted', { metric: name, error: { message: (err as Error).message } });
  }
}

/** The middy middleware that flushes the stored metrics (EMF) after every invocation, failed ones included. */
export function metricsMiddleware(): ReturnType<typeof logMetrics> {
  return logMetrics(metrics(), { throwOnEmptyMetrics: false });
}

/** The registry in Prometheus text exposition format (version 0.0.4). */
export function prometheusText(): string {
  return registry.text();
}

/** Empties the registry and drops stored (unflushed) Powertools data points: for tests. */
export function resetLocalMetrics(): void {
  registry.clear();
  powertools?.clearMetrics();
  single?.clearMetrics();
}

/** One labelled series of a counter or gauge, or one histogram. */
interface Series {
  readonly labels: ReadonlyArray<readonly [string, string]>;
  value: number;
  /** Histogram only: observations per bucket (not cumulative), the last one for +Inf. */
  buckets?: number[];
  count?: number;
}

class Registry {
  readonly #series = new Map<MetricName, Map<string, Series>>();

  record(
    name: MetricName,
    family: Family,
    value: number,
    unit: MetricUnitName,
    dimensions: Readonly<Record<string, string>>,
  ): void {
    const labels = Object.entries(dimensions)
      .map(([key, v]) => [labelName(key), v] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(labels);
    let byLabels = this.#series.get(name);
    if (!byLabels) {
      byLabels = new Map();
      this.#series.set(name, byLabels);
    }
    let series = byLabels.get(key);
    if (!series) {
      series = { labels, value: 0 };
      byLabels.set(key, series);
    }
    switch (family.kind) {
      case 'counter':
        series.value += value;
        return;
      case 'gauge':
        series.value = value;
        return;
      case 'histogram': {
        const seconds = unit === 'Milliseconds' ? value / 1000 : value;
        series.buckets ??= new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
        const index = LATENCY_BUCKETS_SECONDS.findIndex((le) => seconds <= le);
        const bucket = index === -1 ? LATENCY_BUCKETS_SECONDS.length : index;
        series.buckets[bucket] = (series.buckets[bucket] ?? 0) + 1;
        series.value += seconds;
        series.count = (series.count ?? 0) + 1;
        return;
      }
    }
  }

  clear(): void {
    this.#series.clear();
  }

  text(): string {
    const lines: string[] = [];
    for (const name of Object.values(METRIC)) {
      const family = FAMILIES[name];
      const metric = prometheusName(name, family.kind);
      lines.push(`# HELP ${metric} ${escapeHelp(family.help)}`);
      lines.push(`# TYPE ${metric} ${family.kind}`);
      const series = [...(this.#series.get(name)?.values() ?? [])];
      // An unlabelled counter or histogram starts at zero; a gauge nobody has set has no value yet.
      if (series.length === 0 && family.kind !== 'gauge' && name !== METRIC.DECISIONS)
        series.push({ labels: [], value: 0, count: 0 });
      for (const s of series) {
        if (family.kind !== 'histogram') {
          lines.push(`${metric}${labelText(s.labels)} ${formatNumber(s.value)}`);
          continue;
        }
        let cumulative = 0;
        LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
          cumulative += s.buckets?.[i] ?? 0;
          lines.push(`${metric}_bucket${labelText([...s.labels, ['le', formatNumber(le)]])} ${cumulative}`);
        });
        lines.push(`${metric}_bucket${labelText([...s.labels, ['le', '+Inf']])} ${s.count ?? 0}`);
        lines.push(`${metric}_sum${labelText(s.labels)} ${formatNumber(s.value)}`);
        lines.push(`${metric}_count${labelText(s.labels)} ${s.count ?? 0}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

const registry = new Registry();

/** `plusgate_<snake_case>`, with `_total` for counters and `_seconds` for the latency. */
export function prometheusName(name: MetricName, kind: Kind = FAMILIES[name].kind): string {
  const snake = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
  const suffix = kind === 'counter' ? '_total' : kind === 'histogram' ? '_seconds' : '';
  return `${METRICS_NAMESPACE}_${snake}${suffix}`;
}

/** A dimension name as a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`). */
function labelName(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`;
}

function labelText(labels: ReadonlyArray<readonly [string, string]>): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (the exposition format's rules). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}
