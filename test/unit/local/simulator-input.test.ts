import {
  MAX_LATENCY_MS,
  checkInquiry,
  checkIntent,
  wireSerial,
  parseEnvelope,
  parseFault,
  parseIdentity,
  requireIdentity,
  requireSerial,
} from '../../../local/simulator-input';

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';
const json = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

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

describe('serials', () => {
  it('normalises decimal and 0x-hex to decimal, trimming blanks', () => {
    expect(wireSerial('476701752658536845')).toBe('476701752658536845');
    expect(wireSerial(' 0x1F ')).toBe('31');
    expect(wireSerial('0X00ff')).toBe('255');
  });

  it.each(['', '12ab', '-1', '1.5', '0x', `0x${'f'.repeat(43)}`, '9'.repeat(51), '0', `0x${'f'.repeat(41)}`])(
    'refuses %j',
    (serial) => {
      expect(wireSerial(serial)).toBeUndefined();
    },
  );

  it('throws on a malformed serial for programmatic callers, naming it', () => {
    expect(requireSerial('0x10')).toBe('16');
    expect(() => requireSerial('nope')).toThrow(/invalid serial "nope"/);
  });
});

describe('checkInquiry', () => {
  it('answers the decimal serial of a hex serial-number', () => {
    expect(checkInquiry({ 'serial-number': '0x10', service: 's', 'ip-address': '203.0.113.7' })).toEqual({
      ok: true,
      value: { serial: '16' },
    });
  });

  it.each([
    [{}, /serial-number must be a string/],
    [{ 'serial-number': 16 }, /serial-number must be a string/],
    [{ 'serial-number': '12ab' }, /serial-number must be a decimal number/],
    [{ 'serial-number': '1', service: 2 }, /service must be a string/],
    [{ 'serial-number': '1', 'ip-address': false }, /ip-address must be a string/],
  ])('refuses %j', (body, message) => {
    const checked = checkInquiry(body);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toMatch(message);
  });
});

describe('checkIntent', () => {
  const types = ['validate', 'discover'];

  it('answers the return URL of a valid intent', () => {
    const body = { type: 'discover', 'return-url': 'https://auth.example.com/return?state=s', 'strict-massl': true };
    expect(checkIntent(body, types)).toEqual({
      ok: true,
      value: { returnUrl: 'https://auth.example.com/return?state=s' },
    });
  });

  it.each([
    [{ type: 'launch', 'return-url': 'https://a.example/' }, /type must be one of: validate, discover\./],
    [{ 'return-url': 'https://a.example/' }, /type must be one of/],
    [{ type: 'validate', 'return-url': 'http://a.example/' }, /return-url/],
    [{ type: 'validate', 'return-url': '/return' }, /return-url/],
    [{ type: 'validate', 'return-url': 'https://user:pw@a.example/' }, /return-url/],
    [{ type: 'validate', 'return-url': `https://a.example/${'x'.repeat(2048)}` }, /return-url/],
    [{ type: 'validate', 'return-url': 'https://a.example/', 'strict-massl': 'yes' }, /strict-massl/],
  ])('refuses %j', (body, message) => {
    const checked = checkIntent(body, types);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toMatch(message);
  });

  it('accepts only the configured types', () => {
    expect(checkIntent({ type: 'discover', 'return-url': 'https://a.example/' }, ['validate']).ok).toBe(false);
  });
});

describe('parseIdentity', () => {
  it('keeps the known fields and copies arrays and custom fields', () => {
    const customFields = { 'cost-center': { code: 'R&D' } };
    const trustSponsors = ['sponsor'];
    const input = {
      outcome: OK_0001,
      roles: ['member'],
      localUserId: 'u1',
      trustScore: 3,
      trustSponsors,
      customFields,
    };
    const checked = parseIdentity(input);
    expect(checked).toEqual({ ok: true, value: input });
    if (!checked.ok) return;
    expect(checked.value.customFields).not.toBe(customFields);
    expect(checked.value.customFields?.['cost-center']).not.toBe(customFields['cost-center']);
    expect(checked.value.trustSponsors).not.toBe(trustSponsors);
  });

  it('defaults roles to none', () => {
    expect(parseIdentity({ outcome: OK_0001 })).toEqual({ ok: true, value: { outcome: OK_0001, roles: [] } });
  });

  it.each([
    ['not an object', [], /must be a JSON object/],
    ['an unknown field, listing the known ones', { outcome: OK_0001, rolez: [] }, /"rolez".*expected: outcome, roles,/],
    ['an outcome without a code', { outcome: 'fine' }, /outcome must be a code and words/],
    ['an outcome with a line break', { outcome: 'OK 0001 a\nb' }, /outcome/],
    ['roles that are not strings', { outcome: OK_0001, roles: 'admin' }, /roles must be an array of strings/],
    ['a string field of another type', { outcome: OK_0001, localUserName: 7 }, /localUserName must be a string/],
    ['a number that is not finite', { outcome: OK_0001, trustScore: null }, /trustScore must be a number/],
    ['sponsors that are not strings', { outcome: OK_0001, trustSponsors: [1] }, /trustSponsors/],
    ['custom fields that are not an object', { outcome: OK_0001, customFields: [] }, /customFields must be/],
    [
      'a custom field named like a standard one',
      { outcome: OK_0001, customFields: { 'trust-score': 5 } },
      /"trust-score"/,
    ],
    [
      'an empty custom field name',
      { outcome: OK_0001, customFields: { '': 1 } },
      /customFields may not use the key ""/,
    ],
  ])('refuses %s', (_name, input, message) => {
    const checked = parseIdentity(input);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toMatch(message);
  });

  it('throws on an invalid identity for programmatic callers', () => {
    expect(() => requireIdentity({ outcome: 'nope', roles: [] })).toThrow(/^invalid identity: outcome/);
  });
});

describe('parseFault', () => {
  it.each([
    { mode: 'none' },
    { mode: 'http500' },
    { mode: 'drop' },
    { mode: 'garbage' },
    { mode: 'latency', latencyMs: 0 },
    { mode: 'latency', latencyMs: MAX_LATENCY_MS },
    { mode: 'outcome', outcome: 'ER 1103 Revoked API certificate' },
    { mode: 'renewal', renewal: 'refuse' },
    { mode: 'renewal', renewal: 'mismatched-key' },
  ])('accepts %j', (fault) => {
    expect(parseFault(fault)).toEqual({ ok: true, value: fault });
  });

  it('drops fields the mode does not use', () => {
    expect(parseFault({ mode: 'drop', latencyMs: 5 })).toEqual({ ok: true, value: { mode: 'drop' } });
  });

  it.each([
    ['not an object', 'drop', /The fault must be a JSON object/],
    [
      'an unknown field',
      { mode: 'none', delay: 1 },
      /Unknown field "delay"; expected mode, latencyMs, outcome, renewal\./,
    ],
    [
      'an unknown mode, listing the modes',
      { mode: 'meltdown' },
      /^mode must be one of none, latency, http500, drop, garbage, outcome, renewal\.$/,
    ],
    ['latency without latencyMs', { mode: 'latency' }, /latencyMs must be an integer from 0 to 60000/],
    ['a negative latency', { mode: 'latency', latencyMs: -1 }, /latencyMs/],
    ['a fractional latency', { mode: 'latency', latencyMs: 1.5 }, /latencyMs/],
    ['a latency over the limit', { mode: 'latency', latencyMs: MAX_LATENCY_MS + 1 }, /latencyMs/],
    ['an outcome without a code', { mode: 'outcome', outcome: 'revoked' }, /outcome must be a code and words/],
    [
      'a renewal fault it does not know',
      { mode: 'renewal', renewal: 'explode' },
      /^renewal must be one of refuse, not-renewed, garbage, mismatched-key, expired\.$/,
    ],
    ['a renewal fault without its kind', { mode: 'renewal' }, /^renewal must be one of/],
  ])('refuses %s', (_name, input, message) => {
    const checked = parseFault(input);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toMatch(message);
  });
});
