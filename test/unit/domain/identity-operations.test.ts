/**
 * What Identity Plus's problem outcomes to the identity operations become (functions/domain/identity-operations.ts):
 * the status per operation and code, and a message that quotes the code and only clean, short words from
 * Identity Plus.
 */
import { IdentityPlusRefusalError } from '../../../functions/domain/errors';
import { type IdentityOperation, isOk, refusal } from '../../../functions/domain/identity-operations';

const OPERATIONS: readonly IdentityOperation[] = ['bind', 'unbind', 'report-intrusion', 'withdraw-intrusion'];

describe('refusal: the status of each outcome', () => {
  it.each<[IdentityOperation, string, number, string]>([
    [
      'bind',
      'ER 0003 Already bound',
      409,
      'this identity is already bound to a local user of this service; unbind it first',
    ],
    ['bind', 'ER 0004 Local user taken', 409, 'this local user id is already bound to a different identity'],
    ['unbind', 'ER 0005 Not bound', 404, 'this local user id is not bound to any identity'],
    ['report-intrusion', 'ER 0007 Already reported', 409, 'an intrusion was already reported on this certificate'],
    [
      'withdraw-intrusion',
      'ER 0010 No such report',
      404,
      'Identity Plus knows no intrusion report with this reference',
    ],
  ])('%s: %s → %i', (operation, outcome, status, words) => {
    const err = refusal(operation, outcome);
    expect(err).toBeInstanceOf(IdentityPlusRefusalError);
    expect(err.status).toBe(status);
    expect(err.message).toBe(`${words}: Identity Plus answered ${outcome.slice(0, 7)}`);
    expect(err.outcome).toBe(outcome);
  });

  it.each<[string, number]>([
    ['PB 0000 No certificate', 400],
    ['PB 0001 No client certificate presented', 400],
    ['PB 0002 Expired Identity Plus anonymous certificate', 409],
    ['PB 0003 Identity Plus anonymous certificate needs validation', 409],
    ['PB 0004 Revoked Identity Plus anonymous certificate', 409],
    ['PB 0005 Intruder Certificate', 409],
    ['PB 0006 Unknown Identity Plus anonymous certificate', 404],
    ['PB 0007 Cryptographic failure', 409],
    ['PB 0008 Authorization expired', 409],
    ['ER 0006 Field too long', 422],
    ['ER 0009 Denied', 403],
    ['ER 0001 Invalid request', 422],
    ['ER 0011 Invalid field', 422],
  ])('every operation: %s → %i', (outcome, status) => {
    for (const operation of OPERATIONS) {
      const err = refusal(operation, outcome);
      expect(err.status).toBe(status);
      expect(err.message).toMatch(new RegExp(`[: ]${outcome.slice(0, 7)}$`));
    }
  });

  it('names what each PB code means for the caller', () => {
    expect(refusal('bind', 'PB 0006 Unknown').message).toBe(
      'Identity Plus does not know this certificate: Identity Plus answered PB 0006',
    );
    expect(refusal('report-intrusion', 'PB 0004 Revoked').message).toBe(
      'the certificate is revoked: Identity Plus answered PB 0004',
    );
    expect(refusal('bind', 'PB 0003 x').message).toContain('needs validation at Identity Plus first');
  });

  it('says ER 0001/0011 are a request Identity Plus found invalid', () => {
    expect(refusal('unbind', 'ER 0011 Bad').message).toBe('Identity Plus found the request invalid: ER 0011');
  });

  it('keeps the operation-specific codes to their operation: elsewhere they are 503', () => {
    expect(refusal('unbind', 'ER 0003 x').status).toBe(503);
    expect(refusal('bind', 'ER 0005 x').status).toBe(503);
    expect(refusal('bind', 'ER 0007 x').status).toBe(503);
    expect(refusal('report-intrusion', 'ER 0010 x').status).toBe(503);
    expect(refusal('withdraw-intrusion', 'ER 0004 x').status).toBe(503);
  });

  it.each(['ER 1100', 'ER 1101', 'ER 1102', 'ER 1103', 'ER 1104', 'ER 1105', 'ER 1106'])(
    '%s (our API certificate) → 503 that says so and asks to try later',
    (code) => {
      for (const operation of OPERATIONS) {
        const err = refusal(operation, `${code} API certificate problem`);
        expect(err.status).toBe(503);
        expect(err.message).toContain(`${code} (a problem with plusgate\u2019s Identity Plus API certificate)`);
        expect(err.message).toMatch(/; try again later$/);
      }
    },
  );

  it.each([
    'ER 0000 Unknown',
    'ER 0002 No such operation',
    'ER 0008 Parse error',
    'ER 0012 Something',
    'ER 0013 Not documented',
    'PB 0009 Not documented',
    'OK 0000 in a problem envelope',
    'XX 0001 garbage',
    '',
  ])('any other outcome (%p) → 503 naming the operation', (outcome) => {
    const err = refusal('withdraw-intrusion', outcome);
    expect(err.status).toBe(503);
    expect(err.message).toBe(
      `Identity Plus would not withdraw the intrusion report: ${outcome.slice(0, 7)}; try again later`,
    );
  });

  it('names each operation in its 503', () => {
    expect(refusal('bind', 'ER 0002 x').message).toMatch(/^Identity Plus would not bind the local user: ER 0002/);
    expect(refusal('unbind', 'ER 0002 x').message).toMatch(/^Identity Plus would not unbind the local user: /);
    expect(refusal('report-intrusion', 'ER 0002 x').message).toMatch(
      /^Identity Plus would not take the intrusion report: /,
    );
  });
});

describe('refusal: Identity Plus words in the message', () => {
  it('quotes the code, not the words of the outcome', () => {
    const err = refusal('bind', 'ER 0003 <script>alert(1)</script>');
    expect(err.message).not.toContain('<script>');
    expect(err.outcome).toBe('ER 0003 <script>alert(1)</script>');
  });

  it('adds Identity Plus message in parentheses, trimmed', () => {
    expect(refusal('unbind', 'ER 0005 x', '  nobody by that name  ').message).toBe(
      'this local user id is not bound to any identity: Identity Plus answered ER 0005 (nobody by that name)',
    );
    expect(refusal('unbind', 'ER 0002 x', 'bad').message).toBe(
      'Identity Plus would not unbind the local user: ER 0002 (bad); try again later',
    );
  });

  it('removes control characters from the message', () => {
    const err = refusal('bind', 'PB 0006 x', 'line one\r\nline two\u0000\u001b[31m\u0085\u2028end');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for control characters is the point
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(err.message).toContain('line one');
    expect(err.message).toContain('end)');
  });

  it('clips the message at 200 characters with an ellipsis', () => {
    const err = refusal('report-intrusion', 'ER 0007 x', 'y'.repeat(500));
    const words = /\((y+\u2026)\)$/.exec(err.message)?.[1];
    expect(words).toHaveLength(200);
    expect(refusal('report-intrusion', 'ER 0007 x', 'y'.repeat(200)).message).toContain(`(${'y'.repeat(200)})`);
  });

  it('leaves the parentheses out for no message or an empty one', () => {
    expect(refusal('bind', 'ER 0004 x').message).not.toContain('(');
    expect(refusal('bind', 'ER 0004 x', '').message).not.toContain('(');
  });
});

describe('isOk', () => {
  it('is true for OK outcomes only', () => {
    expect(isOk('OK 0100 Local user bound')).toBe(true);
    expect(isOk('OK 0101')).toBe(true);
    expect(isOk('PB 0006 x')).toBe(false);
    expect(isOk('ER 0003 x')).toBe(false);
    expect(isOk('ok 0100')).toBe(false);
    expect(isOk('')).toBe(false);
  });
});
