import {
  IdentityPlusClient,
  buildInquiryRequest,
  buildIntentRequest,
  checkOutcome,
  parseEnvelope,
  parseInquiryAnswer,
  parseIntentAnswer,
  signonUrlFor,
} from '../../../functions/adapters/identity-plus-client';
import { ConfigurationError, IdentityPlusError, InvalidInputError } from '../../../functions/domain/errors';

const json = (value: unknown): string => JSON.stringify(value);

/** The IdentityPlusError a call throws (fails the test when it does not throw one). */
function failureOf(fn: () => unknown): IdentityPlusError {
  try {
    fn();
  } catch (err) {
    if (err instanceof IdentityPlusError) return err;
    throw err;
  }
  throw new Error('expected an IdentityPlusError');
}

// Serial forms (decimal, 0x-hex, colon-hex) are covered by test/unit/domain/certificate.test.ts.

describe('request bodies', () => {
  it('builds an Identity-Inquiry with the decimal serial', () => {
    expect(buildInquiryRequest('0x10')).toEqual({ 'Identity-Inquiry': { 'serial-number': '16' } });
  });

  it('adds service and ip-address when given', () => {
    expect(buildInquiryRequest('7', { service: 'billing.example', ip: '203.0.113.9' })).toEqual({
      'Identity-Inquiry': { 'serial-number': '7', service: 'billing.example', 'ip-address': '203.0.113.9' },
    });
  });

  it('refuses an ip that is not an IP address and an empty service', () => {
    expect(() => buildInquiryRequest('7', { ip: 'not-an-ip' })).toThrow(InvalidInputError);
    expect(() => buildInquiryRequest('7', { service: ' ' })).toThrow(InvalidInputError);
  });

  it('builds an Intent with strict-massl on', () => {
    expect(buildIntentRequest('validate', 'https://auth.example.com/return?state=abc')).toEqual({
      Intent: { type: 'validate', 'return-url': 'https://auth.example.com/return?state=abc', 'strict-massl': true },
    });
  });

  it('refuses a return URL that is not absolute http(s)', () => {
    expect(() => buildIntentRequest('validate', '/return')).toThrow(InvalidInputError);
    expect(() => buildIntentRequest('validate', 'javascript:alert(1)')).toThrow('absolute http(s) URL');
  });

  it('builds the sign-on URL from the reference', () => {
    expect(signonUrlFor('https://signon.identity.plus/', 'a b/c')).toBe('https://signon.identity.plus/a%20b%2Fc');
    expect(signonUrlFor('https://signon.identity.plus', 'ref123')).toBe('https://signon.identity.plus/ref123');
  });
});

describe('checkOutcome', () => {
  it.each(['OK 0001 Subject anonymous certificate valid', 'PB 0003', 'ER 1104 over plan'])('accepts %j', (o) => {
    expect(checkOutcome(o, 'Simple-Response')).toBe(o);
  });

  it.each([undefined, null, 42, '', 'OK 01', 'OK 000', 'ok 0001 lower case', 'XX 0001 unknown family', 'OK-0001'])(
    'refuses %j as invalid-response',
    (o) => {
      expect(failureOf(() => checkOutcome(o, 'Simple-Response')).kind).toBe('invalid-response');
    },
  );
});

describe('parseEnvelope', () => {
  const expected = ['Identity-Profile', 'Simple-Response'];

  it('refuses a body that is not JSON', () => {
    const err = failureOf(() => parseEnvelope('<html>502</html>', expected));
    expect(err.kind).toBe('invalid-response');
    expect(err.message).toBe('Identity Plus answered with a body that is not JSON.');
  });

  it.each(['[]', '"text"', 'null', '42'])('refuses JSON %s that is not an object', (body) => {
    expect(failureOf(() => parseEnvelope(body, expected)).kind).toBe('invalid-response');
  });

  it('calls an object without a known envelope unknown-envelope and names what came', () => {
    const err = failureOf(() => parseEnvelope(json({ 'Reference-Number': { value: '1' } }), expected));
    expect(err.kind).toBe('unknown-envelope');
    expect(err.message).toContain('Reference-Number');
  });

  it('calls an empty object unknown-envelope', () => {
    expect(failureOf(() => parseEnvelope('{}', expected)).kind).toBe('unknown-envelope');
  });

  it('refuses two envelopes at once as ambiguous', () => {
    const body = json({ 'Identity-Profile': { outcome: 'OK 0001 x' }, 'Simple-Response': { outcome: 'PB 0004 x' } });
    const err = failureOf(() => parseEnvelope(body, expected));
    expect(err.kind).toBe('invalid-response');
    expect(err.message).toContain('more than one envelope');
  });

  it('tolerates an unknown top-level key next to the one envelope', () => {
    const body = json({ 'Simple-Response': { outcome: 'PB 0004 x' }, trace: 'abc' });
    expect(parseEnvelope(body, expected).name).toBe('Simple-Response');
  });

  it('refuses an envelope whose value is not an object', () => {
    expect(failureOf(() => parseEnvelope(json({ 'Simple-Response': 'PB 0004' }), expected)).kind).toBe(
      'invalid-response',
    );
  });
});

describe('parseInquiryAnswer', () => {
  it('maps every Identity-Profile field to the camelCase profile', () => {
    const answer = parseInquiryAnswer(
      json({
        'Identity-Profile': {
          outcome: 'OK 0002 Subject anonymous certificate valid and user uid associated',
          'service-roles': ['member', 'org. administrator'],
          'organizational-reference': 'org-ref-1',
          'organizational-name': 'Erin Eckhart',
          'organizational-email': 'erin@example.com',
          'local-user-id': 'erin-local',
          'local-user-name': 'erin',
          'trust-score': 4.5,
          'sites-frequented': 12,
          'average-identity-age': 300,
          'max-identity-age': 700,
          'local-trust': 2,
          'local-intrusions': 0,
          'trust-sponsors': ['sponsor-a'],
        },
      }),
    );
    expect(answer).toEqual({
      kind: 'profile',
      profile: {
        outcome: 'OK 0002 Subject anonymous certificate valid and user uid associated',
        serviceRoles: ['member', 'org. administrator'],
        organizationalReference: 'org-ref-1',
        organizationalName: 'Erin Eckhart',
        organizationalEmail: 'erin@example.com',
        localUserId: 'erin-local',
        localUserName: 'erin',
        trustScore: 4.5,
        sitesFrequented: 12,
        averageIdentityAge: 300,
        maxIdentityAge: 700,
        localTrust: 2,
        localIntrusions: 0,
        trustSponsors: ['sponsor-a'],
        customFields: {},
      },
    });
  });

  it('keeps unknown profile keys as custom fields, as sent', () => {
    const answer = parseInquiryAnswer(
      json({
        'Identity-Profile': {
          outcome: 'OK 0001 Subject anonymous certificate valid',
          'service-roles': [],
          'cost-center': 'CC-42',
          clearance: { level: 3, since: '2024' },
        },
      }),
    );
    expect(answer.kind === 'profile' && answer.profile.customFields).toEqual({
      'cost-center': 'CC-42',
      clearance: { level: 3, since: '2024' },
    });
  });

  it('keeps a custom field named __proto__ as a plain field', () => {
    const answer = parseInquiryAnswer('{"Identity-Profile":{"outcome":"OK 0001 v","__proto__":{"polluted":true}}}');
    if (answer.kind !== 'profile') throw new Error('expected a profile');
    expect(Object.getPrototypeOf(answer.profile.customFields)).toBe(Object.prototype);
    expect(Object.keys(answer.profile.customFields)).toEqual(['__proto__']);
    expect((answer.profile.customFields as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('reads a profile with only an outcome as valid with no roles', () => {
    const answer = parseInquiryAnswer(json({ 'Identity-Profile': { outcome: 'OK 0001 valid' } }));
    expect(answer).toEqual({
      kind: 'profile',
      profile: { outcome: 'OK 0001 valid', serviceRoles: [], customFields: {} },
    });
  });

  it('treats null service-roles as none', () => {
    const body = json({ 'Identity-Profile': { outcome: 'OK 0001 valid', 'service-roles': null } });
    const answer = parseInquiryAnswer(body);
    expect(answer.kind === 'profile' && answer.profile.serviceRoles).toEqual([]);
  });

  it('reads a single role given as a string, and drops non-string entries', () => {
    const single = parseInquiryAnswer(json({ 'Identity-Profile': { outcome: 'OK 0001 v', 'service-roles': 'admin' } }));
    expect(single.kind === 'profile' && single.profile.serviceRoles).toEqual(['admin']);
    const mixed = parseInquiryAnswer(
      json({ 'Identity-Profile': { outcome: 'OK 0001 v', 'service-roles': ['a', null, { x: 1 }, 7, 'b'] } }),
    );
    expect(mixed.kind === 'profile' && mixed.profile.serviceRoles).toEqual(['a', '7', 'b']);
  });

  it('refuses service-roles that are neither a list nor a string', () => {
    const body = json({ 'Identity-Profile': { outcome: 'OK 0001 v', 'service-roles': { admin: true } } });
    expect(failureOf(() => parseInquiryAnswer(body)).kind).toBe('invalid-response');
  });

  it('coerces numbers sent as strings, and strings sent as numbers', () => {
    const answer = parseInquiryAnswer(
      json({
        'Identity-Profile': {
          outcome: 'OK 0001 v',
          'trust-score': '3.5',
          'sites-frequented': ' 17 ',
          'average-identity-age': 'n/a',
          'max-identity-age': '',
          'local-trust': null,
          'local-user-id': 1234,
        },
      }),
    );
    if (answer.kind !== 'profile') throw new Error('expected a profile');
    expect(answer.profile.trustScore).toBe(3.5);
    expect(answer.profile.sitesFrequented).toBe(17);
    expect(answer.profile.averageIdentityAge).toBeUndefined();
    expect(answer.profile.maxIdentityAge).toBeUndefined();
    expect(answer.profile.localTrust).toBeUndefined();
    expect(answer.profile.localUserId).toBe('1234');
  });

  it('reads an empty local-user-id as "never bound"', () => {
    const answer = parseInquiryAnswer(json({ 'Identity-Profile': { outcome: 'OK 0001 v', 'local-user-id': '' } }));
    expect(answer.kind === 'profile' && answer.profile.localUserId).toBeUndefined();
  });

  it('refuses a profile without a valid outcome', () => {
    expect(failureOf(() => parseInquiryAnswer(json({ 'Identity-Profile': { 'service-roles': [] } }))).kind).toBe(
      'invalid-response',
    );
    expect(failureOf(() => parseInquiryAnswer(json({ 'Identity-Profile': { outcome: 'valid' } }))).kind).toBe(
      'invalid-response',
    );
  });

  it('turns a Simple-Response into a problem with outcome and message', () => {
    const outcome = 'PB 0003 Identity Plus anonymous certificate needs validation';
    expect(parseInquiryAnswer(json({ 'Simple-Response': { outcome, message: 'm' } }))).toEqual({
      kind: 'problem',
      outcome,
      message: 'm',
    });
  });

  it('reads a Simple-Response without a message', () => {
    expect(parseInquiryAnswer(json({ 'Simple-Response': { outcome: 'ER 1104' } }))).toEqual({
      kind: 'problem',
      outcome: 'ER 1104',
    });
  });

  it('refuses a Simple-Response with a bad outcome', () => {
    const err = failureOf(() => parseInquiryAnswer(json({ 'Simple-Response': { outcome: 'Error', message: 'x' } })));
    expect(err.kind).toBe('invalid-response');
    expect(err.message).toContain('"Error"');
  });

  it('calls an Intent-Reference an unknown envelope for an inquiry', () => {
    const err = failureOf(() => parseInquiryAnswer(json({ 'Intent-Reference': { value: 'r', outcome: 'OK 0000 x' } })));
    expect(err.kind).toBe('unknown-envelope');
  });
});

describe('parseIntentAnswer', () => {
  it('reads an Intent-Reference', () => {
    const body = json({ 'Intent-Reference': { value: 'ref-1', outcome: 'OK 0000 Acknowledged' } });
    expect(parseIntentAnswer(body)).toEqual({
      kind: 'reference',
      reference: 'ref-1',
      outcome: 'OK 0000 Acknowledged',
    });
  });

  it('refuses an Intent-Reference without a value', () => {
    const body = json({ 'Intent-Reference': { outcome: 'OK 0000 Acknowledged' } });
    expect(failureOf(() => parseIntentAnswer(body)).kind).toBe('invalid-response');
    const empty = json({ 'Intent-Reference': { value: '', outcome: 'OK 0000 Acknowledged' } });
    expect(failureOf(() => parseIntentAnswer(empty)).kind).toBe('invalid-response');
  });

  it('reads a Simple-Response as a problem', () => {
    expect(parseIntentAnswer(json({ 'Simple-Response': { outcome: 'ER 0003 Invalid parameter' } }))).toEqual({
      kind: 'problem',
      outcome: 'ER 0003 Invalid parameter',
    });
  });

  it('calls an Identity-Profile an unknown envelope for an intent', () => {
    expect(failureOf(() => parseIntentAnswer(json({ 'Identity-Profile': { outcome: 'OK 0001 v' } }))).kind).toBe(
      'unknown-envelope',
    );
  });
});

describe('IdentityPlusClient configuration', () => {
  const pem = { certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', privateKey: 'x' };

  it('refuses a plain-http API URL', () => {
    expect(() => new IdentityPlusClient({ apiUrl: 'http://api.identity.plus/v1', credentials: pem })).toThrow(
      ConfigurationError,
    );
  });

  it('refuses credentials that are not PEM, without echoing them', () => {
    const secret = 'not-a-key-but-secret-text';
    try {
      new IdentityPlusClient({ credentials: { certificate: pem.certificate, privateKey: secret } });
      throw new Error('expected a ConfigurationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigurationError);
      expect(String(err)).not.toContain(secret);
    }
  });

  it('refuses a non-positive timeout', () => {
    expect(() => new IdentityPlusClient({ credentials: pem, answerTimeoutMs: 0 })).toThrow('answerTimeoutMs');
  });
});
