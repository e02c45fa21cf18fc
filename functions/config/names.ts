/**
 * Names shared by the infrastructure (lib/) and the runtime (functions/): environment variables and
 * route paths. With settings.ts (the deployment settings), the only modules lib/ imports from functions/.
 */
import { SETTINGS } from './settings';

/**
 * Every environment variable of the functions. Those of the deployment settings are defined in SETTINGS
 * (settings.ts) and only named here; a new setting needs no line here (`SETTINGS.x.env`).
 */
export const ENV = {
  /** DynamoDB table holding one record per (billing period, user). */
  TABLE_NAME: 'PLUSGATE_TABLE_NAME',
  /** Secrets Manager name/ARN of the Identity Plus API certificate secret. */
  API_CERT_SECRET: 'PLUSGATE_API_CERT_SECRET',
  /** Secrets Manager name/ARN of the generated state-signing key. */
  STATE_KEY_SECRET: 'PLUSGATE_STATE_KEY_SECRET',
  IDENTITY_PLUS_API_URL: SETTINGS.identityPlusApiUrl.env,
  IDENTITY_PLUS_SIGNON_URL: SETTINGS.identityPlusSignonUrl.env,
  /** PEM of an extra CA to trust for the API host (local simulator only); empty in AWS. */
  IDENTITY_PLUS_EXTRA_CA: 'PLUSGATE_IDENTITY_PLUS_EXTRA_CA',
  INTENT_TYPE: SETTINGS.intentType.env,
  ALLOWED_ROLES: SETTINGS.allowedRoles.env,
  ALLOWED_RETURN_ORIGINS: SETTINGS.allowedReturnOrigins.env,
  BILLING_ANCHOR_DAY: SETTINGS.billingAnchorDay.env,
  PRICE_PER_USER_YEAR: SETTINGS.pricePerUserYear.env,
  DECISION_CACHE_SECONDS: SETTINGS.decisionCacheSeconds.env,
  STALE_IF_ERROR_SECONDS: SETTINGS.staleIfErrorSeconds.env,
  SHARDS: SETTINGS.shards.env,
  RETENTION_MONTHS: SETTINGS.retentionMonths.env,
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
/** Forward-auth by proxy dialect on the service API (functions/adapters/proxy-dialects.ts): any method. */
export const AUTH_ROUTES = {
  DIALECT: '/auth/{dialect}',
  DIALECT_PATH: '/auth/{dialect}/{path+}',
} as const;

export const SERVICE_ROUTES = {
  VERIFY: '/verify',
  REPORT: '/report',
} as const;

/**
 * The service API's identity operations (IAM-authorised in AWS; served by the verify function): bind our
 * service's user ids to Identity Plus identities and report intruders. See functions/handlers/identity-ops-app.ts.
 */
export const IDENTITY_ROUTES = {
  BINDINGS: '/bindings',
  BINDING: '/bindings/{localUserId}',
  INTRUSIONS: '/intrusions',
  INTRUSION: '/intrusions/{reference}',
} as const;

/**
 * The viewer request headers the CloudFront edge's origin request policy forwards to the edge function
 * (lib/cloudfront-edge.ts; local mode's stand-in applies the same list, local/cloudfront-viewer.ts): the
 * certificate headers CloudFront sets (only an allow-list reaches the origin; the managed policies predate
 * viewer mTLS), the viewer's address (the function URL's `sourceIp` is CloudFront's), and `Accept` (HTML or
 * JSON answers). Never `Host`: OAC signs the request for the function URL's host. 9 of the 10 headers a
 * policy may name.
 */
export const CLOUDFRONT_ORIGIN_HEADERS = [
  'CloudFront-Viewer-Cert-Present',
  'CloudFront-Viewer-Cert-Pem',
  'CloudFront-Viewer-Cert-Serial-Number',
  'CloudFront-Viewer-Cert-Issuer',
  'CloudFront-Viewer-Cert-Subject',
  'CloudFront-Viewer-Cert-Sha256',
  'CloudFront-Viewer-Cert-Validity',
  'CloudFront-Viewer-Address',
  'Accept',
] as const;
