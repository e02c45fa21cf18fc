/**
 * Deployment configuration from CDK context (`cdk.json` "context" or `-c key=value`), validated at synth.
 * Values given with `-c` arrive as strings, so numbers and JSON arrays are parsed from strings too.
 * Every problem is collected and thrown at once, each naming the key, the bad value and what is expected.
 */
import * as path from 'node:path';
import { DEFAULTS } from '../functions/config/names';
import { readTruststore, type TruststorePem } from './truststore-pem';

/** Intent type sent when Identity Plus asks for validation (see identityplus-api.md, Intents). */
export type IntentType = 'validate' | 'discover';

/** A Route 53 public hosted zone that gets an alias record for the domain. */
export interface HostedZoneConfig {
  readonly id: string;
  /** Zone apex, e.g. `example.com` (no trailing dot). */
  readonly name: string;
}

/** The validated configuration of one plusgate deployment. */
export interface PlusgateConfig {
  /** Custom domain of the edge API, e.g. `auth.example.com`. */
  readonly domainName: string;
  /** ACM certificate for `domainName`, in the account and region the stack deploys to. */
  readonly certificateArn: string;
  /** Account and region of `certificateArn`: where the stack deploys (a REGIONAL domain needs both to match). */
  readonly account: string;
  readonly region: string;
  /** @default - no DNS record is created; point DNS at the `RegionalDomainName` output yourself */
  readonly hostedZone?: HostedZoneConfig;
  /** Needed by API Gateway for mTLS when `certificateArn` is an imported or private-CA certificate. @default - none */
  readonly ownershipVerificationCertificateArn?: string;
  /** The checked truststore (Identity Plus CA certificates only). */
  readonly truststore: TruststorePem;
  /** Warnings about the truststore that don't stop the synth (e.g. an expired CA). */
  readonly truststoreWarnings: readonly string[];
  /** Secrets Manager name of the Identity Plus API certificate secret (created with `npm run put-api-cert`). */
  readonly apiCertSecretName: string;
  readonly allowedRoles: readonly string[];
  readonly allowedReturnOrigins: readonly string[];
  readonly billingAnchorDay: number;
  readonly pricePerUserYear: number;
  readonly decisionCacheSeconds: number;
  readonly staleIfErrorSeconds: number;
  readonly identityPlusApiUrl: string;
  readonly identityPlusSignonUrl: string;
  readonly intentType: IntentType;
}

/** The context keys this app reads, with their defaults (undefined = required or optional without default). */
export const CONFIG_DEFAULTS = {
  allowedRoles: [] as string[],
  allowedReturnOrigins: [] as string[],
  billingAnchorDay: DEFAULTS.billingAnchorDay,
  pricePerUserYear: DEFAULTS.pricePerUserYear,
  decisionCacheSeconds: DEFAULTS.decisionCacheSeconds,
  staleIfErrorSeconds: DEFAULTS.staleIfErrorSeconds,
  identityPlusApiUrl: DEFAULTS.identityPlusApiUrl,
  identityPlusSignonUrl: DEFAULTS.identityPlusSignonUrl,
  intentType: DEFAULTS.intentType as IntentType,
} as const;

/** Thrown when the configuration is invalid; `problems` holds one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid plusgate configuration (cdk.json "context" or -c key=value), ${problems.length} problem(s):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Where relative paths (truststorePath) are resolved from. @default process.cwd() (where cdk.json is) */
export interface LoadConfigOptions {
  readonly baseDir?: string;
  /** Clock for the truststore expiry check. @default new Date() */
  readonly now?: Date;
}

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const ACM_ARN = /^arn:(aws[a-z-]*):acm:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):certificate\/[A-Za-z0-9-]+$/;
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/**
 * Reads and validates the configuration. `get` is `node.tryGetContext`-like: it returns the raw context
 * value of a key or undefined.
 */
export function loadConfig(get: (key: string) => unknown, options: LoadConfigOptions = {}): PlusgateConfig {
  const problems: string[] = [];
  const bad = (key: string, value: unknown, expected: string): void => {
    problems.push(`${key}: got ${show(value)}; expected ${expected}`);
  };
  /** The raw value, with "" (an empty -c value) treated as not set. */
  const raw = (key: string): unknown => {
    const value = get(key);
    return value === '' || value === null ? undefined : value;
  };

  const requiredString = (key: string, pattern: RegExp, expected: string): string => {
    const value = raw(key);
    if (value === undefined) {
      problems.push(`${key}: missing; expected ${expected}`);
      return '';
    }
    if (typeof value !== 'string' || !pattern.test(value)) bad(key, value, expected);
    return String(value);
  };
  const optionalString = (key: string, pattern: RegExp, expected: string): string | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !pattern.test(value)) bad(key, value, expected);
    return String(value);
  };
  const number = (key: string, fallback: number, check: (n: number) => boolean, expected: string): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isFinite(n) || !check(n)) {
      bad(key, value, expected);
      return fallback;
    }
    return n;
  };
  const stringArray = (key: string, expected: string, each: (s: string) => string | undefined): string[] => {
    const value = raw(key);
    if (value === undefined) return [];
    let list: unknown = value;
    if (typeof value === 'string') {
      try {
        list = JSON.parse(value);
      } catch {
        list = undefined;
      }
    }
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
      bad(key, value, `${expected}, as a JSON array of strings`);
      return [];
    }
    const out: string[] = [];
    list.forEach((s: string, i) => {
      const problem = each(s);
      if (problem) bad(`${key}[${i}]`, s, problem);
      else out.push(s);
    });
    return out;
  };
  const httpsUrl = (key: string, fallback: string): string => {
    const value = raw(key) ?? fallback;
    const expected = `an https URL without credentials, query or fragment, e.g. ${show(fallback)}`;
    if (typeof value !== 'string') {
      bad(key, value, expected);
      return fallback;
    }
    try {
      const url = new URL(value);
      if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash)
        bad(key, value, expected);
    } catch {
      bad(key, value, expected);
    }
    return value.replace(/\/+$/, '');
  };

  const domainName = requiredString(
    'domainName',
    HOSTNAME,
    'a lower-case DNS name such as "auth.example.com" (no scheme, no wildcard, no trailing dot)',
  );
  const certificateArn = requiredString(
    'certificateArn',
    ACM_ARN,
    'an ACM certificate ARN such as "arn:aws:acm:eu-west-1:123456789012:certificate/<id>" for domainName, in the region you deploy to',
  );
  const acm = ACM_ARN.exec(certificateArn);

  const hostedZoneId = optionalString(
    'hostedZoneId',
    HOSTED_ZONE_ID,
    'a Route 53 hosted zone ID such as "Z0123456789ABCDEFGHIJ"',
  );
  let hostedZoneName = optionalString('hostedZoneName', /^.+$/, 'the hosted zone name such as "example.com"');
  let hostedZone: HostedZoneConfig | undefined;
  if ((hostedZoneId === undefined) !== (hostedZoneName === undefined)) {
    problems.push(
      `hostedZoneId and hostedZoneName: got ${hostedZoneId === undefined ? 'only hostedZoneName' : 'only hostedZoneId'}; expected both (to create the DNS alias record) or neither`,
    );
  } else if (hostedZoneId !== undefined && hostedZoneName !== undefined) {
    hostedZoneName = hostedZoneName.replace(/\.$/, '');
    if (!HOSTNAME.test(hostedZoneName)) {
      bad('hostedZoneName', hostedZoneName, 'a lower-case DNS zone name such as "example.com"');
    } else if (domainName !== hostedZoneName && !domainName.endsWith(`.${hostedZoneName}`)) {
      bad('hostedZoneName', hostedZoneName, `the zone that contains domainName "${domainName}"`);
    }
    hostedZone = { id: hostedZoneId, name: hostedZoneName };
  }

  const ownershipVerificationCertificateArn = optionalString(
    'ownershipVerificationCertificateArn',
    ACM_ARN,
    'an ACM certificate ARN (a public ACM certificate for domainName, needed only when certificateArn is imported or from a private CA)',
  );

  let truststore: TruststorePem | undefined;
  let truststoreWarnings: readonly string[] = [];
  const truststorePath = raw('truststorePath');
  const truststoreExpected = 'a PEM file holding only the Identity Plus CA certificates (root and intermediate)';
  if (truststorePath === undefined) {
    problems.push(`truststorePath: missing; expected the path of ${truststoreExpected}`);
  } else if (typeof truststorePath !== 'string') {
    bad('truststorePath', truststorePath, `the path of ${truststoreExpected}`);
  } else {
    const file = path.resolve(options.baseDir ?? process.cwd(), truststorePath);
    const result = readTruststore(file, options.now);
    if (result.ok) {
      truststore = result.truststore;
      truststoreWarnings = result.warnings.map((w) => `truststorePath ${show(truststorePath)}: ${w}`);
    } else {
      for (const p of result.problems) {
        problems.push(
          `truststorePath: got ${show(truststorePath)} (${file}), but ${p}; expected ${truststoreExpected}`,
        );
      }
    }
  }

  const apiCertSecretName = requiredString(
    'apiCertSecretName',
    SECRET_NAME,
    'the Secrets Manager secret *name* (not ARN) holding the Identity Plus API certificate, e.g. "plusgate/identity-plus-api-cert": 1-512 of A-Z a-z 0-9 / _ + = . @ -',
  );
  const allowedRoles = stringArray(
    'allowedRoles',
    'role names such as ["org. administrator"] ([] = any valid certificate)',
    (s) => (s.trim() === '' ? 'a non-empty role name' : undefined),
  );
  const allowedReturnOrigins = stringArray(
    'allowedReturnOrigins',
    'https origins such as ["https://app.example.com"] ([] = only this domain)',
    (s) =>
      isHttpsOrigin(s)
        ? undefined
        : 'an https origin: scheme and host, optional port, no path or trailing slash, e.g. "https://app.example.com"',
  );
  const billingAnchorDay = number(
    'billingAnchorDay',
    CONFIG_DEFAULTS.billingAnchorDay,
    (n) => Number.isInteger(n) && n >= 1 && n <= 28,
    'a whole number from 1 to 28 (the day each billing period starts)',
  );
  const pricePerUserYear = number(
    'pricePerUserYear',
    CONFIG_DEFAULTS.pricePerUserYear,
    (n) => n >= 0,
    'a number >= 0 (USD per user per year, e.g. 0.9)',
  );
  const decisionCacheSeconds = number(
    'decisionCacheSeconds',
    CONFIG_DEFAULTS.decisionCacheSeconds,
    (n) => Number.isInteger(n) && n >= 0 && n <= 3600,
    'a whole number of seconds from 0 to 3600',
  );
  const staleIfErrorSeconds = number(
    'staleIfErrorSeconds',
    CONFIG_DEFAULTS.staleIfErrorSeconds,
    (n) => Number.isInteger(n) && n >= 0 && n <= 86_400,
    'a whole number of seconds from 0 to 86400 (0 = fail closed)',
  );
  const identityPlusApiUrl = httpsUrl('identityPlusApiUrl', CONFIG_DEFAULTS.identityPlusApiUrl);
  const identityPlusSignonUrl = httpsUrl('identityPlusSignonUrl', CONFIG_DEFAULTS.identityPlusSignonUrl);
  const intentType = raw('intentType') ?? CONFIG_DEFAULTS.intentType;
  if (intentType !== 'validate' && intentType !== 'discover') bad('intentType', intentType, '"validate" or "discover"');

  if (problems.length > 0 || !truststore) throw new ConfigError(problems);
  return {
    domainName,
    certificateArn,
    account: acm![3],
    region: acm![2],
    hostedZone,
    ownershipVerificationCertificateArn,
    truststore,
    truststoreWarnings,
    apiCertSecretName,
    allowedRoles,
    allowedReturnOrigins,
    billingAnchorDay,
    pricePerUserYear,
    decisionCacheSeconds,
    staleIfErrorSeconds,
    identityPlusApiUrl,
    identityPlusSignonUrl,
    intentType: intentType as IntentType,
  };
}

function isHttpsOrigin(s: string): boolean {
  try {
    const url = new URL(s);
    return url.protocol === 'https:' && url.origin === s;
  } catch {
    return false;
  }
}

/** A value as it appears in a message: JSON, shortened. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
