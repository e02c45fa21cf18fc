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
import type { IntentType } from '../domain/identity-plus';
import { normalizeOrigin } from '../domain/return-destination';

/** How a value is read: at synth (strict) or in a function. */
export interface ParseOptions {
  /**
   * true at synth: refuse what the functions would quietly normalise (a blank role, an origin not written as
   * `https://host[:port]`), so cdk.json says exactly what is deployed.
   */
  readonly strict: boolean;
  /** Reports a bad value: `at` names a list element (`[1]`), `expected` says what would be accepted. */
  readonly problem: (value: unknown, expected: string, at?: string) => void;
}

/** One deployment setting. */
export interface Setting<T, E extends string = string, C extends boolean = boolean> {
  /** true: set at synth with the CDK context key of the same name; false: functions only (the default applies in AWS). */
  readonly context: C;
  /** The environment variable that carries it to the functions. */
  readonly env: E;
  /** The value when the context key or the variable is not set (or empty). */
  readonly default: T;
  /** What it means, in one line. */
  readonly description: string;
  /**
   * Parses a set value: a string (an environment variable, `-c key=value`) or a JSON value (cdk.json). Reports
   * every problem through `options.problem` and then returns undefined.
   */
  parse(raw: unknown, options: ParseOptions): T | undefined;
  /** The value as its environment variable holds it (read back by `parse`). */
  format(value: T): string;
}

interface Common<E extends string, C extends boolean> {
  readonly context: C;
  readonly env: E;
  readonly description: string;
}

/** An integer in [min, max]; `unit` and `note` go into the message (`a whole number of seconds from 0 to 60 (note)`). */
function wholeNumber<E extends string, C extends boolean>(
  spec: Common<E, C> & { default: number; min: number; max: number; unit?: string; note?: string },
): Setting<number, E, C> {
  const { min, max, unit, note, ...common } = spec;
  return number(
    { ...common, expected: `a whole number${unit ? ` ${unit}` : ''} from ${min} to ${max}${note ? ` (${note})` : ''}` },
    (n) => Number.isInteger(n) && n >= min && n <= max,
  );
}

/** A decimal number: JSON numbers, or strings such as "0.9", " 28 " or "1e-7" (what `String(number)` writes). */
const DECIMAL = /^\s*-?\d+(\.\d+)?(e[-+]?\d+)?\s*$/i;

/** A number that `valid` accepts; `expected` says which, for the message. */
function number<E extends string, C extends boolean>(
  spec: Common<E, C> & { default: number; expected: string },
  valid: (n: number) => boolean,
): Setting<number, E, C> {
  const { expected, ...common } = spec;
  return {
    ...common,
    parse(raw, { problem }) {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && DECIMAL.test(raw) ? Number(raw) : NaN;
      if (Number.isFinite(n) && valid(n)) return n;
      problem(raw, expected);
      return undefined;
    },
    format: (n) => String(n),
  };
}

/** An https base URL; trailing slashes are dropped. */
function httpsUrl<E extends string, C extends boolean>(
  spec: Common<E, C> & { default: string },
): Setting<string, E, C> {
  const expected = `an https URL without credentials, query or fragment, e.g. ${show(spec.default)}`;
  return {
    ...spec,
    parse(raw, { problem }) {
      if (typeof raw === 'string' && URL.canParse(raw)) {
        const url = new URL(raw);
        if (url.protocol === 'https:' && !url.username && !url.password && !url.search && !url.hash)
          return raw.replace(/\/+$/, '');
      }
      problem(raw, expected);
      return undefined;
    },
    format: (url) => url,
  };
}

/** One of a few words. */
function oneOf<V extends string, E extends string, C extends boolean>(
  spec: Common<E, C> & { default: V; values: readonly V[] },
): Setting<V, E, C> {
  const { values, ...common } = spec;
  const quoted = values.map((v) => JSON.stringify(v));
  const expected = `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
  return {
    ...common,
    parse(raw, { problem }) {
      const found = values.find((v) => v === raw);
      if (found === undefined) problem(raw, expected);
      return found;
    },
    format: (value) => value,
  };
}

/**
 * A list of strings: a JSON array, or a string holding one (an environment variable, `-c key=[...]`). `element`
 * returns the value to keep, or undefined to drop it (after `bad`, which reports it, when it is wrong).
 */
function stringList<E extends string, C extends boolean>(
  spec: Common<E, C> & {
    expected: string;
    element: (s: string, bad: (expected: string) => void, strict: boolean) => string | undefined;
  },
): Setting<readonly string[], E, C> {
  const { expected, element, ...common } = spec;
  return {
    ...common,
    default: [],
    parse(raw, { strict, problem }) {
      let list: unknown = raw;
      if (typeof raw === 'string') {
        try {
          list = JSON.parse(raw);
        } catch {
          list = undefined;
        }
      }
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
        problem(raw, `${expected}, as a JSON array of strings`);
        return undefined;
      }
      const out: string[] = [];
      let ok = true;
      list.forEach((s: string, i) => {
        const value = element(
          s,
          (why) => {
            ok = false;
            problem(s, why, `[${i}]`);
          },
          strict,
        );
        if (value !== undefined) out.push(value);
      });
      return ok ? out : undefined;
    },
    format: (list) => JSON.stringify(list),
  };
}

const INTENT_TYPES: readonly IntentType[] = ['validate', 'discover'];
const HTTPS_ORIGIN =
  'an https origin: scheme and host, optional port, no path or trailing slash, e.g. "https://app.example.com"';

/** The settings, in the order their problems are reported. */
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
  intentType: oneOf({
    context: true,
    env: 'PLUSGATE_INTENT_TYPE',
    description: 'Intent type sent when Identity Plus asks for validation.',
    default: 'validate',
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
    env[setting.env] = setting.format(values[name]);
  }
  return env;
}

/** The one shape of a configuration problem: `name: got <value>; expected <what>`. */
export function problemText(name: string, value: unknown, expected: string): string {
  return `${name}: got ${show(value)}; expected ${expected}`;
}

/** A value as it appears in a message: JSON, shortened. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
