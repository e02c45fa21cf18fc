/**
 * Configuration from CDK context: every bad value is reported with its key, the value and what is
 * expected, all problems at once; the truststore file is checked at synth.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENV } from '../../functions/config/names';
import {
  CONTEXT_SETTING_NAMES,
  SETTING_NAMES,
  SETTINGS,
  type Setting,
  settingsEnvironment,
} from '../../functions/config/settings';
import { readReportConfig, readRuntimeConfig } from '../../functions/runtime/runtime-config';
import { ConfigError, loadConfig } from '../../lib/config';
import {
  billableUsersEnvironment,
  decisionEnvironment,
  edgeEnvironment,
  READ_BY,
  renewalEnvironment,
  reportEnvironment,
  type SettingsReader,
  settingsReadBy,
} from '../../lib/runtime-environment';
import { parseTruststore } from '../../lib/truststore-pem';
import { testPki } from '../support/test-pki';
import { CDK_JSON_CONTEXT, REPO_ROOT } from './plusgate-fixture';

const REQUIRED = {
  domainName: 'auth.example.com',
  certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
  truststorePath: 'examples/truststore/identity-plus-example-ca.pem',
  apiCertSecretName: 'plusgate/identity-plus-api-cert',
};

/**
 * Loads `context`. A context that names neither allowedRoles nor allowAnyIdentityPlusUser gets
 * `allowAnyIdentityPlusUser: true` (as cdk.json has it), so tests about other keys need not make the
 * admission decision; the tests of that decision set the keys themselves.
 */
function load(context: Record<string, unknown>) {
  const decided = 'allowedRoles' in context || 'allowAnyIdentityPlusUser' in context;
  const full: Record<string, unknown> = decided ? context : { ...context, allowAnyIdentityPlusUser: true };
  return loadConfig((key) => full[key], { baseDir: REPO_ROOT });
}

/** The ConfigError thrown for `context`, or a failure if none is thrown. */
function problemsOf(context: Record<string, unknown>): readonly string[] {
  try {
    load(context);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('loadConfig', () => {
  test('loads the example cdk.json context', () => {
    const config = load(CDK_JSON_CONTEXT as Record<string, unknown>);
    expect(config).toMatchObject({
      domainName: 'auth.example.com',
      account: '123456789012',
      region: 'eu-west-1',
      intentType: 'discover',
      identityPlusService: undefined,
    });
    expect(config.truststore.pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  test('applies the documented defaults to unset optional keys', () => {
    expect(load(REQUIRED)).toMatchObject({
      hostedZone: undefined,
      ownershipVerificationCertificateArn: undefined,
      allowedRoles: [],
      allowedReturnOrigins: [],
      billingAnchorDay: 1,
      pricePerUserYear: 0.9,
      decisionCacheSeconds: 60,
      staleIfErrorSeconds: 0,
      identityPlusApiUrl: 'https://api.identity.plus/v1',
      identityPlusSignonUrl: 'https://signon.identity.plus',
      intentType: 'discover',
      identityPlusService: undefined,
      identityPlusSelfAuthorityUrl: SETTINGS.identityPlusSelfAuthorityUrl.default,
      apiCertRenewAtFraction: 0.75,
      apiCertExpiryAlarmDays: 21,
      billableUsersAlarmThreshold: undefined,
      alarmEmail: undefined,
      alarmTopicArn: undefined,
      allowAnyIdentityPlusUser: true,
      wafRateLimitPer5Min: undefined,
      serviceCallerArns: undefined,
      reportReaderArns: undefined,
    });
  });

  test('reads the alarm keys, numbers also as strings (-c key=value)', () => {
    expect(
      load({
        ...REQUIRED,
        apiCertExpiryAlarmDays: '30',
        billableUsersAlarmThreshold: '5000',
        alarmEmail: 'on-call+plusgate@example.co.uk',
      }),
    ).toMatchObject({
      apiCertExpiryAlarmDays: 30,
      billableUsersAlarmThreshold: 5000,
      alarmEmail: 'on-call+plusgate@example.co.uk',
    });
    expect(
      load({
        ...REQUIRED,
        apiCertExpiryAlarmDays: 1,
        billableUsersAlarmThreshold: 1,
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
      }),
    ).toMatchObject({
      apiCertExpiryAlarmDays: 1,
      billableUsersAlarmThreshold: 1,
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
    });
    expect(load({ ...REQUIRED, apiCertExpiryAlarmDays: 365, billableUsersAlarmThreshold: '' })).toMatchObject({
      apiCertExpiryAlarmDays: 365,
      billableUsersAlarmThreshold: undefined,
    });
  });

  test('alarmEmail and alarmTopicArn together are refused, saying why', () => {
    expect(
      problemsOf({
        ...REQUIRED,
        alarmEmail: 'oncall@example.com',
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
      }),
    ).toEqual([
      'alarmEmail and alarmTopicArn: got both; expected at most one: alarmEmail subscribes an address to the topic the stack creates, alarmTopicArn sends the alarms to your own topic instead (subscribe people to that one yourself)',
    ]);
  });

  test('parses numbers and JSON arrays given as strings (-c key=value)', () => {
    expect(
      load({
        ...REQUIRED,
        billingAnchorDay: '28',
        pricePerUserYear: '1.25',
        decisionCacheSeconds: '0',
        staleIfErrorSeconds: '86400',
        allowedRoles: '["org. administrator"]',
        allowedReturnOrigins: '["https://app.example.com:8443"]',
      }),
    ).toMatchObject({
      billingAnchorDay: 28,
      pricePerUserYear: 1.25,
      decisionCacheSeconds: 0,
      staleIfErrorSeconds: 86400,
      allowedRoles: ['org. administrator'],
      allowedReturnOrigins: ['https://app.example.com:8443'],
    });
  });

  test('takes every intent type Identity Plus documents; discover by default', () => {
    for (const intentType of ['discover', 'validate', 'request', 'bind', 'assume-ownership', 'befriend'])
      expect(load({ ...REQUIRED, intentType }).intentType).toBe(intentType);
    expect(load(REQUIRED).intentType).toBe('discover');
    expect(SETTINGS.intentType.default).toBe('discover');
  });

  test('takes the service inquiries ask on behalf of as a lower-case service id; unset or empty is none', () => {
    expect(load({ ...REQUIRED, identityPlusService: 'billing.example.com' }).identityPlusService).toBe(
      'billing.example.com',
    );
    expect(load({ ...REQUIRED, identityPlusService: 'managed-1.plusgate.local' }).identityPlusService).toBe(
      'managed-1.plusgate.local',
    );
    expect(load({ ...REQUIRED, identityPlusService: '' }).identityPlusService).toBeUndefined();
    expect(load({ ...REQUIRED, identityPlusService: null }).identityPlusService).toBeUndefined();
    expect(load(REQUIRED).identityPlusService).toBeUndefined();
    // The example cdk.json documents the key in a comment key and leaves it unset.
    expect(CDK_JSON_CONTEXT).not.toHaveProperty('identityPlusService');
    expect(String(CDK_JSON_CONTEXT['//identityPlusService'])).toMatch(/on behalf of/);
  });

  test('an empty -c value counts as unset', () => {
    expect(load({ ...REQUIRED, hostedZoneId: '', hostedZoneName: '', billingAnchorDay: '' })).toMatchObject({
      hostedZone: undefined,
      billingAnchorDay: 1,
    });
  });

  test.each([
    ['domainName', 'Auth.Example.com', 'a lower-case DNS name'],
    ['domainName', 'https://auth.example.com', 'a lower-case DNS name'],
    ['domainName', '*.example.com', 'no wildcard'],
    ['certificateArn', 'arn:aws:acm:eu-west-1:123:certificate/x', 'an ACM certificate ARN'],
    ['certificateArn', 'arn:aws:iam::123456789012:server-certificate/x', 'an ACM certificate ARN'],
    ['ownershipVerificationCertificateArn', 'not-an-arn', 'an ACM certificate ARN'],
    ['apiCertSecretName', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x', 'secret *name* (not ARN)'],
    ['allowedRoles', 'admin', 'as a JSON array of strings'],
    ['allowedRoles', [1, 2], 'as a JSON array of strings'],
    // An element of a list is named with its index and shown alone.
    ['allowedRoles', '["admin", " "]', 'a non-empty role name', 'allowedRoles[1]: got " "'],
    [
      'allowedReturnOrigins',
      '["http://app.example.com"]',
      'an https origin',
      'allowedReturnOrigins[0]: got "http://app.example.com"',
    ],
    [
      'allowedReturnOrigins',
      ['https://app.example.com/'],
      'no path or trailing slash',
      'allowedReturnOrigins[0]: got "https://app.example.com/"',
    ],
    ['billingAnchorDay', 29, 'a whole number from 1 to 28'],
    ['billingAnchorDay', '0', 'a whole number from 1 to 28'],
    ['billingAnchorDay', 'first', 'a whole number from 1 to 28'],
    ['billingAnchorDay', 1.5, 'a whole number from 1 to 28'],
    ['pricePerUserYear', -1, 'a number >= 0'],
    ['pricePerUserYear', 'free', 'a number >= 0'],
    ['decisionCacheSeconds', 3601, 'from 0 to 3600'],
    ['staleIfErrorSeconds', 86401, 'from 0 to 86400'],
    ['staleIfErrorSeconds', '-1', 'from 0 to 86400'],
    ['identityPlusApiUrl', 'http://api.identity.plus/v1', 'an https URL'],
    ['identityPlusSignonUrl', 'not a url', 'an https URL'],
    ['intentType', 'login', '"discover", "validate", "request", "bind", "assume-ownership" or "befriend"'],
    ['intentType', 'Discover', '"discover", "validate", "request", "bind", "assume-ownership" or "befriend"'],
    ['identityPlusService', 'Billing.Example.com', 'lower case, an Identity Plus service id: a DNS name'],
    ['identityPlusService', 'billing_example', 'an Identity Plus service id: a DNS name such as "billing.example.com"'],
    ['identityPlusService', 'https://billing.example.com', 'an Identity Plus service id'],
    ['identityPlusService', 'billing.example.com.', 'an Identity Plus service id'],
    ['identityPlusService', '-', 'an Identity Plus service id'],
    ['identityPlusService', 'a'.repeat(64), 'labels of 1-63 characters'],
    ['identityPlusService', ['billing.example.com'], 'an Identity Plus service id'],
    ['identityPlusService', 42, 'an Identity Plus service id'],
    ['identityPlusSelfAuthorityUrl', 'http://selfauthority.identity.plus', 'an https URL'],
    ['apiCertRenewAtFraction', 1, 'less than 1'],
    ['apiCertRenewAtFraction', '0', 'greater than 0'],
    ['apiCertExpiryAlarmDays', 0, 'a whole number of days from 1 to 365'],
    ['apiCertExpiryAlarmDays', '366', 'a whole number of days from 1 to 365'],
    ['apiCertExpiryAlarmDays', 7.5, 'a whole number of days from 1 to 365'],
    ['apiCertExpiryAlarmDays', 'three weeks', 'a whole number of days from 1 to 365'],
    ['billableUsersAlarmThreshold', 0, 'a whole number >= 1'],
    ['billableUsersAlarmThreshold', '-5', 'a whole number >= 1'],
    ['billableUsersAlarmThreshold', '1e3', 'a whole number >= 1'],
    ['alarmEmail', 'oncall', 'one email address'],
    ['alarmEmail', 'a@example.com, b@example.com', 'one email address'],
    ['alarmEmail', 'On Call <oncall@example.com>', 'one email address'],
    ['alarmTopicArn', 'oncall', 'a standard (not FIFO) SNS topic ARN'],
    ['alarmTopicArn', 'arn:aws:sns:eu-west-1:123456789012:oncall.fifo', 'a standard (not FIFO) SNS topic ARN'],
    ['alarmTopicArn', 'arn:aws:sqs:eu-west-1:123456789012:oncall', 'a standard (not FIFO) SNS topic ARN'],
    [
      'alarmTopicArn',
      'arn:aws:sns:us-east-1:123456789012:oncall',
      'a topic in eu-west-1, the region of certificateArn where the stack deploys',
    ],
    ['allowAnyIdentityPlusUser', 'yes', 'true or false'],
    ['allowAnyIdentityPlusUser', 1, 'true or false'],
    ['wafRateLimitPer5Min', 9, "at least 10, the lowest limit AWS WAF's rate-based rules accept"],
    ['wafRateLimitPer5Min', '1', "at least 10, the lowest limit AWS WAF's rate-based rules accept"],
    ['wafRateLimitPer5Min', 2_000_000_001, 'from 10 to 2000000000'],
    ['wafRateLimitPer5Min', 100.5, 'from 10 to 2000000000'],
    ['wafRateLimitPer5Min', -100, 'from 10 to 2000000000'],
    ['wafRateLimitPer5Min', 'lots', 'from 10 to 2000000000'],
    ['serviceCallerArns', 'arn:aws:iam::123456789012:role/orders', 'as a JSON array of strings'],
    [
      'serviceCallerArns',
      ['arn:aws:iam::123456789012:role/orders', 'arn:aws:sts::123456789012:assumed-role/orders/session-1'],
      'not an sts assumed-role ARN',
      'serviceCallerArns[1]: got "arn:aws:sts::123456789012:assumed-role/orders/session-1"',
    ],
    [
      'serviceCallerArns',
      '["arn:aws:iam::123456789012:role/*"]',
      'no wildcards',
      'serviceCallerArns[0]: got "arn:aws:iam::123456789012:role/*"',
    ],
    [
      'reportReaderArns',
      ['arn:aws:iam::12345:user/alice'],
      'IAM role, user or account root ARNs',
      'reportReaderArns[0]: got "arn:aws:iam::12345:user/alice"',
    ],
    [
      'reportReaderArns',
      ['arn:aws:iam::123456789012:group/ops'],
      'IAM role, user or account root ARNs',
      'reportReaderArns[0]: got "arn:aws:iam::123456789012:group/ops"',
    ],
    [
      'reportReaderArns',
      ['arn:aws-cn:iam::123456789012:user/alice'],
      'a principal in the partition of certificateArn ("aws")',
      'reportReaderArns[0]: got "arn:aws-cn:iam::123456789012:user/alice"',
    ],
  ] as Array<[string, unknown, string, string?]>)(
    '%s = %j is refused with the key, the value and what is expected',
    (...[key, value, expected, start]) => {
      // (A rest parameter: jest would take a 4th named parameter for its `done` callback on 3-element rows.)
      const problems = problemsOf({ ...REQUIRED, [key]: value });
      expect(problems).toHaveLength(1);
      const prefix = start ?? `${key}: got ${JSON.stringify(value)}; expected `;
      expect(problems[0]!.slice(0, prefix.length)).toBe(prefix);
      expect(problems[0]).toContain(expected);
    },
  );

  test.each(Object.keys(REQUIRED))('a missing %s is named as missing', (key) => {
    const context: Record<string, unknown> = { ...REQUIRED, [key]: undefined };
    expect(problemsOf(context)).toEqual([expect.stringMatching(new RegExp(`^${key}: missing; expected .+`))]);
  });

  test('wafRateLimitPer5Min: a whole number from 10, also as a -c string; 0 or unset means no web ACL', () => {
    expect(load({ ...REQUIRED, wafRateLimitPer5Min: 10 }).wafRateLimitPer5Min).toBe(10);
    expect(load({ ...REQUIRED, wafRateLimitPer5Min: '2000' }).wafRateLimitPer5Min).toBe(2000);
    expect(load({ ...REQUIRED, wafRateLimitPer5Min: 2_000_000_000 }).wafRateLimitPer5Min).toBe(2_000_000_000);
    expect(load({ ...REQUIRED, wafRateLimitPer5Min: 0 }).wafRateLimitPer5Min).toBeUndefined();
    expect(load({ ...REQUIRED, wafRateLimitPer5Min: '0' }).wafRateLimitPer5Min).toBeUndefined();
    expect(load({ ...REQUIRED, wafRateLimitPer5Min: '' }).wafRateLimitPer5Min).toBeUndefined();
  });

  test('serviceCallerArns and reportReaderArns take role, user (with path) and account root ARNs, as JSON or a -c string', () => {
    const config = load({
      ...REQUIRED,
      serviceCallerArns: '["arn:aws:iam::123456789012:role/orders","arn:aws:iam::210987654321:root"]',
      reportReaderArns: [
        'arn:aws:iam::123456789012:user/ops/alice',
        'arn:aws:iam::123456789012:role/a/b/report-reader',
      ],
    });
    expect(config.serviceCallerArns).toEqual([
      'arn:aws:iam::123456789012:role/orders',
      'arn:aws:iam::210987654321:root',
    ]);
    expect(config.reportReaderArns).toEqual([
      'arn:aws:iam::123456789012:user/ops/alice',
      'arn:aws:iam::123456789012:role/a/b/report-reader',
    ]);
    // [] is the same as unset: IAM policies alone decide.
    expect(load({ ...REQUIRED, serviceCallerArns: [], reportReaderArns: '[]' })).toMatchObject({
      serviceCallerArns: undefined,
      reportReaderArns: undefined,
    });
  });

  test('hostedZoneId and hostedZoneName come both or neither', () => {
    expect(problemsOf({ ...REQUIRED, hostedZoneId: 'Z0123456789ABCDEFGHIJ' })).toEqual([
      'hostedZoneId and hostedZoneName: got only hostedZoneId; expected both (to create the DNS alias record) or neither',
    ]);
    expect(problemsOf({ ...REQUIRED, hostedZoneName: 'example.com' })).toEqual([
      'hostedZoneId and hostedZoneName: got only hostedZoneName; expected both (to create the DNS alias record) or neither',
    ]);
    expect(
      load({ ...REQUIRED, hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com.' }).hostedZone,
    ).toEqual({ id: 'Z0123456789ABCDEFGHIJ', name: 'example.com' });
  });

  test('the hosted zone must contain the domain', () => {
    expect(problemsOf({ ...REQUIRED, hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.org' })).toEqual([
      'hostedZoneName: got "example.org"; expected the zone that contains domainName "auth.example.com"',
    ]);
  });

  test('reports every problem at once, in one error message', () => {
    try {
      load({ ...REQUIRED, domainName: 'NOPE', billingAnchorDay: 31, intentType: 'x', truststorePath: 'missing.pem' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.problems.map((p) => p.split(':')[0])).toEqual([
        'domainName',
        'truststorePath',
        'billingAnchorDay',
        'intentType',
      ]);
      expect(e.message).toContain('4 problem(s)');
      for (const p of e.problems) expect(e.message).toContain(p);
    }
  });
});

describe('admission policy: who may sign in is a decision', () => {
  test('allowedRoles [] without allowAnyIdentityPlusUser is refused, saying what to decide', () => {
    for (const context of [
      { ...REQUIRED, allowedRoles: [] },
      { ...REQUIRED, allowAnyIdentityPlusUser: undefined },
      { ...REQUIRED, allowedRoles: '[]', allowAnyIdentityPlusUser: '' },
    ]) {
      expect(problemsOf(context)).toEqual([
        'allowedRoles and allowAnyIdentityPlusUser: got allowedRoles [] and allowAnyIdentityPlusUser unset; expected a decision on who may sign in: allowedRoles with the Identity Plus roles that may (e.g. ["org. administrator"]), or allowAnyIdentityPlusUser: true to let every Identity Plus user in the world sign in, each one a billed user',
      ]);
    }
    expect(problemsOf({ ...REQUIRED, allowAnyIdentityPlusUser: 'false' })).toEqual([
      expect.stringMatching(
        /^allowedRoles and allowAnyIdentityPlusUser: got allowedRoles \[\] and allowAnyIdentityPlusUser false; expected a decision/,
      ),
    ]);
  });

  test('allowAnyIdentityPlusUser true (also "true" from -c) admits everyone with allowedRoles []', () => {
    expect(load({ ...REQUIRED, allowAnyIdentityPlusUser: true })).toMatchObject({
      allowedRoles: [],
      allowAnyIdentityPlusUser: true,
    });
    expect(load({ ...REQUIRED, allowedRoles: '[]', allowAnyIdentityPlusUser: 'true' }).allowAnyIdentityPlusUser).toBe(
      true,
    );
  });

  test('roles alone are a decision; allowAnyIdentityPlusUser false beside them is fine', () => {
    expect(load({ ...REQUIRED, allowedRoles: ['member'] })).toMatchObject({
      allowedRoles: ['member'],
      allowAnyIdentityPlusUser: false,
    });
    expect(load({ ...REQUIRED, allowedRoles: ['member'], allowAnyIdentityPlusUser: 'false' }).allowedRoles).toEqual([
      'member',
    ]);
  });

  test('roles together with allowAnyIdentityPlusUser true are refused as contradictory', () => {
    expect(problemsOf({ ...REQUIRED, allowedRoles: '["member"]', allowAnyIdentityPlusUser: true })).toEqual([
      'allowedRoles and allowAnyIdentityPlusUser: got allowedRoles ["member"] and allowAnyIdentityPlusUser true; expected one of them: allowedRoles admits only people with one of those roles, allowAnyIdentityPlusUser admits everyone (set it to false, or remove it, to keep the roles)',
    ]);
  });

  test('a bad allowedRoles is reported once, not again as a missing decision', () => {
    expect(problemsOf({ ...REQUIRED, allowedRoles: 'admin' })).toEqual([
      expect.stringMatching(/^allowedRoles: got "admin"; expected .*as a JSON array of strings$/),
    ]);
  });

  test('the example cdk.json makes the decision explicitly, with its reason beside it', () => {
    expect(CDK_JSON_CONTEXT.allowedRoles).toEqual([]);
    expect(CDK_JSON_CONTEXT.allowAnyIdentityPlusUser).toBe(true);
    expect(String(CDK_JSON_CONTEXT['//allowAnyIdentityPlusUser'])).toMatch(/billed user/);
  });
});

describe('from the CDK context to the functions', () => {
  const config = load({
    ...REQUIRED,
    allowedRoles: ['org. administrator', 'member'],
    allowedReturnOrigins: '["https://app.example.com:8443"]',
    billingAnchorDay: 15,
    pricePerUserYear: '1e-7',
    decisionCacheSeconds: 0,
    staleIfErrorSeconds: '600',
    identityPlusApiUrl: 'https://api.example.net/v1/',
    identityPlusSignonUrl: 'https://signon.example.net',
    intentType: 'validate',
    identityPlusService: 'billing.example.com',
    edge: 'cloudfront',
    // What the CloudFront edge needs besides (lib/config-edge.ts).
    cloudFrontCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
    region: 'eu-west-1',
    noCertificateHelpUrl: 'https://help.example.com/certificates',
    noCertificateHelpText: 'Ask the IT desk for your device certificate.',
    identityPlusSelfAuthorityUrl: 'https://selfauthority.example.net/',
    apiCertRenewAtFraction: '0.5',
  });
  const resources = { [ENV.TABLE_NAME]: 'records', [ENV.API_CERT_SECRET]: 'api-cert' };
  const environments: Record<SettingsReader, Record<string, string>> = {
    decision: decisionEnvironment(config),
    // The edge function's own settings (it gets the decision settings too).
    edge: Object.fromEntries(
      Object.entries(edgeEnvironment(config)).filter(([name]) => !(name in decisionEnvironment(config))),
    ),
    report: reportEnvironment(config),
    renewal: renewalEnvironment(config),
    billableUsers: billableUsersEnvironment(config),
  };

  test.each(Object.keys(environments) as SettingsReader[])(
    'the %s functions read back exactly the settings the CDK app gives them',
    (reader) => {
      const names = settingsReadBy(reader);
      const runtime = readRuntimeConfig({ ...environments[reader], ...resources });
      for (const name of names) expect([name, runtime[name]]).toEqual([name, config[name]]);
      const variables = Object.keys(environments[reader]).filter((v) => v !== ENV.PUBLIC_ORIGIN);
      expect(variables.sort()).toEqual(names.map((name) => SETTINGS[name].env).sort());
    },
  );

  test('values are parsed and normalised on the way', () => {
    const runtime = readRuntimeConfig({ ...environments.decision, ...resources });
    expect(runtime).toMatchObject({ identityPlusApiUrl: 'https://api.example.net/v1', billingAnchorDay: 15 });
    expect(runtime.publicOrigin).toBe('https://auth.example.com');
    expect(readReportConfig({ ...environments.report, ...resources })).toMatchObject({
      billingAnchorDay: 15,
      pricePerUserYear: 1e-7,
    });
    expect(readRuntimeConfig({ ...environments.renewal, ...resources })).toMatchObject({
      identityPlusSelfAuthorityUrl: 'https://selfauthority.example.net',
      apiCertRenewAtFraction: 0.5,
    });
  });

  test('the service reaches the functions that inquire (edge, verify, authorizer) and no others; unset, no variable', () => {
    const variable = SETTINGS.identityPlusService.env;
    expect(environments.decision[variable]).toBe('billing.example.com');
    expect(readRuntimeConfig({ ...environments.decision, ...resources }).identityPlusService).toBe(
      'billing.example.com',
    );
    for (const reader of ['report', 'renewal', 'billableUsers'] as const)
      expect(Object.keys(environments[reader])).not.toContain(variable);
    const unset = decisionEnvironment(load(REQUIRED));
    expect(Object.keys(unset)).not.toContain(variable);
    expect(readRuntimeConfig({ ...unset, ...resources }).identityPlusService).toBeUndefined();
  });

  test('every context setting reaches a function that reads it; the renewal settings reach only the renewal', () => {
    for (const name of CONTEXT_SETTING_NAMES) expect([name, READ_BY[name].length > 0]).toEqual([name, true]);
    expect(settingsReadBy('renewal')).toEqual(['identityPlusSelfAuthorityUrl', 'apiCertRenewAtFraction']);
    expect(settingsReadBy('decision')).not.toContain('identityPlusSelfAuthorityUrl');
    expect(settingsReadBy('decision')).not.toContain('apiCertRenewAtFraction');
    expect(settingsReadBy('decision')).not.toContain('pricePerUserYear');
    expect(settingsReadBy('billableUsers')).toEqual(['billingAnchorDay']);
  });

  test('only function settings without a context key are left out of the context', () => {
    expect(SETTING_NAMES.filter((name) => !(CONTEXT_SETTING_NAMES as string[]).includes(name))).toEqual([
      'shards',
      'retentionMonths',
    ]);
  });

  test.each(SETTING_NAMES)('the default of %s reads back as itself from its variable', (name) => {
    const setting: Setting<unknown> = SETTINGS[name];
    // An optional setting's default is "unset": no variable at all (settingsEnvironment writes none).
    if (setting.default === undefined) {
      expect(settingsEnvironment({ [name]: undefined } as never, [name])).toEqual({});
      return;
    }
    const problems: string[] = [];
    const parsed = setting.parse(setting.format(setting.default), {
      strict: true,
      problem: (_, e) => problems.push(e),
    });
    expect(problems).toEqual([]);
    expect(parsed).toEqual(setting.default);
  });
});

describe('truststore checks', () => {
  test('a missing truststore file is named with its resolved path', () => {
    expect(problemsOf({ ...REQUIRED, truststorePath: 'no/such/ca.pem' })).toEqual([
      `truststorePath: got "no/such/ca.pem" (${path.join(REPO_ROOT, 'no/such/ca.pem')}), but the file does not exist; expected a PEM file holding only the Identity Plus CA certificates (root and intermediate)`,
    ]);
  });

  test('a root and intermediate CA chain is accepted; text around the PEM blocks is dropped', async () => {
    const pki = await testPki();
    const config = load({
      ...REQUIRED,
      truststorePath: file('chain.pem', `# Identity Plus CA\n${pki.caChain}\nsubject=ignored\n`),
    });
    expect(config.truststore.subjects).toHaveLength(2);
    expect(config.truststore.pem).not.toContain('#');
    expect(config.truststore.sha256).toBe(
      load({ ...REQUIRED, truststorePath: file('chain2.pem', pki.caChain) }).truststore.sha256,
    );
  });

  test('a device or server certificate in the truststore is refused as not a CA', async () => {
    const pki = await testPki();
    const [problem, ...rest] = problemsOf({
      ...REQUIRED,
      truststorePath: file('with-leaf.pem', pki.caChain + pki.server.cert),
    });
    expect(rest.every((p) => p.startsWith('truststorePath'))).toBe(true);
    expect(problem).toMatch(
      /^truststorePath: got ".*with-leaf\.pem" \(.*\), but certificate #3 \(.*\) is not a CA certificate \(basicConstraints CA:TRUE missing\)/,
    );
  });

  test('a private key in the truststore is refused', async () => {
    const pki = await testPki();
    const problems = problemsOf({ ...REQUIRED, truststorePath: file('with-key.pem', pki.caChain + pki.root.key) });
    expect(problems).toEqual([
      expect.stringMatching(/PEM block #3 is a "PRIVATE KEY", not a CERTIFICATE; .*never be committed/),
    ]);
  });

  test('an intermediate without its root is refused: API Gateway needs the whole chain', async () => {
    const pki = await testPki();
    const problems = problemsOf({ ...REQUIRED, truststorePath: file('intermediate-only.pem', pki.intermediate.cert) });
    expect(problems).toEqual([
      expect.stringMatching(/which is not in the file; include the whole chain up to the root/),
    ]);
  });

  test('a file without certificates, or with a broken one, is refused', () => {
    expect(parseTruststore('just text\n', 'x.pem')).toEqual({
      ok: false,
      problems: [expect.stringContaining('contains no PEM certificate')],
    });
    const broken = parseTruststore('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'x.pem');
    expect(broken).toEqual({
      ok: false,
      problems: [expect.stringContaining('certificate #1 cannot be parsed as X.509')],
    });
  });

  test('an expired CA is a synth warning, not an error (no time bomb in the example)', async () => {
    const pki = await testPki();
    const result = parseTruststore(pki.caChain, 'chain.pem', new Date('2999-01-01T00:00:00Z'));
    expect(result.ok).toBe(true);
    expect(result.ok && result.warnings).toEqual([
      expect.stringMatching(/expired on/),
      expect.stringMatching(/expired on/),
    ]);
  });
});
