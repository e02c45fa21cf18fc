import {
  MAX_LATENCY_MS,
  wireSerial,
  parseFault,
  parseIdentity,
  requireIdentity,
  requireSerial,
} from '../../../local/simulator-input';

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';

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

  it('keeps roles in managed services, copied', () => {
    const serviceRoles = { 'managed.example': ['org. member'] };
    const checked = parseIdentity({ outcome: OK_0001, serviceRoles });
    expect(checked).toEqual({ ok: true, value: { outcome: OK_0001, roles: [], serviceRoles } });
    expect(checked.ok && checked.value.serviceRoles).not.toBe(serviceRoles);
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
    ['service roles that are a list', { outcome: OK_0001, serviceRoles: ['a'] }, /serviceRoles must map/],
    ['service roles that are not strings', { outcome: OK_0001, serviceRoles: { s: [1] } }, /serviceRoles/],
    ['service roles of an unnamed service', { outcome: OK_0001, serviceRoles: { '': [] } }, /serviceRoles/],
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
