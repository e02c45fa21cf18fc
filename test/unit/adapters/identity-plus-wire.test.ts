import {
  buildInquiryRequest,
  buildIntentRequest,
  checkOutcome,
  clip,
  parseEnvelope,
  parseIdentityProfile,
  parseInquiryAnswer,
  parseIntentAnswer,
  parseSimpleResponse,
  signonUrlFor,
} from '../../../functions/adapters/identity-plus-wire';
import { IdentityPlusError, InvalidInputError } from '../../../functions/domain/errors';
import { isPlainObject } from '../../../functions/domain/json';

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

describe('request body edge cases', () => {
  it('accepts an IPv6 client address', () => {
    expect(buildInquiryRequest('7', { ip: '2001:db8::1' })).toEqual({
      'Identity-Inquiry': { 'serial-number': '7', 'ip-address': '2001:db8::1' },
    });
  });

  it('names the field that was wrong, and clips a long bad IP in the message', () => {
    const longIp = `not-an-ip-${'x'.repeat(500)}`;
    let caught: unknown;
    try {
      buildInquiryRequest('7', { ip: longIp });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).field).toBe('ip');
    expect((caught as InvalidInputError).message.length).toBeLessThan(140);
    expect((caught as InvalidInputError).message).toContain('…');
  });

  it('refuses a service longer than 512 characters and accepts one of 512', () => {
    expect(() => buildInquiryRequest('7', { service: 's'.repeat(513) })).toThrow(InvalidInputError);
    expect(buildInquiryRequest('7', { service: 's'.repeat(512) })['Identity-Inquiry'].service).toHaveLength(512);
  });

  it('refuses an intent type Identity Plus does not document', () => {
    expect(() => buildIntentRequest('other' as never, 'https://auth.example.com/return')).toThrow(
      'The intent type "other" is not one Identity Plus documents.',
    );
    expect(() => buildIntentRequest('assume ownership' as never, 'https://a.example/r')).toThrow(InvalidInputError);
    expect(buildIntentRequest('discover', 'http://auth.example.com/r').Intent.type).toBe('discover');
    expect(buildIntentRequest('assume-ownership', 'http://auth.example.com/r').Intent.type).toBe('assume-ownership');
  });

  it('refuses a return URL over 2048 characters and one of another scheme', () => {
    const base = 'https://auth.example.com/return?state=';
    expect(() => buildIntentRequest('validate', base + 'a'.repeat(2049 - base.length))).toThrow(InvalidInputError);
    expect(buildIntentRequest('validate', base + 'a'.repeat(2048 - base.length)).Intent['return-url']).toHaveLength(
      2048,
    );
    expect(() => buildIntentRequest('validate', 'ftp://auth.example.com/return')).toThrow(InvalidInputError);
  });
});

describe('answer edge cases', () => {
  it('names at most five keys of an unknown envelope, each clipped', () => {
    const longKey = `K${'k'.repeat(100)}`;
    const body = json({ [longKey]: 1, b: 2, c: 3, d: 4, e: 5, sixth: 6 });
    const err = failureOf(() => parseEnvelope(body, ['Identity-Profile']));
    expect(err.kind).toBe('unknown-envelope');
    expect(err.message).not.toContain(longKey);
    expect(err.message).toContain(`${longKey.slice(0, 39)}…`);
    expect(err.message).not.toContain('sixth');
    expect(err.message).toContain('expected one of Identity-Profile.');
  });

  it('says "no outcome" when the outcome is missing, and clips a long one', () => {
    expect(failureOf(() => checkOutcome(undefined, 'Identity-Profile')).message).toBe(
      'Identity Plus answered a Identity-Profile with no outcome.',
    );
    const long = `XX ${'9'.repeat(500)}`;
    const err = failureOf(() => checkOutcome(long, 'Simple-Response'));
    expect(err.message).not.toContain(long);
    expect(err.message.length).toBeLessThan(160);
  });

  it('refuses an Intent-Reference with a blank or too long value, or a bad outcome', () => {
    const reference = (value: unknown, outcome = 'OK 0000 Acknowledged'): string =>
      json({ 'Intent-Reference': { value, outcome } });
    expect(failureOf(() => parseIntentAnswer(reference('   '))).kind).toBe('invalid-response');
    expect(failureOf(() => parseIntentAnswer(reference('r'.repeat(1025)))).kind).toBe('invalid-response');
    expect(failureOf(() => parseIntentAnswer(reference(42))).kind).toBe('invalid-response');
    expect(parseIntentAnswer(reference('r'.repeat(1024)))).toMatchObject({ kind: 'reference' });
    expect(failureOf(() => parseIntentAnswer(reference('ref', 'Acknowledged'))).kind).toBe('invalid-response');
  });

  it('drops an empty Simple-Response message and turns a numeric one into text', () => {
    expect(parseSimpleResponse({ outcome: 'PB 0004 revoked', message: '' })).toEqual({
      kind: 'problem',
      outcome: 'PB 0004 revoked',
    });
    expect(parseSimpleResponse({ outcome: 'PB 0004 revoked', message: 17 })).toEqual({
      kind: 'problem',
      outcome: 'PB 0004 revoked',
      message: '17',
    });
    expect(parseSimpleResponse({ outcome: 'PB 0004 revoked', message: { text: 'x' } })).toEqual({
      kind: 'problem',
      outcome: 'PB 0004 revoked',
    });
  });
});

describe('parseIdentityProfile edge cases', () => {
  const every = {
    outcome: 'OK 0001 valid',
    'service-roles': ['member'],
    'organizational-reference': 'r',
    'organizational-name': 'n',
    'organizational-email': 'e@example.com',
    'local-user-id': 'u',
    'local-user-name': 'un',
    'trust-score': 1,
    'sites-frequented': 2,
    'average-identity-age': 3,
    'max-identity-age': 4,
    'local-trust': 5,
    'local-intrusions': 6,
    'trust-sponsors': ['s'],
  };

  it('fills the profile in a stable property order: outcome, roles, custom fields, then the rest as listed', () => {
    expect(Object.keys(parseIdentityProfile({ ...every, extra: true }))).toEqual([
      'outcome',
      'serviceRoles',
      'customFields',
      'organizationalReference',
      'organizationalName',
      'organizationalEmail',
      'localUserId',
      'localUserName',
      'trustScore',
      'sitesFrequented',
      'averageIdentityAge',
      'maxIdentityAge',
      'localTrust',
      'localIntrusions',
      'trustSponsors',
    ]);
  });

  it('keeps none of the known fields as custom fields, even when they are null', () => {
    const nulls = Object.fromEntries(Object.keys(every).map((key) => [key, null]));
    const profile = parseIdentityProfile({ ...nulls, outcome: 'OK 0001 valid' });
    expect(profile.customFields).toEqual({});
    expect(profile).toEqual({ outcome: 'OK 0001 valid', serviceRoles: [], customFields: {} });
  });

  it('refuses a bad outcome before looking at anything else', () => {
    const err = failureOf(() => parseIdentityProfile({ outcome: 'nope', 'service-roles': { admin: true } }));
    expect(err.message).toContain('outcome');
  });

  it('refuses trust-sponsors that are not a list, naming the field; service-roles are checked first', () => {
    const sponsors = failureOf(() => parseIdentityProfile({ outcome: 'OK 0001 v', 'trust-sponsors': { a: 1 } }));
    expect(sponsors.kind).toBe('invalid-response');
    expect(sponsors.message).toBe('Identity Plus answered an Identity-Profile whose trust-sponsors is not a list.');
    const both = failureOf(() =>
      parseIdentityProfile({ outcome: 'OK 0001 v', 'service-roles': 5, 'trust-sponsors': false }),
    );
    expect(both.message).toContain('service-roles');
  });

  it('reads empty role and sponsor strings as empty lists, and null sponsors as none', () => {
    const empty = parseIdentityProfile({ outcome: 'OK 0001 v', 'service-roles': '', 'trust-sponsors': '' });
    expect(empty.serviceRoles).toEqual([]);
    expect(empty.trustSponsors).toEqual([]);
    expect('trustSponsors' in parseIdentityProfile({ outcome: 'OK 0001 v', 'trust-sponsors': null })).toBe(false);
  });

  it('reads numbers in exponent form and ignores infinite or boolean ones', () => {
    const profile = parseIdentityProfile({
      outcome: 'OK 0001 v',
      'trust-score': '1e2',
      'sites-frequented': 'Infinity',
      'local-trust': true,
      'local-intrusions': '0x10',
    });
    expect(profile.trustScore).toBe(100);
    expect(profile.sitesFrequented).toBeUndefined();
    expect(profile.localTrust).toBeUndefined();
    expect(profile.localIntrusions).toBe(16);
  });

  it('ignores text fields that are objects, booleans or empty', () => {
    const profile = parseIdentityProfile({
      outcome: 'OK 0001 v',
      'organizational-name': { first: 'x' },
      'organizational-email': false,
      'local-user-name': '',
      'local-user-id': 0,
    });
    expect(profile.organizationalName).toBeUndefined();
    expect(profile.organizationalEmail).toBeUndefined();
    expect(profile.localUserName).toBeUndefined();
    expect(profile.localUserId).toBe('0');
  });
});

describe('helpers', () => {
  it('clips text to the limit, ellipsis included', () => {
    expect(clip('abcdef', 6)).toBe('abcdef');
    expect(clip('abcdefg', 6)).toBe('abcde…');
    expect(clip('abcdefg', 6)).toHaveLength(6);
  });

  it('calls only non-null, non-array objects plain', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    for (const value of [null, undefined, [], 'x', 1, true]) expect(isPlainObject(value)).toBe(false);
  });
});
