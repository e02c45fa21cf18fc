/**
 * Deployment configuration from CDK context (`cdk.json` "context" or `-c key=value`), validated at synth.
 * Values given with `-c` arrive as strings, so numbers and JSON arrays are parsed from strings too.
 * Every problem is collected and thrown at once, each naming the key, the bad value and what is expected.
 * The deployment-only keys (domain, certificate, DNS, truststore, API certificate secret, alarms, the
 * admission decision, the edge WAF, the service API's callers, the mutual-TLS door for proxies) are read here; the function settings with the
 * parsers of their table, functions/config/settings.ts. Keys this file does not read (such as the `//`
 * comments in cdk.json) are ignored.
 */
import * as path from 'node:path';
import {
  CONTEXT_SETTING_NAMES,
  type ContextSettingValues,
  problemText,
  readSettings,
  show,
} from '../functions/config/settings';
import { WAF_RATE_LIMIT_MAX, WAF_RATE_LIMIT_MIN } from './edge-waf';
import { DEFAULT_API_CERT_EXPIRY_ALARM_DAYS } from './monitoring';
import { type ForwardAuthConfig, readForwardAuth } from './config-forward-auth';
import { checkCloudFrontKeys, type EdgeDeployment, readEdgeTarget } from './config-edge';
import { readTruststore, type TruststorePem } from './truststore-pem';

/** A Route 53 public hosted zone that gets an alias record for the domain. */
export interface HostedZoneConfig {
  readonly id: string;
  /** Zone apex, e.g. `example.com` (no trailing dot). */
  readonly name: string;
}

/**
 * The validated configuration of one plusgate deployment: the deployment-only keys below, the edge's certificate
 * keys (lib/config-edge.ts), and every function setting that is a context key (functions/config/settings.ts).
 */
export type PlusgateConfig = PlusgateConfigKeys & EdgeDeployment;

/** {@link PlusgateConfig} but for the edge's certificate keys. */
export interface PlusgateConfigKeys extends ContextSettingValues {
  /** Custom domain of the edge API, e.g. `auth.example.com`. */
  readonly domainName: string;
  /** Where the stack deploys (see lib/config-edge.ts: from certificateArn, or cloudFrontCertificateArn and region). */
  readonly account: string;
  readonly region: string;
  /** @default - no DNS record is created; point DNS at the `RegionalDomainName` output yourself */
  readonly hostedZone?: HostedZoneConfig;
  /** Needed by API Gateway for mTLS when `certificateArn` is an imported or private-CA certificate. @default - none */
  readonly ownershipVerificationCertificateArn?: string;
  /** The checked truststore (Identity Plus CA certificates only). */
  readonly truststore: TruststorePem;
  /** Warnings about the truststores (devices', and the door's) that don't stop the synth (e.g. an expired CA). */
  readonly truststoreWarnings: readonly string[];
  /** Warnings about the edge's keys that don't stop the synth (e.g. a certificateArn CloudFront does not use). */
  readonly edgeWarnings: readonly string[];
  /** Secrets Manager name of the Identity Plus API certificate secret (created with `npm run put-api-cert`). */
  readonly apiCertSecretName: string;
  /** The API certificate alarm fires when it has fewer days left than this (1–365). @default 21 */
  readonly apiCertExpiryAlarmDays: number;
  /** Alarm when the billable users of the period exceed this (a budget). @default - no budget alarm */
  readonly billableUsersAlarmThreshold?: number;
  /** Subscribed by email to the alarm topic the stack creates. @default - nobody is subscribed */
  readonly alarmEmail?: string;
  /**
   * An existing SNS topic (same region) the alarms notify instead of a topic the stack creates.
   * @default - the stack creates an encrypted topic (output AlarmTopicArn)
   */
  readonly alarmTopicArn?: string;
  /**
   * The admission decision when `allowedRoles` is empty: true lets every Identity Plus user sign in (each one
   * a billed user). The synth refuses an empty `allowedRoles` without it, and it together with roles.
   * @default false
   */
  readonly allowAnyIdentityPlusUser: boolean;
  /**
   * Requests one source IP may make to the edge API in 5 minutes before AWS WAF answers it 429
   * (lib/edge-waf.ts). @default - no web ACL (0 or unset)
   */
  readonly wafRateLimitPer5Min?: number;
  /**
   * IAM principals (role, user or account root ARNs) that may call POST/GET /verify; every other principal is
   * denied by the service API's resource policy. @default - IAM policies alone decide (no resource policy)
   */
  readonly serviceCallerArns?: readonly string[];
  /** The same for GET /report (names and emails). @default - IAM policies alone decide */
  readonly reportReaderArns?: readonly string[];
  /**
   * The mutual-TLS door for proxies (`forwardAuthDomainName`, `forwardAuthCertificateArn`,
   * `forwardAuthTruststorePath`, all three or none). @default - no door; proxies call the IAM service API
   */
  readonly forwardAuth?: ForwardAuthConfig;
}

/** Whether the hosted zone `zone` (apex, no trailing dot) holds `name`. */
export function zoneHolds(zone: HostedZoneConfig, name: string): boolean {
  return name === zone.name || name.endsWith(`.${zone.name}`);
}

/** Thrown when the configuration is invalid; `problems` holds one line per problem. */
export type { ForwardAuthConfig } from './config-forward-auth';
export { FORWARD_AUTH_KEYS } from './config-forward-auth';

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
  /** The CDK CLI's default region (CDK_DEFAULT_REGION): the region with edge cloudfront and no -c region. @default - none */
  readonly defaultRegion?: string;
}

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const ACM_ARN = /^arn:(aws[a-z-]*):acm:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):certificate\/[A-Za-z0-9-]+$/;
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;
/** A Secrets Manager secret name (not an ARN); `npm run put-api-cert` checks --secret-name with it too. */
export const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
/** One address, as SNS takes it for an email subscription: no display name, no list. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
/** A standard SNS topic ARN (CloudWatch alarms cannot publish to FIFO topics). */
const SNS_TOPIC_ARN = /^arn:(aws[a-z-]*):sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,256})$/;
/** A whole number, as JSON (21) or as a `-c` string ("21"). */
const WHOLE_NUMBER = /^\s*\d+\s*$/;
/**
 * An IAM role, user or account root ARN: what `aws:PrincipalArn` holds for a caller (for a role session it is
 * the role's ARN, never the sts assumed-role ARN). No wildcards: the resource policy compares exactly.
 */
const IAM_PRINCIPAL_ARN =
  /^arn:(aws(?:-[a-z]+)*):iam::(\d{12}):(?:root|(?:role|user)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128})$/;

/**
 * Reads and validates the configuration. `get` is `node.tryGetContext`-like: it returns the raw context
 * value of a key or undefined.
 */
export function loadConfig(get: (key: string) => unknown, options: LoadConfigOptions = {}): PlusgateConfig {
  const problems: string[] = [];
  const bad = (key: string, value: unknown, expected: string): void => {
    problems.push(problemText(key, value, expected));
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

  const domainName = requiredString(
    'domainName',
    HOSTNAME,
    'a lower-case DNS name such as "auth.example.com" (no scheme, no wildcard, no trailing dot)',
  );
  const edgeReader = { raw, problems, requiredString, optionalString, bad };
  const edge = readEdgeTarget(edgeReader, ACM_ARN, options.defaultRegion);
  const { account, region } = edge;

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

  const truststoreWarnings: string[] = [];
  /** The checked truststore named by `key`; undefined (and reported) when missing or bad. */
  const truststoreAt = (key: string, expected: string): TruststorePem | undefined => {
    const truststorePath = raw(key);
    if (truststorePath === undefined) {
      problems.push(`${key}: missing; expected the path of ${expected}`);
      return undefined;
    }
    if (typeof truststorePath !== 'string') {
      bad(key, truststorePath, `the path of ${expected}`);
      return undefined;
    }
    const file = path.resolve(options.baseDir ?? process.cwd(), truststorePath);
    const result = readTruststore(file, options.now);
    if (!result.ok) {
      for (const p of result.problems) {
        problems.push(`${key}: got ${show(truststorePath)} (${file}), but ${p}; expected ${expected}`);
      }
      return undefined;
    }
    truststoreWarnings.push(...result.warnings.map((w) => `${key} ${show(truststorePath)}: ${w}`));
    return result.truststore;
  };
  const truststore = truststoreAt(
    'truststorePath',
    'a PEM file holding only the Identity Plus CA certificates (root and intermediate)',
  );

  const apiCertSecretName = requiredString(
    'apiCertSecretName',
    SECRET_NAME,
    'the Secrets Manager secret *name* (not ARN) holding the Identity Plus API certificate, e.g. "plusgate/identity-plus-api-cert": 1-512 of A-Z a-z 0-9 / _ + = . @ -',
  );
  const settings = readSettings(CONTEXT_SETTING_NAMES, { read: raw, label: (name) => name, strict: true }, problems);

  /** A whole number in [min, max]; undefined when not set. */
  const optionalWholeNumber = (key: string, min: number, max: number, expected: string): number | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    const n = typeof value === 'number' ? value : typeof value === 'string' && WHOLE_NUMBER.test(value) ? +value : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    bad(key, value, expected);
    return undefined;
  };
  const apiCertExpiryAlarmDays =
    optionalWholeNumber(
      'apiCertExpiryAlarmDays',
      1,
      365,
      `a whole number of days from 1 to 365 (the API certificate alarm fires when fewer days are left; default ${DEFAULT_API_CERT_EXPIRY_ALARM_DAYS})`,
    ) ?? DEFAULT_API_CERT_EXPIRY_ALARM_DAYS;
  const billableUsersAlarmThreshold = optionalWholeNumber(
    'billableUsersAlarmThreshold',
    1,
    Number.MAX_SAFE_INTEGER,
    'a whole number >= 1 (alarm when the billing period has more billable users than this), or leave it unset for no budget alarm',
  );
  const alarmEmail = optionalString(
    'alarmEmail',
    EMAIL,
    'one email address such as "oncall@example.com" (subscribed to the alarm topic; it must confirm the subscription)',
  );
  const alarmTopicArn = optionalString(
    'alarmTopicArn',
    SNS_TOPIC_ARN,
    'a standard (not FIFO) SNS topic ARN such as "arn:aws:sns:eu-west-1:123456789012:oncall"',
  );
  const topicRegion = alarmTopicArn === undefined ? undefined : SNS_TOPIC_ARN.exec(alarmTopicArn)?.[2];
  if (topicRegion !== undefined && region !== undefined && topicRegion !== region) {
    bad(
      'alarmTopicArn',
      alarmTopicArn,
      `a topic in ${region}, ${edge.regionOrigin} (CloudWatch alarms notify topics in their own region only)`,
    );
  }
  if (alarmEmail !== undefined && alarmTopicArn !== undefined) {
    problems.push(
      'alarmEmail and alarmTopicArn: got both; expected at most one: alarmEmail subscribes an address to the topic the stack creates, alarmTopicArn sends the alarms to your own topic instead (subscribe people to that one yourself)',
    );
  }

  const allowAnyIdentityPlusUser = optionalBoolean(raw('allowAnyIdentityPlusUser'), (value) =>
    bad(
      'allowAnyIdentityPlusUser',
      value,
      'true or false (true: every Identity Plus user may sign in and becomes a billed user)',
    ),
  );
  // The admission policy is a decision, not a default: an empty allowedRoles admits every Identity Plus user in
  // the world, each a billed user. A bad value of either key has been reported above; don't pile a line on it.
  if (!problems.some((p) => p.startsWith('allowedRoles') || p.startsWith('allowAnyIdentityPlusUser'))) {
    const roles = settings.allowedRoles;
    if (roles.length === 0 && allowAnyIdentityPlusUser !== true) {
      problems.push(
        `allowedRoles and allowAnyIdentityPlusUser: got allowedRoles [] and allowAnyIdentityPlusUser ${allowAnyIdentityPlusUser === false ? 'false' : 'unset'}; expected a decision on who may sign in: allowedRoles with the Identity Plus roles that may (e.g. ["org. administrator"]), or allowAnyIdentityPlusUser: true to let every Identity Plus user in the world sign in, each one a billed user`,
      );
    } else if (roles.length > 0 && allowAnyIdentityPlusUser === true) {
      problems.push(
        `allowedRoles and allowAnyIdentityPlusUser: got allowedRoles ${show(roles)} and allowAnyIdentityPlusUser true; expected one of them: allowedRoles admits only people with one of those roles, allowAnyIdentityPlusUser admits everyone (set it to false, or remove it, to keep the roles)`,
      );
    }
  }

  const wafRateLimitPer5Min = optionalWholeNumber(
    'wafRateLimitPer5Min',
    0,
    WAF_RATE_LIMIT_MAX,
    `0 (no web ACL) or a whole number of requests from ${WAF_RATE_LIMIT_MIN} to ${WAF_RATE_LIMIT_MAX} (AWS WAF's rate-based rule limits): what one source IP may send to the edge API in 5 minutes before AWS WAF answers 429`,
  );
  if (wafRateLimitPer5Min !== undefined && wafRateLimitPer5Min > 0 && wafRateLimitPer5Min < WAF_RATE_LIMIT_MIN) {
    bad(
      'wafRateLimitPer5Min',
      raw('wafRateLimitPer5Min'),
      `0 (no web ACL) or at least ${WAF_RATE_LIMIT_MIN}, the lowest limit AWS WAF's rate-based rules accept`,
    );
  }

  const certificatePartition = edge.partition;
  /** A list of IAM principal ARNs; undefined when unset or empty. */
  const principalArns = (key: string, routes: string): readonly string[] | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    const expected = `IAM role, user or account root ARNs such as "arn:aws:iam::123456789012:role/orders-service" (a role's ARN, not an sts assumed-role ARN; no wildcards): the only principals that may call ${routes}`;
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
      return undefined;
    }
    let ok = true;
    list.forEach((arn: string, i) => {
      const [, partition] = IAM_PRINCIPAL_ARN.exec(arn) ?? [];
      if (partition === undefined) {
        ok = false;
        bad(`${key}[${i}]`, arn, expected);
      } else if (certificatePartition !== undefined && partition !== certificatePartition) {
        ok = false;
        bad(`${key}[${i}]`, arn, `a principal in the partition of ${edge.partitionKey} ("${certificatePartition}")`);
      }
    });
    return ok && list.length > 0 ? [...new Set(list as string[])] : undefined;
  };
  const serviceCallerArns = principalArns('serviceCallerArns', 'POST and GET /verify');
  const reportReaderArns = principalArns('reportReaderArns', 'GET /report');

  const forwardAuth = readForwardAuth({
    raw,
    problems,
    requiredString,
    bad,
    truststoreAt,
    edge: { domainName, account, region, truststore },
    patterns: { hostname: HOSTNAME, acmArn: ACM_ARN },
  });

  checkCloudFrontKeys(edgeReader, { ownershipVerificationCertificateArn, wafRateLimitPer5Min, truststore });
  // A certificate ARN without account and region, or a missing region, has been reported above.
  if (problems.length > 0 || !truststore || !account || !region) throw new ConfigError(problems);
  return {
    ...settings,
    ...edge.deployment,
    domainName,
    account,
    region,
    hostedZone,
    ownershipVerificationCertificateArn,
    truststore,
    truststoreWarnings,
    edgeWarnings: edge.warnings,
    apiCertSecretName,
    apiCertExpiryAlarmDays,
    billableUsersAlarmThreshold,
    alarmEmail,
    alarmTopicArn,
    allowAnyIdentityPlusUser: allowAnyIdentityPlusUser === true,
    wafRateLimitPer5Min: wafRateLimitPer5Min || undefined,
    serviceCallerArns,
    reportReaderArns,
    forwardAuth,
  };
}

/** true or false, as JSON or as a `-c` string; undefined when unset (after `bad`, which reports it, when wrong). */
function optionalBoolean(value: unknown, bad: (value: unknown) => void): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  bad(value);
  return undefined;
}
