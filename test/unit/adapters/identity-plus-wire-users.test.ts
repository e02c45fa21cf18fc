/**
 * The wire format of the identity operations (functions/adapters/identity-plus-wire-users.ts): the exact
 * request envelopes, the refusal of bad input before anything is sent, and strict parsing of the answers,
 * hostile ones included.
 */
import {
  MAX_INTRUSION_MESSAGE,
  MAX_LOCAL_USER_ID,
  MAX_REFERENCE,
  buildBindRequest,
  buildIntrusionReport,
  buildIntrusionWithdrawal,
  buildUnbindRequest,
  checkLocalUserId,
  checkReference,
  parseIntrusionAnswer,
  parseOutcomeAnswer,
} from '../../../functions/adapters/identity-plus-wire-users';
import { IdentityPlusError, InvalidInputError } from '../../../functions/domain/errors';
import { INTRUSION_SEVERITIES, type IntrusionReport } from '../../../functions/domain/identity-plus';

const json = (value: unknown): string => JSON.stringify(value);

/** The error a call throws, of the class given (fails the test when it throws nothing or something else). */
function thrown<E extends Error>(kind: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof kind) return err;
    throw err;
  }
  throw new Error(`expected ${kind.name}`);
}

const REPORT: IntrusionReport = { serial: '12345', severity: 'intrusive', message: 'scanned /admin' };

describe('request envelopes', () => {
  it('binds with Local-User-Information: the decimal serial of a 0x-hex one and the id as local-user-name', () => {
    expect(buildBindRequest('0x1F', 'user-42')).toStrictEqual({
      'Local-User-Information': { 'serial-number': '31', 'local-user-name': 'user-42' },
    });
    expect(json(buildBindRequest('476701752658536845', 'Zoë Ärger'))).toBe(
      '{"Local-User-Information":{"serial-number":"476701752658536845","local-user-name":"Zoë Ärger"}}',
    );
  });

  it('binds by a colon-hex serial too, always sending decimal', () => {
    expect(buildBindRequest('01:00', 'u')['Local-User-Information']['serial-number']).toBe('256');
  });

  it('unbinds with Local-User-Reference carrying only local-user-name', () => {
    expect(buildUnbindRequest('user-42')).toStrictEqual({ 'Local-User-Reference': { 'local-user-name': 'user-42' } });
  });

  it('reports an intrusion with exactly the fields given, serial in decimal', () => {
    expect(buildIntrusionReport({ ...REPORT, serial: '0xff' })).toStrictEqual({
      'Intrusion-Report': { 'intruding-certificate-uid': '255', severity: 'intrusive', message: 'scanned /admin' },
    });
  });

  it('adds intruder-ip-address and intruded-url when given', () => {
    expect(
      buildIntrusionReport({
        serial: '7',
        severity: 'policy violation',
        message: 'm',
        ip: '2001:db8::7',
        url: 'https://app.example.com/admin?x=1',
      }),
    ).toStrictEqual({
      'Intrusion-Report': {
        'intruding-certificate-uid': '7',
        severity: 'policy violation',
        message: 'm',
        'intruder-ip-address': '2001:db8::7',
        'intruded-url': 'https://app.example.com/admin?x=1',
      },
    });
  });

  it('sends every documented severity as written', () => {
    for (const severity of INTRUSION_SEVERITIES) {
      expect(buildIntrusionReport({ ...REPORT, severity })['Intrusion-Report'].severity).toBe(severity);
    }
  });

  it('withdraws with Intrusion-Reference carrying the reference as value', () => {
    expect(buildIntrusionWithdrawal('R-2026-0001')).toStrictEqual({ 'Intrusion-Reference': { value: 'R-2026-0001' } });
  });
});

describe('checkLocalUserId', () => {
  it('accepts ids of 1 to 128 characters, counted by code point', () => {
    expect(checkLocalUserId('u')).toBe('u');
    expect(checkLocalUserId('a'.repeat(MAX_LOCAL_USER_ID))).toHaveLength(128);
    const emoji = '\u{1F600}'.repeat(MAX_LOCAL_USER_ID); // 256 UTF-16 units, 128 characters
    expect(checkLocalUserId(emoji)).toBe(emoji);
    expect(checkLocalUserId('alice@example.com')).toBe('alice@example.com');
    expect(checkLocalUserId('a b')).toBe('a b');
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['leading space', ' alice'],
    ['trailing space', 'alice '],
    ['trailing tab', 'alice\t'],
  ])('refuses an id that is %s', (_what, value) => {
    const err = thrown(InvalidInputError, () => checkLocalUserId(value));
    expect(err.status).toBe(400);
    expect(err.field).toBe('localUserId');
    expect(err.message).toContain('non-empty string without leading or trailing spaces');
  });

  it('refuses an id one character too long', () => {
    expect(thrown(InvalidInputError, () => checkLocalUserId('a'.repeat(129))).message).toBe(
      'localUserId is longer than 128 characters.',
    );
    expect(() => checkLocalUserId('\u{1F600}'.repeat(129))).toThrow('longer than 128');
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['line feed', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['escape', 'a\u001b[31mb'],
    ['DEL', 'a\u007fb'],
    ['C1 control', 'a\u0085b'],
    ['slash', 'a/b'],
    ['only a slash', '/'],
    ['lone high surrogate', 'a\ud800'],
    ['lone low surrogate', '\udc00b'],
    ['reversed pair', '\ude00\ud83d'],
  ])('refuses an id with a %s', (_what, value) => {
    const err = thrown(InvalidInputError, () => checkLocalUserId(value));
    expect(err.message).toBe('localUserId must not contain control characters, unpaired surrogates or "/".');
    expect(err.field).toBe('localUserId');
  });

  it.each([[42], [null], [undefined], [['a']], [{ id: 'a' }], [true]])('refuses %p, which is not a string', (value) => {
    expect(() => checkLocalUserId(value)).toThrow(InvalidInputError);
  });

  it('names the field it was given', () => {
    expect(thrown(InvalidInputError, () => checkLocalUserId('', 'user')).field).toBe('user');
  });

  it('is applied by the bind and unbind envelopes, before anything is built', () => {
    expect(() => buildBindRequest('1', 'a/b')).toThrow('"/"');
    expect(() => buildUnbindRequest(' a')).toThrow(InvalidInputError);
    expect(() => buildUnbindRequest('a'.repeat(129))).toThrow('longer than 128');
  });

  it('refuses a bad serial in a binding, naming serial', () => {
    for (const serial of ['', '0', '-1', 'xyz', '1'.repeat(121), `0x${'f'.repeat(41)}`]) {
      expect(thrown(InvalidInputError, () => buildBindRequest(serial, 'u')).field).toBe('serial');
    }
  });
});

describe('buildIntrusionReport refusals', () => {
  it.each([['Policy-Violation'], ['policy_violation'], ['INTRUSIVE'], ['spam'], [''], [' fraud']])(
    'refuses the severity %p (the handler normalises spellings; the wire takes only the list)',
    (severity) => {
      const err = thrown(InvalidInputError, () => buildIntrusionReport({ ...REPORT, severity: severity as never }));
      expect(err.field).toBe('severity');
      expect(err.message).toContain('severity must be one of mistake, policy violation, intrusive');
    },
  );

  it('refuses a message that is empty, blank, too long or not text', () => {
    for (const message of ['', '   ', 'x'.repeat(MAX_INTRUSION_MESSAGE + 1), 7, null]) {
      const err = thrown(InvalidInputError, () => buildIntrusionReport({ ...REPORT, message: message as string }));
      expect(err.field).toBe('message');
      expect(err.message).toBe('message must be text of 1 to 2000 characters.');
    }
    expect(buildIntrusionReport({ ...REPORT, message: 'x'.repeat(MAX_INTRUSION_MESSAGE) })).toBeDefined();
  });

  it.each([['localhost'], ['1.2.3.4 '], ['999.1.1.1'], ['1.2.3'], [''], ['fe80::1%eth0x/'], [7]])(
    'refuses the ip %p',
    (ip) => {
      const err = thrown(InvalidInputError, () => buildIntrusionReport({ ...REPORT, ip: ip as string }));
      expect(err.field).toBe('ip');
      expect(err.message).toBe('ip must be an IPv4 or IPv6 address.');
    },
  );

  it.each([
    ['/relative'],
    ['javascript:alert(1)'],
    ['ftp://files.example/x'],
    ['data:text/html,x'],
    [`https://app.example.com/${'a'.repeat(2048)}`],
    ['https://'],
    [''],
  ])('refuses the url %p', (url) => {
    const err = thrown(InvalidInputError, () => buildIntrusionReport({ ...REPORT, url }));
    expect(err.field).toBe('url');
  });

  it('refuses a bad serial, naming serial', () => {
    expect(thrown(InvalidInputError, () => buildIntrusionReport({ ...REPORT, serial: 'abc!' })).field).toBe('serial');
  });
});

describe('checkReference', () => {
  it('accepts 1 to 256 visible ASCII characters other than "/"', () => {
    expect(checkReference('r')).toBe('r');
    expect(checkReference('~!#$%&()*+,-.:;<=>?@[]^_`{|}')).toBe('~!#$%&()*+,-.:;<=>?@[]^_`{|}');
    expect(checkReference('x'.repeat(MAX_REFERENCE))).toHaveLength(256);
  });

  it.each([
    ['empty', ''],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['a line feed', 'a\nb'],
    ['a NUL', 'a\u0000'],
    ['DEL', 'a\u007f'],
    ['non-ASCII', 'réf'],
    ['a lone surrogate', '\ud800'],
    ['257 characters', 'x'.repeat(257)],
  ])('refuses a reference with %s', (_what, value) => {
    const err = thrown(InvalidInputError, () => checkReference(value));
    expect(err.field).toBe('reference');
    expect(err.message).toBe('reference must be 1 to 256 visible ASCII characters without "/".');
  });

  it('refuses values that are not strings, and names the field it was given', () => {
    expect(() => checkReference(12)).toThrow(InvalidInputError);
    expect(thrown(InvalidInputError, () => checkReference(null, 'ref')).field).toBe('ref');
    expect(() => buildIntrusionWithdrawal('a/b')).toThrow(InvalidInputError);
  });
});

describe('parseOutcomeAnswer', () => {
  it('reads a Simple-Response outcome, with its message', () => {
    expect(parseOutcomeAnswer(json({ 'Simple-Response': { outcome: 'OK 0101 Local user unbound' } }))).toStrictEqual({
      outcome: 'OK 0101 Local user unbound',
    });
    expect(
      parseOutcomeAnswer(json({ 'Simple-Response': { outcome: 'ER 0005 Not bound', message: 'no such user' } })),
    ).toStrictEqual({ outcome: 'ER 0005 Not bound', message: 'no such user' });
  });

  it('reads the outcome of an Identity-Profile too, and tolerates unknown keys beside the envelope', () => {
    expect(
      parseOutcomeAnswer(json({ 'Identity-Profile': { outcome: 'OK 0101 done', 'trust-score': 3 }, extra: 1 })),
    ).toStrictEqual({ outcome: 'OK 0101 done' });
  });

  it('drops an empty message and turns a numeric one into text', () => {
    expect(parseOutcomeAnswer(json({ 'Simple-Response': { outcome: 'PB 0006 x', message: '' } }))).toStrictEqual({
      outcome: 'PB 0006 x',
    });
    expect(parseOutcomeAnswer(json({ 'Simple-Response': { outcome: 'PB 0006 x', message: 12 } })).message).toBe('12');
  });

  it.each([
    ['two envelopes', { 'Simple-Response': { outcome: 'OK 0101 a' }, 'Identity-Profile': { outcome: 'OK 0101 b' } }],
    ['no outcome', { 'Simple-Response': { message: 'done' } }],
    ['a numeric outcome', { 'Simple-Response': { outcome: 101 } }],
    ['an outcome of another class', { 'Simple-Response': { outcome: 'XX 0101 what' } }],
    ['a lower-case outcome', { 'Simple-Response': { outcome: 'ok 0101 done' } }],
    ['a short outcome', { 'Simple-Response': { outcome: 'OK 01' } }],
    ['an envelope that is not an object', { 'Simple-Response': 'OK 0101' }],
    ['an envelope that is a list', { 'Simple-Response': [{ outcome: 'OK 0101 a' }] }],
    ['a list', [{ 'Simple-Response': { outcome: 'OK 0101 a' } }]],
  ])('refuses an answer with %s as invalid-response', (_what, body) => {
    expect(thrown(IdentityPlusError, () => parseOutcomeAnswer(json(body))).kind).toBe('invalid-response');
  });

  it('refuses a body that is not JSON, and calls an unexpected envelope unknown-envelope', () => {
    expect(thrown(IdentityPlusError, () => parseOutcomeAnswer('<html>')).kind).toBe('invalid-response');
    expect(thrown(IdentityPlusError, () => parseOutcomeAnswer('')).kind).toBe('invalid-response');
    const err = thrown(IdentityPlusError, () =>
      parseOutcomeAnswer(json({ 'Reference-Number': { outcome: 'OK 0000 x', value: 'r' } })),
    );
    expect(err.kind).toBe('unknown-envelope');
    expect(err.message).toContain('expected one of Simple-Response, Identity-Profile');
  });
});

describe('parseIntrusionAnswer', () => {
  const reference = (value: unknown, outcome: unknown = 'OK 0000 Acknowledged') =>
    json({ 'Reference-Number': { value, outcome } });

  it('reads a Reference-Number', () => {
    expect(parseIntrusionAnswer(reference('R-17'))).toStrictEqual({
      kind: 'reference',
      reference: 'R-17',
      outcome: 'OK 0000 Acknowledged',
    });
  });

  it('keeps a problem outcome that came in a Reference-Number (the caller decides by the code)', () => {
    expect(parseIntrusionAnswer(reference('R-17', 'ER 0007 Already reported'))).toMatchObject({
      kind: 'reference',
      outcome: 'ER 0007 Already reported',
    });
  });

  it('reads a problem from a Simple-Response or an Identity-Profile', () => {
    expect(
      parseIntrusionAnswer(json({ 'Simple-Response': { outcome: 'ER 0007 Already reported', message: 'once' } })),
    ).toStrictEqual({ kind: 'problem', outcome: 'ER 0007 Already reported', message: 'once' });
    expect(parseIntrusionAnswer(json({ 'Identity-Profile': { outcome: 'PB 0006 Unknown' } }))).toStrictEqual({
      kind: 'problem',
      outcome: 'PB 0006 Unknown',
    });
  });

  it('refuses an OK outcome without a reference (in a Simple-Response or an Identity-Profile) as invalid-response', () => {
    for (const envelope of ['Simple-Response', 'Identity-Profile']) {
      const err = thrown(IdentityPlusError, () =>
        parseIntrusionAnswer(json({ [envelope]: { outcome: 'OK 0000 Acknowledged' } })),
      );
      expect(err.kind).toBe('invalid-response');
      expect(err.message).toBe(
        'Identity Plus answered an intrusion report with OK 0000 Acknowledged but no reference.',
      );
    }
  });

  it.each([
    ['no value', undefined],
    ['an empty value', ''],
    ['a blank value', '   '],
    ['a numeric value', 17],
    ['a list value', ['R-17']],
    ['a value of 257 characters', 'x'.repeat(257)],
  ])('refuses a Reference-Number with %s as invalid-response', (_what, value) => {
    expect(thrown(IdentityPlusError, () => parseIntrusionAnswer(reference(value))).kind).toBe('invalid-response');
  });

  it.each([
    ['a slash', 'R/17'],
    ['a line break', 'R-17\r\nSet-Cookie: x=1'],
    ['a lone surrogate', 'R-\ud800'],
    ['a space', 'R 17'],
    ['a control character', 'R-\u0000'],
  ])('refuses a Reference-Number value with %s: it could not be withdrawn through /intrusions/{reference}', (_w, v) => {
    expect(thrown(IdentityPlusError, () => parseIntrusionAnswer(reference(v))).kind).toBe('invalid-response');
  });

  it('accepts a reference of 256 visible characters, what the withdrawal route accepts', () => {
    const longest = 'x'.repeat(MAX_REFERENCE);
    expect(parseIntrusionAnswer(reference(longest))).toMatchObject({ reference: longest });
    expect(checkReference(longest)).toBe(longest);
  });

  it.each([
    ['no outcome', json({ 'Reference-Number': { value: 'R-17' } })],
    ['a bad outcome', reference('R-17', 'fine')],
    ['a numeric outcome', reference('R-17', 1)],
    ['two envelopes', json({ 'Reference-Number': { value: 'R', outcome: 'OK 0000 a' }, 'Simple-Response': {} })],
    ['a Simple-Response without outcome', json({ 'Simple-Response': { message: 'x' } })],
    ['a body that is not JSON', 'Reference-Number: R-17'],
    ['JSON null', 'null'],
  ])('refuses %s as invalid-response', (_what, body) => {
    expect(thrown(IdentityPlusError, () => parseIntrusionAnswer(body)).kind).toBe('invalid-response');
  });

  it('calls an Intent-Reference an unknown envelope', () => {
    expect(
      thrown(IdentityPlusError, () =>
        parseIntrusionAnswer(json({ 'Intent-Reference': { value: 'R', outcome: 'OK 0000 a' } })),
      ).kind,
    ).toBe('unknown-envelope');
  });
});
