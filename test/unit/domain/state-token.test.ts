import { MAX_STATE_TTL_MS, signState, verifyState } from '../../../functions/domain/state-token';
import { InvalidInputError } from '../../../functions/domain/errors';

const key = Buffer.alloc(32, 7);
const now = 1_800_000_000_000;
const serial = '476701752658536845';
const destination = 'https://app.example.com/home';

describe('state tokens', () => {
  it('round-trips serial and destination', () => {
    const token = signState({ serial, destination }, key, now);
    expect(verifyState(token, key, { serial, now: now + 1000 })).toEqual({
      serial,
      destination,
      expiresAt: now + MAX_STATE_TTL_MS,
    });
  });

  it('never lives longer than ten minutes', () => {
    const token = signState({ serial, destination }, key, now, 60 * 60 * 1000);
    expect(() => verifyState(token, key, { serial, now: now + MAX_STATE_TTL_MS })).toThrow(/expired/);
  });

  it('refuses an expired token', () => {
    const token = signState({ serial, destination }, key, now, 1000);
    expect(() => verifyState(token, key, { serial, now: now + 1000 })).toThrow(/expired/);
  });

  it('refuses a token made for another certificate', () => {
    const token = signState({ serial, destination }, key, now);
    expect(() => verifyState(token, key, { serial: '12345', now })).toThrow(/different certificate/);
  });

  it('refuses a token signed with another key', () => {
    const token = signState({ serial, destination }, Buffer.alloc(32, 8), now);
    expect(() => verifyState(token, key, { serial, now })).toThrow(/signature does not match/);
  });

  it('refuses a token whose payload was altered (destination swapped)', () => {
    const token = signState({ serial, destination }, key, now);
    const [v, , sig] = token.split('.');
    const evil = Buffer.from(JSON.stringify({ s: serial, d: 'https://evil.example/', e: now + 1000 })).toString(
      'base64url',
    );
    expect(() => verifyState(`${v}.${evil}.${sig}`, key, { serial, now })).toThrow(/signature does not match/);
  });

  it('refuses a token claiming a lifetime over ten minutes even when correctly signed', () => {
    const token = signState({ serial, destination }, key, now + 60 * 60 * 1000);
    expect(() => verifyState(token, key, { serial, now })).toThrow(/longer than allowed/);
  });

  it.each([
    ['missing', undefined, /missing/],
    ['empty', '', /missing/],
    ['overlong', `v1.${'a'.repeat(5000)}.b`, /longer than 4096/],
    ['wrong version', 'v2.abc.def', /malformed/],
    ['two parts', 'v1.abc', /malformed/],
    ['not base64url', 'v1.a b.c', /malformed/],
    ['CR/LF', 'v1.abc\r\n.def', /malformed/],
  ])('refuses a %s token as a 400', (_c, token, message) => {
    try {
      verifyState(token, key, { serial, now });
      throw new Error('expected rejection');
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).status).toBe(400);
      expect((err as Error).message).toMatch(message);
    }
  });
});
