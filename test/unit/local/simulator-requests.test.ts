import {
  INTRUSION_SEVERITIES,
  MAX_RETURN_URL,
  checkBind,
  checkInquiry,
  checkIntent,
  checkIntrusionReference,
  checkIntrusionReport,
  checkUnbind,
  parseEnvelope,
} from '../../../local/simulator-requests';

const json = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const MANAGED = ['managed.example'];
const ALL_TYPES = ['validate', 'discover', 'request', 'bind', 'assume ownership', 'befriend'];

/** The problem of a refused check: its code and message. */
function problemOf(checked: { ok: boolean; problem?: { code: string; message: string } }): [string, string] {
  expect(checked.ok).toBe(false);
  return [checked.problem?.code ?? '', checked.problem?.message ?? ''];
}

describe('parseEnvelope', () => {
  it('finds the single envelope of a request body', () => {
    expect(parseEnvelope(json({ 'Identity-Inquiry': { 'serial-number': '1' } }))).toEqual({
      name: 'Identity-Inquiry',
      body: { 'serial-number': '1' },
    });
  });

  it.each([
    ['malformed JSON', '{"Identity-Inquiry": '],
    ['no envelope', {}],
    ['two envelopes', { 'Identity-Inquiry': {}, Intent: {} }],
    ['an envelope that is not an object', { 'Identity-Inquiry': 'x' }],
    ['an envelope that is an array', { 'Identity-Inquiry': [] }],
    ['an array', [{ 'Identity-Inquiry': {} }]],
    ['null', 'null'],
  ])('refuses %s', (_name, body) => {
    expect(parseEnvelope(json(body))).toBeUndefined();
  });
});

describe('checkInquiry', () => {
  it('answers the decimal serial of a hex serial-number, and a managed service', () => {
    expect(checkInquiry({ 'serial-number': '0x10', 'ip-address': '203.0.113.7' }, MANAGED)).toEqual({
      ok: true,
      value: { serial: '16' },
    });
    expect(checkInquiry({ 'serial-number': '16', service: 'managed.example' }, MANAGED)).toEqual({
      ok: true,
      value: { serial: '16', service: 'managed.example' },
    });
  });

  it('reads an empty or null service as our own service (the Java client leaves out empty strings)', () => {
    expect(checkInquiry({ 'serial-number': '1', service: '' }, MANAGED)).toEqual({ ok: true, value: { serial: '1' } });
    expect(checkInquiry({ 'serial-number': '1', service: null }, MANAGED)).toEqual({
      ok: true,
      value: { serial: '1' },
    });
  });

  it.each([
    [{}, 'ER 0011', /^serial-number is missing\.$/],
    [{ 'serial-number': null }, 'ER 0011', /serial-number is missing/],
    [{ 'anonymous-id': 'abc' }, 'ER 0011', /anonymous-id is not simulated/],
    [{ 'serial-number': 16 }, 'ER 0001', /serial-number must be a string/],
    [{ 'serial-number': '12ab' }, 'ER 0001', /serial-number must be a decimal number/],
    [{ 'serial-number': '1', service: 2 }, 'ER 0001', /service must be a string/],
    [{ 'serial-number': '1', 'ip-address': false }, 'ER 0001', /ip-address must be a string/],
    [{ 'serial-number': '1', service: 'other.example' }, 'ER 0009', /"other.example" is not a service we manage/],
  ])('refuses %j with %s', (body, code, message) => {
    const [gotCode, gotMessage] = problemOf(checkInquiry(body, MANAGED));
    expect(gotCode).toBe(code);
    expect(gotMessage).toMatch(message);
  });
});

describe('checkIntent', () => {
  it('answers the type, return URL and strict-massl of a valid intent', () => {
    const body = { type: 'discover', 'return-url': 'https://auth.example.com/return?state=s', 'strict-massl': false };
    expect(checkIntent(body, ['discover'])).toEqual({
      ok: true,
      value: { type: 'discover', returnUrl: 'https://auth.example.com/return?state=s', strictMassl: false },
    });
  });

  it('reads an absent strict-massl as true (the Java client sends it only when false) and an absent type as discover', () => {
    expect(checkIntent({ 'return-url': 'https://a.example/' }, ['discover'])).toEqual({
      ok: true,
      value: { type: 'discover', returnUrl: 'https://a.example/', strictMassl: true },
    });
  });

  it.each(['assume ownership', 'assume-ownership', 'assume_ownership'])('reads %j as assume ownership', (type) => {
    const checked = checkIntent({ type, 'return-url': 'https://a.example/' }, ALL_TYPES);
    expect(checked.ok && checked.value.type).toBe('assume ownership');
  });

  it('accepts a return-url of exactly the longest length', () => {
    const base = 'https://a.example/';
    const url = base + 'x'.repeat(MAX_RETURN_URL - base.length);
    expect(checkIntent({ 'return-url': url }, ['discover']).ok).toBe(true);
  });

  it.each([
    [
      { type: 'launch', 'return-url': 'https://a.example/' },
      'ER 0001',
      /type must be one of: validate, discover, request/,
    ],
    [{ type: 7, 'return-url': 'https://a.example/' }, 'ER 0001', /type must be a string/],
    [{ type: 'validate', 'return-url': 'https://a.example/' }, 'ER 0009', /"validate" are not accepted/],
    [{ type: 'befriend', 'return-url': 'https://a.example/' }, 'ER 0009', /"befriend"/],
    [{ type: 'discover' }, 'ER 0011', /return-url is missing/],
    [{ type: 'discover', 'return-url': '' }, 'ER 0011', /return-url is missing/],
    [{ type: 'discover', 'return-url': 5 }, 'ER 0001', /return-url must be a string/],
    [{ type: 'discover', 'return-url': `https://a.example/${'x'.repeat(2048)}` }, 'ER 0006', /at most 2048/],
    [{ type: 'discover', 'return-url': 'http://a.example/' }, 'ER 0001', /return-url must be an absolute https URL/],
    [{ type: 'discover', 'return-url': '/return' }, 'ER 0001', /return-url/],
    [{ type: 'discover', 'return-url': 'https://user:pw@a.example/' }, 'ER 0001', /without credentials/],
    [{ type: 'discover', 'return-url': 'https://a.example/', 'strict-massl': 'yes' }, 'ER 0001', /strict-massl/],
  ])('refuses %j with %s', (body, code, message) => {
    const [gotCode, gotMessage] = problemOf(checkIntent(body, ['discover']));
    expect(gotCode).toBe(code);
    expect(gotMessage).toMatch(message);
  });
});

describe('checkBind', () => {
  it('reads the fields the Java client sends', () => {
    const body = {
      'serial-number': '0x10',
      'local-user-name': 'u-42',
      'local-user-age': 12,
      'tokens-of-trust': 10,
      'identity-assurance': 'email communication',
    };
    expect(checkBind(body)).toEqual({
      ok: true,
      value: {
        serial: '16',
        localUserName: 'u-42',
        localUserAge: 12,
        tokensOfTrust: 10,
        identityAssurance: 'email communication',
      },
    });
  });

  it('reads what the PHP client sends: a WordPress user id as the name, numbers as strings, nulls as absent', () => {
    const body = { 'serial-number': '16', 'local-user-name': 7, 'local-user-age': '3', 'tokens-of-trust': null };
    expect(checkBind(body)).toEqual({ ok: true, value: { serial: '16', localUserName: '7', localUserAge: 3 } });
    expect(checkBind({ 'serial-number': '16', 'local-user-name': 'a', 'identity-assurance': 'in-person' })).toEqual({
      ok: true,
      value: { serial: '16', localUserName: 'a', identityAssurance: 'in person' },
    });
  });

  it('takes a name of 256 characters', () => {
    expect(checkBind({ 'serial-number': '1', 'local-user-name': 'n'.repeat(256) }).ok).toBe(true);
  });

  it.each([
    [{ 'local-user-name': 'a' }, 'ER 0011', /serial-number is missing/],
    [{ 'serial-number': '1' }, 'ER 0011', /local-user-name is missing/],
    [{ 'serial-number': '1', 'local-user-name': '' }, 'ER 0011', /local-user-name is missing/],
    [{ 'serial-number': '+', 'local-user-name': 'a' }, 'ER 0001', /serial-number must be a decimal/],
    [{ 'serial-number': '1', 'local-user-name': 'n'.repeat(257) }, 'ER 0001', /local-user-name must be 1 to 256/],
    [{ 'serial-number': '1', 'local-user-name': 'a\nb' }, 'ER 0001', /without control characters/],
    [{ 'serial-number': '1', 'local-user-name': 1.5 }, 'ER 0001', /local-user-name must be a string/],
    [{ 'serial-number': '1', 'local-user-name': 'a', 'local-user-age': -1 }, 'ER 0001', /local-user-age/],
    [{ 'serial-number': '1', 'local-user-name': 'a', 'tokens-of-trust': 10_001 }, 'ER 0001', /0 to 10000/],
    [{ 'serial-number': '1', 'local-user-name': 'a', 'tokens-of-trust': '1e3' }, 'ER 0001', /tokens-of-trust/],
    [{ 'serial-number': '1', 'local-user-name': 'a', 'identity-assurance': 'dna' }, 'ER 0001', /identity-assurance/],
  ])('refuses %j with %s', (body, code, message) => {
    const [gotCode, gotMessage] = problemOf(checkBind(body));
    expect(gotCode).toBe(code);
    expect(gotMessage).toMatch(message);
  });
});

describe('checkUnbind', () => {
  it('reads the local user name', () => {
    expect(checkUnbind({ 'local-user-name': 'u-42' })).toEqual({ ok: true, value: { localUserName: 'u-42' } });
  });

  it('refuses a missing name with ER 0011', () => {
    expect(problemOf(checkUnbind({}))).toEqual(['ER 0011', 'local-user-name is missing.']);
  });
});

describe('checkIntrusionReport', () => {
  it('reads every field the Java client sends', () => {
    const body = {
      'intruding-certificate-uid': '16',
      severity: 'policy violation',
      message: 'spam',
      'intruder-ip-address': '2001:db8::1',
      'intruded-url': '/comments',
      'intruding-request-headers': ['Host = a.example'],
      'additional-information': 'more',
    };
    expect(checkIntrusionReport(body)).toEqual({
      ok: true,
      value: {
        serial: '16',
        severity: 'policy violation',
        message: 'spam',
        intruderIpAddress: '2001:db8::1',
        intrudedUrl: '/comments',
        intrudingRequestHeaders: ['Host = a.example'],
        additionalInformation: 'more',
      },
    });
  });

  it.each([
    ['mistake', 'mistake'],
    ['policy-violation', 'policy violation'],
    ['material damage', 'material damage'],
    ['monetary-damage', 'monetary damage'],
    ['inappropriate', 'inappropriate'],
    ['social-damage', 'social damage'],
    ['false information', 'false information'],
  ])('reads the severity %j as %j', (severity, normal) => {
    const checked = checkIntrusionReport({ 'intruding-certificate-uid': '1', severity });
    expect(checked.ok && checked.value.severity).toBe(normal);
  });

  it('knows the eight Java severities and the seven WordPress ones (mistake and intrusive are shared)', () => {
    expect(INTRUSION_SEVERITIES).toHaveLength(12);
  });

  it.each([
    [{ severity: 'fraud' }, 'ER 0011', /intruding-certificate-uid is missing/],
    [{ 'intruding-certificate-uid': '1' }, 'ER 0011', /severity is missing/],
    [{ 'intruding-certificate-uid': '1', severity: 'policy_violation' }, 'ER 0001', /severity must be one of/],
    [{ 'intruding-certificate-uid': '1', severity: 'Fraud' }, 'ER 0001', /severity/],
    [{ 'intruding-certificate-uid': '1', severity: 3 }, 'ER 0001', /severity/],
    [{ 'intruding-certificate-uid': 'x', severity: 'fraud' }, 'ER 0001', /intruding-certificate-uid must be a decimal/],
    [
      { 'intruding-certificate-uid': '1', severity: 'fraud', 'intruder-ip-address': '999.1.1.1' },
      'ER 0001',
      /IPv4 or IPv6/,
    ],
    [{ 'intruding-certificate-uid': '1', severity: 'fraud', 'intruding-request-headers': 'Host' }, 'ER 0001', /list/],
    [{ 'intruding-certificate-uid': '1', severity: 'fraud', 'intruding-request-headers': [1] }, 'ER 0001', /list/],
    [
      { 'intruding-certificate-uid': '1', severity: 'fraud', message: 'm'.repeat(4097) },
      'ER 0001',
      /message must be at most 4096/,
    ],
  ])('refuses %j with %s', (body, code, message) => {
    const [gotCode, gotMessage] = problemOf(checkIntrusionReport(body));
    expect(gotCode).toBe(code);
    expect(gotMessage).toMatch(message);
  });
});

describe('checkIntrusionReference', () => {
  it('reads the reference and refuses a missing one with ER 0011', () => {
    expect(checkIntrusionReference({ value: 'r1' })).toEqual({ ok: true, value: { value: 'r1' } });
    expect(problemOf(checkIntrusionReference({ value: null }))).toEqual(['ER 0011', 'value is missing.']);
    expect(problemOf(checkIntrusionReference({ value: ['r1'] }))[0]).toBe('ER 0001');
  });
});
