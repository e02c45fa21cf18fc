/**
 * Deployment configuration of the functions, read once per container from the environment. A missing or
 * bad variable fails the cold start with a message naming it (the CDK app validates the same values at
 * synth, so this only trips on a hand-edited function).
 */
import { DEFAULTS, ENV } from '../config/names';
import { ConfigurationError } from '../domain/errors';
import type { IntentType } from '../domain/identity-plus';
import { normalizeOrigin } from '../domain/return-destination';

export interface RuntimeConfig {
  readonly tableName: string;
  readonly apiCertSecret: string;
  /** Needed by the functions that sign validation states (edge, verify). */
  readonly stateKeySecret?: string;
  readonly identityPlusApiUrl: string;
  readonly identityPlusSignonUrl: string;
  /** Extra CA for the API host (local simulator only). */
  readonly identityPlusExtraCa?: string;
  readonly intentType: IntentType;
  readonly allowedRoles: readonly string[];
  readonly allowedReturnOrigins: readonly string[];
  readonly billingAnchorDay: number;
  readonly pricePerUserYear: number;
  readonly decisionCacheSeconds: number;
  readonly staleIfErrorSeconds: number;
  readonly shards: number;
  readonly retentionMonths: number;
  /** Public origin of the edge API; when unset, `https://<requestContext.domainName>`. */
  readonly publicOrigin?: string;
  /** Truststore PEM file for /verify (see ENV.TRUSTSTORE_FILE). */
  readonly truststoreFile?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates the configuration; throws one ConfigurationError listing every problem. */
export function readRuntimeConfig(env: Env = process.env): RuntimeConfig {
  const problems: string[] = [];
  const { required, optional, int } = envReader(env, problems);
  const stringList = (name: string): string[] => {
    const raw = optional(name);
    if (raw === undefined) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed;
    } catch {
      /* reported below */
    }
    problems.push(`${name} must be a JSON array of strings, got ${JSON.stringify(raw.slice(0, 60))}`);
    return [];
  };
  const url = (name: string, fallback: string): string => {
    const raw = optional(name) ?? fallback;
    try {
      if (new URL(raw).protocol === 'https:') return raw.replace(/\/+$/, '');
    } catch {
      /* reported below */
    }
    problems.push(`${name} must be an https URL, got "${raw}"`);
    return raw;
  };

  const intentType = optional(ENV.INTENT_TYPE) ?? DEFAULTS.intentType;
  if (intentType !== 'validate' && intentType !== 'discover')
    problems.push(`${ENV.INTENT_TYPE} must be validate or discover, got "${intentType}"`);
  const price = Number(optional(ENV.PRICE_PER_USER_YEAR) ?? DEFAULTS.pricePerUserYear);
  if (!Number.isFinite(price) || price < 0) problems.push(`${ENV.PRICE_PER_USER_YEAR} must be a number >= 0`);

  const origins: string[] = [];
  for (const origin of stringList(ENV.ALLOWED_RETURN_ORIGINS)) {
    try {
      origins.push(normalizeOrigin(origin));
    } catch {
      problems.push(
        `${ENV.ALLOWED_RETURN_ORIGINS} holds "${origin}", which is not an origin like https://app.example.com`,
      );
    }
  }
  let publicOrigin = optional(ENV.PUBLIC_ORIGIN);
  if (publicOrigin) {
    try {
      publicOrigin = normalizeOrigin(publicOrigin);
    } catch {
      problems.push(`${ENV.PUBLIC_ORIGIN} must be an origin like https://auth.example.com, got "${publicOrigin}"`);
    }
  }

  const config: RuntimeConfig = {
    tableName: required(ENV.TABLE_NAME),
    apiCertSecret: required(ENV.API_CERT_SECRET),
    stateKeySecret: optional(ENV.STATE_KEY_SECRET),
    identityPlusApiUrl: url(ENV.IDENTITY_PLUS_API_URL, DEFAULTS.identityPlusApiUrl),
    identityPlusSignonUrl: url(ENV.IDENTITY_PLUS_SIGNON_URL, DEFAULTS.identityPlusSignonUrl),
    identityPlusExtraCa: optional(ENV.IDENTITY_PLUS_EXTRA_CA),
    intentType: intentType as IntentType,
    allowedRoles: stringList(ENV.ALLOWED_ROLES)
      .map((r) => r.trim())
      .filter(Boolean),
    allowedReturnOrigins: origins,
    billingAnchorDay: int(ENV.BILLING_ANCHOR_DAY, DEFAULTS.billingAnchorDay, 1, 28),
    pricePerUserYear: price,
    decisionCacheSeconds: int(ENV.DECISION_CACHE_SECONDS, DEFAULTS.decisionCacheSeconds, 0, 3600),
    staleIfErrorSeconds: int(ENV.STALE_IF_ERROR_SECONDS, DEFAULTS.staleIfErrorSeconds, 0, 86_400),
    shards: int(ENV.SHARDS, DEFAULTS.shards, 1, 1000),
    retentionMonths: int(ENV.RETENTION_MONTHS, DEFAULTS.retentionMonths, 1, 120),
    publicOrigin,
    truststoreFile: optional(ENV.TRUSTSTORE_FILE),
  };
  if (problems.length) throw new ConfigurationError(`plusgate configuration: ${problems.join('; ')}`);
  return config;
}

/** The settings of the report functions (`/report` and period close): no secrets, no Identity Plus. */
export interface ReportConfig {
  readonly tableName: string;
  readonly billingAnchorDay: number;
  readonly pricePerUserYear: number;
  readonly shards: number;
  readonly retentionMonths: number;
}

/** Reads and validates the report functions' configuration; throws one ConfigurationError listing every problem. */
export function readReportConfig(env: Env = process.env): ReportConfig {
  const problems: string[] = [];
  const { required, optional, int } = envReader(env, problems);
  const price = Number(optional(ENV.PRICE_PER_USER_YEAR) ?? DEFAULTS.pricePerUserYear);
  if (!Number.isFinite(price) || price < 0) problems.push(`${ENV.PRICE_PER_USER_YEAR} must be a number >= 0`);
  const config: ReportConfig = {
    tableName: required(ENV.TABLE_NAME),
    billingAnchorDay: int(ENV.BILLING_ANCHOR_DAY, DEFAULTS.billingAnchorDay, 1, 28),
    pricePerUserYear: price,
    shards: int(ENV.SHARDS, DEFAULTS.shards, 1, 1000),
    retentionMonths: int(ENV.RETENTION_MONTHS, DEFAULTS.retentionMonths, 1, 120),
  };
  if (problems.length) throw new ConfigurationError(`plusgate configuration: ${problems.join('; ')}`);
  return config;
}

/** Readers of single variables that collect what is wrong in `problems` instead of throwing at the first. */
function envReader(env: Env, problems: string[]) {
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined;
  return {
    optional,
    required: (name: string): string => {
      const value = env[name]?.trim();
      if (!value) problems.push(`${name} is not set`);
      return value ?? '';
    },
    int: (name: string, fallback: number, min: number, max: number): number => {
      const raw = optional(name);
      if (raw === undefined) return fallback;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max)
        problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return n;
    },
  };
}
