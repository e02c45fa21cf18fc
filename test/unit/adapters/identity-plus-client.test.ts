/** The client's option checks, which fail in the constructor before any connection is made. */
import { IdentityPlusClient } from '../../../functions/adapters/identity-plus-client';
import { ConfigurationError } from '../../../functions/domain/errors';

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
