/**
 * The metrics facade: what Powertools writes to stdout (CloudWatch EMF), and what local mode's
 * `GET /metrics` serves (Prometheus text).
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { METRIC } from '../../../functions/config/metrics';

type MetricsModule = typeof import('../../../functions/runtime/metrics');

const context = { functionName: 'test', awsRequestId: 'req' } as unknown as Context;
const saved = { ...process.env };

/** A fresh facade (and Powertools instance), loaded under the environment as it is now. */
function freshMetrics(): MetricsModule {
  let module: MetricsModule | undefined;
  jest.isolateModules(() => {
    // require, not import(): isolateModules loads synchronously, so the module is fresh for this call only.
    module = require('../../../functions/runtime/metrics');
  });
  return module!;
}

/** Everything written to stdout (EMF, logs) and stderr (warnings) while `run` runs, as lines. */
async function outputOf(run: () => unknown): Promise<{ stdout: string[]; stderr: string[] }> {
  const written = { stdout: [] as string[], stderr: [] as string[] };
  const capture = (stream: 'stdout' | 'stderr') =>
    jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
      written[stream].push(String(chunk));
      return true;
    });
  const spies = [capture('stdout'), capture('stderr')];
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const lines = (chunks: string[]) =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.trim() !== '');
  return { stdout: lines(written.stdout), stderr: lines(written.stderr) };
}

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  [key: string]: unknown;
}

const emfOf = (lines: string[]): Emf[] =>
  lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((o): o is Emf => '_aws' in o);

/** A middy handler with only the metrics middleware, running `body`. */
function withMiddleware(m: MetricsModule, body: () => Promise<void>) {
  return middy<unknown, void>()
    .use(m.metricsMiddleware())
    .handler(() => body());
}

beforeEach(() => {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_DEV;
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
});
afterAll(() => {
  process.env = saved;
});

describe('emitMetric → Powertools (CloudWatch EMF)', () => {
  it('stores plain data points and flushes them as one EMF document at the end of the invocation', async () => {
    const m = freshMetrics();
    const handler = withMiddleware(m, async () => {
      m.emitMetric(METRIC.NEW_BILLABLE_USERS, 1);
      m.emitMetric(METRIC.NEW_BILLABLE_USERS, 1);
      m.emitMetric(METRIC.IDENTITY_PLUS_LATENCY, 12.5, { unit: 'Milliseconds' });
      m.emitMetric(METRIC.IDENTITY_PLUS_LATENCY, 40);
    });
    const { stdout } = await outputOf(() => handler(undefined, context));
    const emf = emfOf(stdout);
    expect(emf).toHaveLength(1);
    const [doc] = emf;
    expect(doc?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'plusgate',
        Dimensions: [['service']],
        Metrics: [
          { Name: 'NewBillableUsers', Unit: 'Count' },
          { Name: 'IdentityPlusLatency', Unit: 'Milliseconds' },
        ],
      },
    ]);
    expect(doc).toMatchObject({ service: 'plusgate', NewBillableUsers: [1, 1], IdentityPlusLatency: [12.5, 40] });
    expect(Math.abs((doc?._aws.Timestamp ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it('publishes a decision at once with the dimension sets [decision] and [decision, reason]', async () => {
    const m = freshMetrics();
    const { stdout, stderr } = await outputOf(() =>
      m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: 'deny', reason: 'revoked' } }),
    );
    expect(emfOf(stdout)).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'plusgate',
              Dimensions: [
                ['service', 'decision'],
                ['service', 'decision', 'reason'],
              ],
              Metrics: [{ Name: 'Decisions', Unit: 'Count' }],
            },
          ],
        },
        service: 'plusgate',
        decision: 'deny',
        reason: 'revoked',
        Decisions: 1,
      },
    ]);
    // Powertools' warning about the two sets sharing `decision` is expected here and kept out of the logs.
    expect(stderr).toEqual([]);
    expect(stdout).toHaveLength(1);
  });

  it('publishes each decision with its own dimensions only, however many came before', async () => {
    const m = freshMetrics();
    const { stdout } = await outputOf(() => {
      m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: 'allow', reason: 'cleared' } });
      m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: 'deny', reason: 'revoked' } });
      m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: 'allow', reason: 'cleared' } });
    });
    const emf = emfOf(stdout);
    expect(emf.map((e) => [e.decision, e.reason, e.Decisions])).toEqual([
      ['allow', 'cleared', 1],
      ['deny', 'revoked', 1],
      ['allow', 'cleared', 1],
    ]);
    for (const e of emf) {
      expect(e._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
        ['service', 'decision'],
        ['service', 'decision', 'reason'],
      ]);
    }
  });

  it('flushes when the handler fails too, and writes nothing (no warning either) when nothing was emitted', async () => {
    const m = freshMetrics();
    const failing = withMiddleware(m, async () => {
      m.emitMetric(METRIC.LEDGER_WRITE_FAILURES, 1);
      throw new Error('ledger down');
    });
    const { stdout } = await outputOf(() => failing(undefined, context).catch(() => undefined));
    expect(emfOf(stdout).map((d) => d.LedgerWriteFailures)).toEqual([1]);

    const quiet = withMiddleware(m, async () => undefined);
    expect(await outputOf(() => quiet(undefined, context))).toEqual({ stdout: [], stderr: [] });
  });

  it('writes no EMF when POWERTOOLS_METRICS_DISABLED is set (local mode), while the registry still counts', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const m = freshMetrics();
    const handler = withMiddleware(m, async () => {
      m.emitMetric(METRIC.NEW_BILLABLE_USERS, 1);
      m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: 'allow', reason: 'cleared' } });
    });
    expect(await outputOf(() => handler(undefined, context))).toEqual({ stdout: [], stderr: [] });
    expect(m.prometheusText()).toContain('\nplusgate_new_billable_users_total 1\n');
    expect(m.prometheusText()).toContain('\nplusgate_decisions_total{decision="allow",reason="cleared"} 1\n');
  });

  it('drops a value that is not a finite number instead of failing the request', async () => {
    const m = freshMetrics();
    const { stdout, stderr } = await outputOf(() => {
      expect(() => m.emitMetric(METRIC.NEW_BILLABLE_USERS, Number.NaN)).not.toThrow();
      expect(() => m.emitMetric(METRIC.BILLABLE_USERS_THIS_PERIOD, Number.POSITIVE_INFINITY)).not.toThrow();
    });
    expect(emfOf(stdout)).toEqual([]);
    expect(stderr.join('\n')).toContain('metric not emitted');
    expect(m.prometheusText()).toContain('\nplusgate_new_billable_users_total 0\n');
  });
});

describe('prometheusText', () => {
  const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? \S+$/;

  it('lists every metric of the contract with HELP and TYPE, counters at zero before anything happened', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const text = freshMetrics().prometheusText();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) {
      if (line.startsWith('# ')) expect(line).toMatch(/^# (HELP|TYPE) plusgate_[a-z_]+ \S/);
      else expect(line).toMatch(SAMPLE);
    }
    expect(lines).toEqual(
      expect.arrayContaining([
        '# TYPE plusgate_decisions_total counter',
        '# TYPE plusgate_decision_cache_hits_total counter',
        '# TYPE plusgate_identity_plus_latency_seconds histogram',
        '# TYPE plusgate_identity_plus_failures_total counter',
        '# TYPE plusgate_ledger_write_failures_total counter',
        '# TYPE plusgate_degraded_allows_total counter',
        '# TYPE plusgate_intents_created_total counter',
        '# TYPE plusgate_new_billable_users_total counter',
        '# TYPE plusgate_billable_users_this_period gauge',
        '# TYPE plusgate_api_cert_days_left gauge',
        '# TYPE plusgate_api_cert_renewals_total counter',
        '# TYPE plusgate_api_cert_renewal_failures_total counter',
        'plusgate_new_billable_users_total 0',
        'plusgate_identity_plus_latency_seconds_count 0',
      ]),
    );
    // A gauge nobody has set has no value (it is unknown, not zero); decisions have no series yet.
    expect(text).not.toMatch(/^plusgate_billable_users_this_period /m);
    expect(text).not.toMatch(/^plusgate_decisions_total/m);
  });

  it('sums counters per label set, keeps the last gauge value, and shows the latency in seconds', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const m = freshMetrics();
    const allow = { decision: 'allow', reason: 'cleared' };
    m.emitMetric(METRIC.DECISIONS, 1, { dimensions: allow });
    m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { reason: 'cleared', decision: 'allow' } });
    m.emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: 'deny', reason: 'revoked' } });
    m.emitMetric(METRIC.BILLABLE_USERS_THIS_PERIOD, 41);
    m.emitMetric(METRIC.BILLABLE_USERS_THIS_PERIOD, 42);
    for (const ms of [3, 20, 700, 20_000]) m.emitMetric(METRIC.IDENTITY_PLUS_LATENCY, ms, { unit: 'Milliseconds' });

    const text = m.prometheusText();
    expect(text).toContain(
      [
        'plusgate_decisions_total{decision="allow",reason="cleared"} 2',
        'plusgate_decisions_total{decision="deny",reason="revoked"} 1',
      ].join('\n'),
    );
    expect(text).toContain('\nplusgate_billable_users_this_period 42\n');
    expect(text).toContain(
      [
        'plusgate_identity_plus_latency_seconds_bucket{le="0.005"} 1',
        'plusgate_identity_plus_latency_seconds_bucket{le="0.01"} 1',
        'plusgate_identity_plus_latency_seconds_bucket{le="0.025"} 2',
        'plusgate_identity_plus_latency_seconds_bucket{le="0.05"} 2',
        'plusgate_identity_plus_latency_seconds_bucket{le="0.1"} 2',
        'plusgate_identity_plus_latency_seconds_bucket{le="0.25"} 2',
        'plusgate_identity_plus_latency_seconds_bucket{le="0.5"} 2',
        'plusgate_identity_plus_latency_seconds_bucket{le="1"} 3',
        'plusgate_identity_plus_latency_seconds_bucket{le="2.5"} 3',
        'plusgate_identity_plus_latency_seconds_bucket{le="5"} 3',
        'plusgate_identity_plus_latency_seconds_bucket{le="10"} 3',
        'plusgate_identity_plus_latency_seconds_bucket{le="+Inf"} 4',
        'plusgate_identity_plus_latency_seconds_sum 20.723',
        'plusgate_identity_plus_latency_seconds_count 4',
      ].join('\n'),
    );

    m.resetLocalMetrics();
    expect(m.prometheusText()).not.toMatch(/^plusgate_decisions_total/m);
    expect(m.prometheusText()).toContain('\nplusgate_identity_plus_latency_seconds_count 0\n');
  });

  it('escapes label values (backslash, double quote, line feed) and makes dimension names valid label names', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const m = freshMetrics();
    m.emitMetric(METRIC.API_CERT_RENEWAL_FAILURES, 1, { dimensions: { 'why-not': 'a "b" c\\d\ne', '9x': 'y' } });
    const line = m
      .prometheusText()
      .split('\n')
      .find((l) => l.startsWith('plusgate_api_cert_renewal_failures_total{'));
    expect(line).toBe('plusgate_api_cert_renewal_failures_total{_9x="y",why_not="a \\"b\\" c\\\\d\\ne"} 1');
    expect(line).toMatch(SAMPLE);
    expect(m.escapeLabelValue('\\"\n')).toBe('\\\\\\"\\n');
  });

  it('names metrics plusgate_<snake case>, with _total for counters and _seconds for the latency', () => {
    const m = freshMetrics();
    expect(m.prometheusName(METRIC.CACHE_HITS)).toBe('plusgate_decision_cache_hits_total');
    expect(m.prometheusName(METRIC.IDENTITY_PLUS_LATENCY)).toBe('plusgate_identity_plus_latency_seconds');
    expect(m.prometheusName(METRIC.API_CERT_DAYS_LEFT)).toBe('plusgate_api_cert_days_left');
    expect(m.prometheusName(METRIC.NEW_BILLABLE_USERS)).toBe('plusgate_new_billable_users_total');
  });
});
