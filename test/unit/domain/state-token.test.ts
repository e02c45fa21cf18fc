import { createHmac } from 'node:crypto';
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
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
  });

  it('gives every token its own id (what makes it single-use)', () => {
    const ids = new Set(
      Array.from(
        { length: 50 },
        () => verifyState(signState({ serial, destination }, key, now), key, { serial, now }).id,
      ),
    );
    expect(ids.size).toBe(50);
  });

  it('accepts only the canonical spelling of the signature', () => {
    const token = signState({ serial, destination }, key, now);
    const [version, body, signature] = token.split('.') as [string, string, string];
    // 32 bytes are 43 base64url characters: the last one carries 2 unused bits, so 4 characters decode alike.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.slice(-1));
    const twins = [1, 2, 3].map((bits) => `${signature.slice(0, -1)}${alphabet[last ^ bits]}`);
    for (const twin of twins) {
      expect(Buffer.from(twin, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(true);
      expect(() => verifyState(`${version}.${body}.${twin}`, key, { serial, now })).toThrow(/signature does not match/);
    }
    expect(verifyState(token, key, { serial, now }).serial).toBe(serial);
  });

  it('refuses a correctly signed token without an id (as the previous version made them)', () => {
    const body = Buffer.from(JSON.stringify({ s: serial, d: destination, e: now + 1000 })).toString('base64url');
    const sig = createHmac('sha256', key).update(`v2.${body}`).digest('base64url');
    expect(() => verifyState(`v2.${body}.${sig}`, key, { serial, now })).toThrow(/malformed/);
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
    ['previous version', 'v1.abc.def', /malformed/],
    ['two parts', 'v2.abc', /malformed/],
    ['not base64url', 'v2.a b.c', /malformed/],
    ['CR/LF', 'v2.abc\r\n.def', /malformed/],
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
