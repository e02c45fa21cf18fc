/**
 * Names shared by the infrastructure (lib/) and the runtime (functions/): environment variables and
 * route paths. This is the only module lib/ imports from functions/.
 */
export const ENV = {
  /** DynamoDB table holding one record per (billing period, user). */
  TABLE_NAME: 'PLUSGATE_TABLE_NAME',
  /** Secrets Manager name/ARN of the Identity Plus API certificate secret. */
  API_CERT_SECRET: 'PLUSGATE_API_CERT_SECRET',
  /** Secrets Manager name/ARN of the generated state-signing key. */
  STATE_KEY_SECRET: 'PLUSGATE_STATE_KEY_SECRET',
  IDENTITY_PLUS_API_URL: 'PLUSGATE_IDENTITY_PLUS_API_URL',
  IDENTITY_PLUS_SIGNON_URL: 'PLUSGATE_IDENTITY_PLUS_SIGNON_URL',
  /** PEM of an extra CA to trust for the API host (local simulator only); empty in AWS. */
  IDENTITY_PLUS_EXTRA_CA: 'PLUSGATE_IDENTITY_PLUS_EXTRA_CA',
  /** Intent type sent for validation redirects: validate (default) or discover. */
  INTENT_TYPE: 'PLUSGATE_INTENT_TYPE',
  /** JSON array of roles; empty = any valid certificate. */
  ALLOWED_ROLES: 'PLUSGATE_ALLOWED_ROLES',
  /** JSON array of origins a `return` destination may be on; empty = the gateway's own origin. */
  ALLOWED_RETURN_ORIGINS: 'PLUSGATE_ALLOWED_RETURN_ORIGINS',
  BILLING_ANCHOR_DAY: 'PLUSGATE_BILLING_ANCHOR_DAY',
  PRICE_PER_USER_YEAR: 'PLUSGATE_PRICE_PER_USER_YEAR',
  DECISION_CACHE_SECONDS: 'PLUSGATE_DECISION_CACHE_SECONDS',
  STALE_IF_ERROR_SECONDS: 'PLUSGATE_STALE_IF_ERROR_SECONDS',
  /** Number of shards per billing period partition (default 16). */
  SHARDS: 'PLUSGATE_SHARDS',
  /** Months a record is kept after its period ends (default 25). */
  RETENTION_MONTHS: 'PLUSGATE_RETENTION_MONTHS',
  /**
   * PEM file of the CAs a certificate given to /verify must chain to (the edge truststore). Relative paths
   * are resolved against the handler's folder: the CDK app copies the truststore into the bundle.
   */
  TRUSTSTORE_FILE: 'PLUSGATE_TRUSTSTORE_FILE',
  /** S3 bucket the period-close function writes each closed period's report to. */
  REPORTS_BUCKET: 'PLUSGATE_REPORTS_BUCKET',
  /** Public origin of the edge API (https://auth.example.com); derived from the request when unset. */
  PUBLIC_ORIGIN: 'PLUSGATE_PUBLIC_ORIGIN',
} as const;

/** Routes of the edge (mutual TLS) API. */
export const EDGE_ROUTES = {
  SIGNIN: '/signin',
  RETURN: '/return',
  WHOAMI: '/whoami',
} as const;

/** Routes of the service (IAM) API. */
export const SERVICE_ROUTES = {
  VERIFY: '/verify',
  REPORT: '/report',
} as const;

/**
 * Defaults of the deployment settings, shared by the CDK app (lib/config.ts) and the functions
 * (functions/handlers/runtime-config.ts) so the two can never disagree.
 */
export const DEFAULTS = {
  identityPlusApiUrl: 'https://api.identity.plus/v1',
  identityPlusSignonUrl: 'https://signon.identity.plus',
  intentType: 'validate',
  billingAnchorDay: 1,
  pricePerUserYear: 0.9,
  decisionCacheSeconds: 60,
  staleIfErrorSeconds: 0,
  shards: 16,
  retentionMonths: 25,
} as const;
