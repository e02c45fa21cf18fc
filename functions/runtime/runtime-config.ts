/**
 * Deployment configuration of the functions, read once per container from the environment. A missing or
 * bad variable fails the cold start with a message naming it. The settings are read with the parsers of
 * their table (functions/config/settings.ts), the same the CDK app validates them with at synth, so this
 * only trips on a hand-edited function.
 */
import { ENV } from '../config/names';
import { readSettings, SETTING_NAMES, SETTINGS, type SettingName, type SettingValues } from '../config/settings';
import { ConfigurationError } from '../domain/errors';
import { normalizeOrigin } from '../domain/return-destination';

/** Every function setting (see SETTINGS), and the resources and values the CDK app or local mode set. */
export interface RuntimeConfig extends SettingValues {
  readonly tableName: string;
  readonly apiCertSecret: string;
  /** Needed by the functions that sign validation states (edge, verify). */
  readonly stateKeySecret?: string;
  /** Extra CA for the API host (local simulator only). */
  readonly identityPlusExtraCa?: string;
  /** Public origin of the edge API; when unset, `https://<requestContext.domainName>`. */
  readonly publicOrigin?: string;
  /** Truststore PEM file for /verify (see ENV.TRUSTSTORE_FILE). */
  readonly truststoreFile?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates the configuration; throws one ConfigurationError listing every problem. */
export function readRuntimeConfig(env: Env = process.env): RuntimeConfig {
  const problems: string[] = [];
  const { required, optional } = envReader(env, problems);
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
    identityPlusExtraCa: optional(ENV.IDENTITY_PLUS_EXTRA_CA),
    publicOrigin,
    truststoreFile: optional(ENV.TRUSTSTORE_FILE),
    ...readSettings(SETTING_NAMES, settingsFrom(env), problems),
  };
  if (problems.length) throw new ConfigurationError(`plusgate configuration: ${problems.join('; ')}`);
  return config;
}

const REPORT_SETTINGS = ['billingAnchorDay', 'pricePerUserYear', 'shards', 'retentionMonths'] as const;

/** The settings of the report functions (`/report` and period close): no secrets, no Identity Plus. */
export interface ReportConfig extends Pick<SettingValues, (typeof REPORT_SETTINGS)[number]> {
  readonly tableName: string;
}

/** Reads and validates the report functions' configuration; throws one ConfigurationError listing every problem. */
export function readReportConfig(env: Env = process.env): ReportConfig {
  const problems: string[] = [];
  const { required } = envReader(env, problems);
  const config: ReportConfig = {
    tableName: required(ENV.TABLE_NAME),
    ...readSettings(REPORT_SETTINGS, settingsFrom(env), problems),
  };
  if (problems.length) throw new ConfigurationError(`plusgate configuration: ${problems.join('; ')}`);
  return config;
}

const RENEWAL_SETTINGS = ['identityPlusSelfAuthorityUrl', 'apiCertRenewAtFraction'] as const;

/** The settings of the API certificate renewal: its secret, the self-authority API and when to renew. */
export interface RenewalConfig extends Pick<SettingValues, (typeof RENEWAL_SETTINGS)[number]> {
  readonly apiCertSecret: string;
  /** Extra CA for the self-authority host (local simulator only). */
  readonly identityPlusExtraCa?: string;
}

/** Reads and validates the renewal function's configuration; throws one ConfigurationError listing every problem. */
export function readRenewalConfig(env: Env = process.env): RenewalConfig {
  const problems: string[] = [];
  const { required, optional } = envReader(env, problems);
  const config: RenewalConfig = {
    apiCertSecret: required(ENV.API_CERT_SECRET),
    identityPlusExtraCa: optional(ENV.IDENTITY_PLUS_EXTRA_CA),
    ...readSettings(RENEWAL_SETTINGS, settingsFrom(env), problems),
  };
  if (problems.length) throw new ConfigurationError(`plusgate configuration: ${problems.join('; ')}`);
  return config;
}

/** The settings as their environment variables hold them: trimmed, an empty variable counts as unset. */
function settingsFrom(env: Env) {
  const variable = (name: SettingName) => SETTINGS[name].env;
  return { read: (name: SettingName) => env[variable(name)]?.trim() || undefined, label: variable, strict: false };
}

/** Readers of single variables that collect what is wrong in `problems` instead of throwing at the first. */
function envReader(env: Env, problems: string[]) {
  return {
    optional: (name: string): string | undefined => env[name]?.trim() || undefined,
    required: (name: string): string => {
      const value = env[name]?.trim();
      if (!value) problems.push(`${name} is not set`);
      return value ?? '';
    },
  };
}
