/**
 * The CloudWatch metrics plusgate emits: one contract shared by the functions that emit them
 * (functions/runtime/metrics.ts), the alarms and dashboard that watch them (lib/), and local mode's
 * `GET /metrics`. Every metric is in {@link METRICS_NAMESPACE} with the dimension `service` =
 * {@link METRICS_SERVICE}; `Decisions` is emitted only per `decision` and per `decision` + `reason` (there is no
 * series of all decisions: a total is the sum of the per-decision series).
 */

/** CloudWatch namespace of every plusgate metric. */
export const METRICS_NAMESPACE = 'plusgate';
/** Value of the `service` dimension every metric carries (Powertools' default dimension). */
export const METRICS_SERVICE = 'plusgate';

/** Dimension names. */
export const DIMENSION = {
  SERVICE: 'service',
  DECISION: 'decision',
  REASON: 'reason',
} as const;

/** Metric names, with their unit and what one data point means. */
export const METRIC = {
  /** Count: one per decision made (edge, verify, forward-auth, authorizer), by `decision` and `reason`. */
  DECISIONS: 'Decisions',
  /** Count: decisions answered from this container's decision cache. */
  CACHE_HITS: 'DecisionCacheHits',
  /** Milliseconds: one per Identity Plus call (inquiry or intent), answered or not. */
  IDENTITY_PLUS_LATENCY: 'IdentityPlusLatency',
  /** Count: Identity Plus calls that got no usable answer (timeout, refused, 5xx, garbage) or an ER code. */
  IDENTITY_PLUS_FAILURES: 'IdentityPlusFailures',
  /** Count: ledger writes that failed (the request then failed with 503). */
  LEDGER_WRITE_FAILURES: 'LedgerWriteFailures',
  /** Count: allows served from the stale-if-error grace because Identity Plus could not answer. */
  DEGRADED_ALLOWS: 'DegradedAllows',
  /** Count: validation intents created at Identity Plus. */
  INTENTS_CREATED: 'IntentsCreated',
  /** Count: users billed for the first time in their billing period (the ledger write created the item). */
  NEW_BILLABLE_USERS: 'NewBillableUsers',
  /** Count (a gauge): billable users of the current period so far, counted from the ledger every hour. */
  BILLABLE_USERS_THIS_PERIOD: 'BillableUsersThisPeriod',
  /** Count (a gauge, days): days until the Identity Plus API certificate expires, emitted daily. */
  API_CERT_DAYS_LEFT: 'ApiCertDaysLeft',
  /** Count: API certificate renewals stored. */
  API_CERT_RENEWALS: 'ApiCertRenewals',
  /** Count: API certificate renewals that failed (nothing was stored; the old certificate stays). */
  API_CERT_RENEWAL_FAILURES: 'ApiCertRenewalFailures',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
