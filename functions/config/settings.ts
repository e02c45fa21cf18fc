/**
 * The deployment settings of plusgate, each defined once: whether it is a CDK context key (of the same name),
 * the environment variable that carries it to the functions, its default, its parser and what it means.
 * lib/config.ts validates the CDK context with these parsers at synth, lib/runtime-environment.ts writes the
 * variables, and functions/runtime/runtime-config.ts reads them back with the same parsers, so the app and
 * the functions can never disagree. Pure TypeScript (no AWS, no CDK): both lib/ and the Lambda bundles import it.
 *
 * Adding a setting: add an entry here, then use it. A context setting reaches no function by itself: name the
 * functions that read it in `READ_BY` (lib/runtime-environment.ts; the code does not compile until it is named
 * there), and only those get its variable (period close, whose two settings lib/period-close.ts writes itself,
 * is the exception). Read it with the function's reader in functions/runtime/runtime-config.ts:
 * `runtimeConfig()` (edge, verify, authorizer) reads every setting, the report and renewal readers list theirs.
 */
import { INTENT_TYPES } from '../domain/identity-plus';
import { normalizeOrigin } from '../domain/return-destination';
import {
  httpsUrl,
  number,
  oneOf,
  optionalText,
  optionalServiceId,
  type Setting,
  show,
  stringList,
  wholeNumber,
} from './setting-kinds';

export type { ParseOptions, Setting } from './setting-kinds';
export { show } from './setting-kinds';

const HTTPS_ORIGIN =
  'an https origin: scheme and host, optional port, no path or trailing slash, e.g. "https://app.example.com"';

/** The settings, in the order their problems are reported. */
/** What can terminate mutual TLS in front of the edge function (`edge`). */
export const EDGE_KINDS = ['api-gateway', 'cloudfront'] as const;
export type EdgeKind = (typeof EDGE_KINDS)[number];

export const SETTINGS = {
  allowedRoles: stringList({
    context: true,
    env: 'PLUSGATE_ALLOWED_ROLES',
    description: 'Identity Plus roles that grant access; [] = any valid certificate.',
    expected: 'role names such as ["org. administrator"] ([] = any valid certificate)',
    element: (role, bad, strict) => {
      if (role.trim()) return role.trim();
      if (strict) bad('a non-empty role name'); // the functions drop it
      return undefined;
    },
  }),
  allowedReturnOrigins: stringList({
    context: true,
    env: 'PLUSGATE_ALLOWED_RETURN_ORIGINS',
    description: "Origins a `return` destination may be on, besides the edge API's own.",
    expected: 'https origins such as ["https://app.example.com"] ([] = only this domain)',
    element: (origin, bad, strict) => {
      let normal: string | undefined;
      try {
        normal = normalizeOrigin(origin);
      } catch {
        normal = undefined;
      }
      if (normal === undefined || (strict && normal !== origin)) {
        bad(HTTPS_ORIGIN);
        return undefined;
      }
      return normal;
    },
  }),
  billingAnchorDay: wholeNumber({
    context: true,
    env: 'PLUSGATE_BILLING_ANCHOR_DAY',
    description: 'Day of the month each billing period starts.',
    default: 1,
    min: 1,
    max: 28,
    note: 'the day each billing period starts',
  }),
  pricePerUserYear: number(
    {
      context: true,
      env: 'PLUSGATE_PRICE_PER_USER_YEAR',
      description: 'What Identity Plus charges per user and year, in USD (for the report).',
      default: 0.9,
      expected: 'a number >= 0 (USD per user per year, e.g. 0.9)',
    },
    (n) => n >= 0,
  ),
  decisionCacheSeconds: wholeNumber({
    context: true,
    env: 'PLUSGATE_DECISION_CACHE_SECONDS',
    description: 'How long a function reuses an allow from Identity Plus for the same certificate.',
    default: 60,
    min: 0,
    max: 3600,
    unit: 'of seconds',
  }),
  negativeCacheSeconds: wholeNumber({
    context: true,
    env: 'PLUSGATE_NEGATIVE_CACHE_SECONDS',
    description:
      'How long a function reuses a deny or validate answer for the same certificate (floods do not reach Identity Plus); /return always asks fresh.',
    default: 15,
    min: 0,
    max: 300,
    unit: 'of seconds',
    note: '0 = ask Identity Plus every time',
  }),
  intentIntervalSeconds: wholeNumber({
    context: true,
    env: 'PLUSGATE_INTENT_INTERVAL_SECONDS',
    description:
      'At most one Identity Plus intent per certificate in this many seconds; a repeat gets the same sign-on URL.',
    default: 10,
    min: 0,
    max: 600,
    unit: 'of seconds',
    note: '0 = an intent for every request',
  }),
  staleIfErrorSeconds: wholeNumber({
    context: true,
    env: 'PLUSGATE_STALE_IF_ERROR_SECONDS',
    description: 'How long an expired allow may still be used while Identity Plus cannot be reached.',
    default: 0,
    min: 0,
    max: 86_400,
    unit: 'of seconds',
    note: '0 = fail closed',
  }),
  edge: oneOf({
    context: true,
    env: 'PLUSGATE_EDGE',
    description:
      'What terminates mutual TLS in front of the edge function: API Gateway (a certificate is required) or CloudFront (optional viewer mTLS: visitors without one get a landing page).',
    default: 'api-gateway',
    values: EDGE_KINDS,
  }),
  noCertificateHelpUrl: httpsUrl({
    context: true,
    env: 'PLUSGATE_NO_CERTIFICATE_HELP_URL',
    description: 'Where the page for visitors without a certificate sends them to get one.',
    default: 'https://identity.plus',
  }),
  noCertificateHelpText: optionalText({
    context: true,
    env: 'PLUSGATE_NO_CERTIFICATE_HELP_TEXT',
    description:
      "Replaces the explanation on the page for visitors without a certificate (plain text); unset = plusgate's own words.",
    max: 1000,
  }),
  identityPlusApiUrl: httpsUrl({
    context: true,
    env: 'PLUSGATE_IDENTITY_PLUS_API_URL',
    description: 'Base URL of the Identity Plus API.',
    default: 'https://api.identity.plus/v1',
  }),
  identityPlusSignonUrl: httpsUrl({
    context: true,
    env: 'PLUSGATE_IDENTITY_PLUS_SIGNON_URL',
    description: 'Identity Plus sign-on page, where people are sent to validate their certificate.',
    default: 'https://signon.identity.plus',
  }),
  identityPlusService: optionalServiceId({
    context: true,
    env: 'PLUSGATE_IDENTITY_PLUS_SERVICE',
    description:
      "The service every identity inquiry asks on behalf of (Identity-Inquiry `service`: a service the API certificate manages); unset = the API certificate's own service.",
    note: "the service the API certificate asks on behalf of; leave it unset for the certificate's own service",
  }),
  intentType: oneOf({
    context: true,
    env: 'PLUSGATE_INTENT_TYPE',
    description:
      'Type of the intent created when Identity Plus asks for validation (discover: what the public Identity Plus clients send).',
    default: 'discover',
    values: INTENT_TYPES,
  }),
  identityPlusSelfAuthorityUrl: httpsUrl({
    context: true,
    env: 'PLUSGATE_IDENTITY_PLUS_SELF_AUTHORITY_URL',
    description:
      'Base URL of the Identity Plus self-authority API that renews the API certificate (POST <url>/api/v1, renew_certificate).',
    default: 'https://selfauthority.identity.plus',
  }),
  apiCertRenewAtFraction: number(
    {
      context: true,
      env: 'PLUSGATE_API_CERT_RENEW_AT_FRACTION',
      description: "Share of the API certificate's lifetime after which the daily renewal renews it.",
      default: 0.75,
      expected: 'a number greater than 0 and less than 1 (0.75 = renew once 3/4 of the lifetime has passed)',
    },
    (n) => n > 0 && n < 1,
  ),
  shards: wholeNumber({
    context: false,
    env: 'PLUSGATE_SHARDS',
    description: 'Shards per billing period partition of the ledger; changing it hides older records from the report.',
    default: 16,
    min: 1,
    max: 1000,
  }),
  retentionMonths: wholeNumber({
    context: false,
    env: 'PLUSGATE_RETENTION_MONTHS',
    description: 'Months a ledger record is kept after its period ends.',
    default: 25,
    min: 1,
    max: 120,
  }),
};

type Settings = typeof SETTINGS;
/** The name of a setting (the key of its entry in {@link SETTINGS}). */
export type SettingName = keyof Settings;
/** The names of the settings that are also CDK context keys. */
export type ContextSettingName = { [K in SettingName]: Settings[K]['context'] extends true ? K : never }[SettingName];
/** Every setting's parsed value. */
export type SettingValues = { readonly [K in SettingName]: Settings[K]['default'] };
/** The parsed values of the settings that are CDK context keys. */
export type ContextSettingValues = Pick<SettingValues, ContextSettingName>;

/** Every setting's name, in table order. */
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
/** The names of the settings that are CDK context keys, in table order. */
export const CONTEXT_SETTING_NAMES = SETTING_NAMES.filter((name): name is ContextSettingName => SETTINGS[name].context);

/** Where {@link readSettings} finds raw values, and how it names them in messages. */
export interface SettingsSource {
  /** The raw value of a setting; undefined when not set (the default applies). */
  read(name: SettingName): unknown;
  /** The name a message uses: the context key, or the environment variable. */
  label(name: SettingName): string;
  readonly strict: boolean;
}

/** Reads the named settings; a bad value adds one line per problem to `problems` and yields the default. */
export function readSettings<K extends SettingName>(
  names: readonly K[],
  source: SettingsSource,
  problems: string[],
): Pick<SettingValues, K> {
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of names) {
    const setting: Setting<unknown> = SETTINGS[name];
    const raw = source.read(name);
    const parsed =
      raw === undefined
        ? undefined
        : setting.parse(raw, {
            strict: source.strict,
            problem: (value, expected, at = '') => problems.push(problemText(source.label(name) + at, value, expected)),
          });
    values[name] = parsed ?? setting.default;
  }
  return values as Pick<SettingValues, K>;
}

/** The named settings as environment variables, as the functions read them back. */
export function settingsEnvironment<K extends SettingName>(
  values: Pick<SettingValues, K>,
  names: readonly K[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const setting: Setting<unknown> = SETTINGS[name];
    // An optional setting left unset gets no variable: the function reads its absence as the default.
    if (values[name] !== undefined) env[setting.env] = setting.format(values[name]);
  }
  return env;
}

/** The one shape of a configuration problem: `name: got <value>; expected <what>`. */
export function problemText(name: string, value: unknown, expected: string): string {
  return `${name}: got ${show(value)}; expected ${expected}`;
}
