import { ConfigurationError } from '../../../functions/domain/errors';
import { apiCredentialsFromSecret, secretFingerprint, stateKeyFromSecret } from '../../../functions/adapters/secrets';

const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n';

describe('API certificate secret', () => {
  it('reads the PEM form', () => {
    expect(apiCredentialsFromSecret({ certificate: PEM_CERT, privateKey: PEM_KEY })).toEqual({
      certificate: PEM_CERT,
      privateKey: PEM_KEY,
    });
  });

  it('reads the PKCS#12 form (base64 + password)', () => {
    const creds = apiCredentialsFromSecret({ p12: Buffer.from('p12 bytes').toString('base64'), password: 'pw' });
    expect(creds).toEqual({ p12: Buffer.from('p12 bytes'), password: 'pw' });
  });

  it.each([
    ['a plain string', 'not json'],
    ['an empty object', {}],
    ['PEM fields that are not PEM', { certificate: 'abc', privateKey: 'def' }],
    ['p12 that is not base64', { p12: 'not base64!', password: 'pw' }],
  ])('refuses %s with a message about the shape, never the content', (_c, value) => {
    try {
      apiCredentialsFromSecret(value);
      throw new Error('expected a ConfigurationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigurationError);
      expect((err as Error).message).not.toContain('SECRETKEYMATERIAL');
      expect((err as Error).message).not.toContain('pw');
    }
  });
});

describe('state key secret', () => {
  it('takes a generated string of at least 32 characters as key bytes', () => {
    expect(stateKeyFromSecret('k'.repeat(64))).toEqual(Buffer.from('k'.repeat(64)));
  });
  it('refuses a short key', () => {
    expect(() => stateKeyFromSecret('short')).toThrow(/at least 32 characters/);
  });
});

it('fingerprints secret values to notice rotation', () => {
  expect(secretFingerprint({ a: 1 })).toBe(secretFingerprint({ a: 1 }));
  expect(secretFingerprint({ a: 1 })).not.toBe(secretFingerprint({ a: 2 }));
  expect(secretFingerprint('x')).toMatch(/^[0-9a-f]{64}$/);
});
