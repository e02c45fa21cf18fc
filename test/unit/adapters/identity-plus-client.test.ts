/**
 * The client's option checks, which fail in the constructor before any connection is made. What it sends and
 * reads (inquiries, intents and their type fallback, the identity operations) is tested over real mutual TLS
 * in test/integration/identity-plus-client.test.ts and test/integration/identity-plus-client-operations.test.ts.
 */
import { IdentityPlusClient } from '../../../functions/adapters/identity-plus-client';
import { ConfigurationError } from '../../../functions/domain/errors';
import { INTENT_TYPES } from '../../../functions/domain/identity-plus';
import { testPki } from '../../support/test-pki';

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

  it('takes every intent type Identity Plus documents, and none other', async () => {
    const pki = await testPki();
    const credentials = { certificate: pki.api.cert, privateKey: pki.api.key };
    for (const intentType of [undefined, ...INTENT_TYPES]) {
      const client = new IdentityPlusClient({ credentials, ...(intentType ? { intentType } : {}) });
      await client.close();
    }
    for (const intentType of ['login', 'Discover', '', 'assume ownership']) {
      expect(() => new IdentityPlusClient({ credentials, intentType: intentType as never })).toThrow(
        `intentType must be one of discover, validate, request, bind, assume-ownership, befriend, got ${JSON.stringify(intentType)}.`,
      );
    }
  });
});
