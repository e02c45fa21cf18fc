/**
 * Our API certificate turned into a TLS secure context: PEM pair and PKCS#12 (Buffer or base64) load the
 * certificate, and every bad input is a ConfigurationError that never shows the key, the PKCS#12 or
 * its password. No connection is made.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { inspect } from 'node:util';
import { type ApiCredentials, buildSecureContext } from '../../../functions/adapters/identity-plus-credentials';
import { ConfigurationError } from '../../../functions/domain/errors';
import type { DevPki } from '../../../local/dev-pki';
import { testPki } from '../../support/test-pki';

let pki: DevPki;

beforeAll(async () => {
  pki = await testPki();
});

/** The DER of the certificate a secure context presents. */
function presented(context: tls.SecureContext): Buffer {
  return (context.context as { getCertificate(): Buffer | null }).getCertificate() ?? Buffer.alloc(0);
}

const apiDer = (): Buffer => new X509Certificate(pki.api.cert).raw;

/** The ConfigurationError building throws (fails the test when it throws nothing or something else). */
function refusal(credentials: unknown, extraCa?: string): ConfigurationError {
  try {
    buildSecureContext(credentials as ApiCredentials, extraCa);
  } catch (err) {
    if (err instanceof ConfigurationError) return err;
    throw err;
  }
  throw new Error('expected a ConfigurationError');
}

/** Fails when any view of the error shows one of the secrets or a line of a private key. */
function expectNoSecrets(err: Error, secrets: readonly string[]): void {
  const keyLines = [pki.api.key, pki.devices.alice.key].flatMap((key) =>
    key.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----')),
  );
  const views = [String(err), String(err.stack), inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err)];
  for (const view of views) {
    expect(view).not.toContain('PRIVATE KEY');
    for (const secret of secrets) expect(view).not.toContain(secret);
    for (const line of keyLines) expect(view).not.toContain(line);
  }
}

describe('loading our API certificate', () => {
  it('loads a PEM certificate and key, at TLS 1.2 or newer', () => {
    const context = buildSecureContext({ certificate: pki.api.cert, privateKey: pki.api.key }, undefined);
    expect(presented(context).equals(apiDer())).toBe(true);
    expect((context.context as { getMinProto(): number }).getMinProto()).toBe(0x0303);
  });

  it('loads a PKCS#12 given as a Buffer and as base64 text', () => {
    for (const p12 of [pki.api.p12, pki.api.p12.toString('base64')]) {
      const context = buildSecureContext({ p12, password: pki.api.p12Password }, undefined);
      expect(presented(context).equals(apiDer())).toBe(true);
    }
  });

  it('accepts an extra CA next to the system roots', () => {
    const context = buildSecureContext({ certificate: pki.api.cert, privateKey: pki.api.key }, pki.caChain);
    expect(presented(context).equals(apiDer())).toBe(true);
  });

  // Which CAs the server is checked against; that an untrusted server is refused either way is proven over
  // real TLS in test/integration/identity-plus-client.test.ts ("the server certificate").
  it('leaves Node its default roots without an extra CA, and adds the extra CA to all of them', () => {
    const created = jest.spyOn(tls, 'createSecureContext');
    try {
      buildSecureContext({ certificate: pki.api.cert, privateKey: pki.api.key }, undefined);
      buildSecureContext({ p12: pki.api.p12, password: pki.api.p12Password }, undefined);
      buildSecureContext({ certificate: pki.api.cert, privateKey: pki.api.key }, pki.caChain);
      const options = created.mock.calls.map(([opts]) => opts ?? {});
      expect(options.map((opts) => 'ca' in opts)).toEqual([false, false, true]);
      expect(options[2]?.ca).toEqual([...tls.rootCertificates, pki.caChain]);
    } finally {
      created.mockRestore();
    }
  });
});

describe('refusing bad credentials', () => {
  it.each([
    ['null', null],
    ['a string', 'certificate'],
    ['an array', ['-----BEGIN CERTIFICATE-----']],
    ['an object of neither form', { cert: 'x', key: 'y' }],
    ['a certificate without a key', { certificate: '-----BEGIN CERTIFICATE-----' }],
  ])('refuses %s, naming both accepted forms', (_name, credentials) => {
    expect(refusal(credentials).message).toBe(
      'credentials must be {certificate, privateKey} (PEM) or {p12, password}.',
    );
  });

  it('refuses a certificate or key that is not PEM, without echoing it', () => {
    const secret = 'not-a-key-but-secret-text';
    const notPemKey = refusal({ certificate: pki.api.cert, privateKey: secret });
    expect(notPemKey.message).toBe('credentials.privateKey must be PEM text.');
    expectNoSecrets(notPemKey, [secret]);
    const notPemCert = refusal({ certificate: 'MIIB-base64-only', privateKey: pki.api.key });
    expect(notPemCert.message).toBe('credentials.certificate must be PEM text.');
    expectNoSecrets(notPemCert, ['MIIB-base64-only']);
    expect(refusal({ certificate: 42, privateKey: pki.api.key }).message).toBe(
      'credentials.certificate must be PEM text.',
    );
  });

  it('refuses a key that does not match the certificate, without showing either key', () => {
    const err = refusal({ certificate: pki.api.cert, privateKey: pki.devices.alice.key });
    expect(err.message).toMatch(/^The Identity Plus API certificate \(PEM\) could not be loaded: .+\. /);
    expect(err.message).toContain('Check that the key matches the certificate.');
    expectNoSecrets(err, []);
  });

  it('refuses a PKCS#12 with the wrong password, without showing either password or the file', () => {
    const wrong = `${pki.api.p12Password}-but-wrong-7f3a`;
    const err = refusal({ p12: pki.api.p12, password: wrong });
    expect(err.message).toMatch(/^The Identity Plus API certificate \(PKCS#12\) could not be loaded: .+\. /);
    expect(err.message).toContain('Check the file and its password.');
    expectNoSecrets(err, [wrong, pki.api.p12.toString('base64').slice(100, 160)]);
  });

  it('keeps only name, code and message of the OpenSSL error as the cause', () => {
    const err = refusal({ p12: pki.api.p12, password: 'wrong' });
    expect(err.cause).not.toBeInstanceOf(Error);
    expect(Object.getPrototypeOf(err.cause)).toBe(Object.prototype);
    expect(['name', 'code', 'message']).toEqual(expect.arrayContaining(Object.keys(err.cause as object)));
    expect(err.cause).toMatchObject({ name: 'Error', message: expect.any(String) });
  });

  it('refuses a PKCS#12 that is not one', () => {
    const err = refusal({ p12: Buffer.from('definitely not DER'), password: 'pw-secret-1' });
    expect(err.message).toContain('(PKCS#12) could not be loaded');
    expectNoSecrets(err, ['pw-secret-1']);
  });

  it('refuses an empty PKCS#12, one that is neither Buffer nor text, and a password that is not text', () => {
    expect(refusal({ p12: Buffer.alloc(0), password: 'x' }).message).toBe('credentials.p12 is empty.');
    expect(refusal({ p12: '', password: 'x' }).message).toBe('credentials.p12 is empty.');
    expect(refusal({ p12: 12345, password: 'x' }).message).toBe('credentials.p12 must be a Buffer or base64 text.');
    expect(refusal({ p12: pki.api.p12, password: 1234 }).message).toBe('credentials.password must be a string.');
    expect(refusal({ p12: pki.api.p12 }).message).toBe('credentials.password must be a string.');
  });
});
