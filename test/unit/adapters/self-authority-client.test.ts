import { inspect } from 'node:util';
import { RenewalError } from '../../../functions/domain/errors';
import {
  SelfAuthorityClient,
  parseRenewalAnswer,
  renewRequestBody,
} from '../../../functions/adapters/self-authority-client';
import { testPki } from '../../support/test-pki';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n';

function failure(status: number, body: unknown): RenewalError {
  try {
    parseRenewalAnswer(status, typeof body === 'string' ? body : JSON.stringify(body));
  } catch (err) {
    if (err instanceof RenewalError) return err;
    throw err;
  }
  throw new Error('expected a RenewalError');
}

describe('the renewal request', () => {
  it('is the envelope the Identity Plus tools send', () => {
    expect(JSON.parse(renewRequestBody('plusgate agent', false))).toEqual({
      operation: 'renew_certificate',
      args: { device: 'plusgate agent', protect: true, tentative: false },
    });
  });

  it('escapes the device name as JSON (the tools concatenate strings; we do not)', () => {
    expect(JSON.parse(renewRequestBody('a"b\\c', true)).args.device).toBe('a"b\\c');
  });
});

describe('reading a renewal answer', () => {
  it('takes the PEM pair (base64 of PEM text) and keeps it as the secret', () => {
    const renewed = parseRenewalAnswer(
      200,
      JSON.stringify({
        error: '',
        result: { outcome: 'renewed', certificate: b64(CERT), 'private-key': b64(KEY), p12: 'AAAA', password: 'pw' },
      }),
    );
    expect(renewed.credentials).toEqual({ certificate: CERT, privateKey: KEY });
    expect(renewed.secret).toEqual({ certificate: CERT, privateKey: KEY });
  });

  it('keeps the PKCS#12 as the fallback form when the PEM pair came too', () => {
    const renewed = parseRenewalAnswer(
      200,
      JSON.stringify({
        result: { outcome: 'renewed', certificate: b64(CERT), 'private-key': b64(KEY), p12: 'MIIK', password: 'pw' },
      }),
    );
    expect(renewed.secret).toEqual({ certificate: CERT, privateKey: KEY });
    expect(renewed.fallback?.secret).toEqual({ p12: 'MIIK', password: 'pw' });
  });

  it('uses the PKCS#12 when the PEM pair is broken, and fails on a broken pair without one', () => {
    const broken = { outcome: 'renewed', certificate: b64('hello'), 'private-key': b64(KEY) };
    expect(
      parseRenewalAnswer(200, JSON.stringify({ result: { ...broken, p12: 'MIIK', password: 'pw' } })).secret,
    ).toEqual({ p12: 'MIIK', password: 'pw' });
    expect(failure(200, { result: broken }).message).toMatch(/"certificate" is not a PEM certificate/);
  });

  it('falls back to the PKCS#12 and its password', () => {
    const renewed = parseRenewalAnswer(
      200,
      JSON.stringify({ result: { outcome: 'renewed', p12: 'MIIK', password: 'pw' } }),
    );
    expect(renewed.secret).toEqual({ p12: 'MIIK', password: 'pw' });
    expect(renewed.credentials).toEqual({ p12: Buffer.from('MIIK', 'base64'), password: 'pw' });
  });

  it('tolerates other casings of the field names (Go decodes them case-insensitively)', () => {
    const renewed = parseRenewalAnswer(
      200,
      JSON.stringify({ Error: '', Result: { Outcome: 'renewed', Certificate: b64(CERT), 'Private-Key': b64(KEY) } }),
    );
    expect(renewed.credentials).toEqual({ certificate: CERT, privateKey: KEY });
  });

  it('is refused when Identity Plus says why, whatever the status', () => {
    for (const status of [200, 400, 403, 500]) {
      const err = failure(status, { error: 'agent is suspended', result: null });
      expect(err.kind).toBe('refused');
      expect(err.message).toBe('Identity Plus refused the renewal: agent is suspended');
    }
  });

  it('is refused on a non-2xx status without an error text', () => {
    expect(failure(502, { result: {} })).toMatchObject({
      kind: 'refused',
      message: 'the self-authority API answered HTTP 502',
    });
    expect(failure(503, '<html>busy</html>')).toMatchObject({ kind: 'refused' });
  });

  it('is not renewed on any other outcome', () => {
    const err = failure(200, { error: '', result: { outcome: 'not due yet' } });
    expect(err).toMatchObject({
      kind: 'not-renewed',
      message: 'Identity Plus did not renew the certificate (outcome "not due yet")',
    });
    expect(failure(200, { result: {} }).message).toMatch(/outcome missing/);
  });

  it.each([
    ['garbage', 'not json at all'],
    ['an array', '[1,2]'],
    ['no result', '{"error":""}'],
    ['no credentials', '{"result":{"outcome":"renewed"}}'],
    [
      'a certificate that is not PEM',
      JSON.stringify({ result: { outcome: 'renewed', certificate: b64('hello'), 'private-key': b64(KEY) } }),
    ],
    [
      'a key that is not PEM',
      JSON.stringify({ result: { outcome: 'renewed', certificate: b64(CERT), 'private-key': b64('nope') } }),
    ],
    [
      'a certificate that is not base64',
      JSON.stringify({ result: { outcome: 'renewed', certificate: '%%%', 'private-key': b64(KEY) } }),
    ],
    ['a p12 without password', JSON.stringify({ result: { outcome: 'renewed', p12: 'MIIK' } })],
  ])('calls %s unusable', (_what, body) => {
    expect(failure(200, body).kind).toBe('unusable');
  });

  it('never puts the key, the password or the PKCS#12 into an error', () => {
    const err = failure(200, {
      result: {
        outcome: 'renewed',
        certificate: b64('SECRETKEYMATERIAL'),
        'private-key': b64(KEY),
        password: 'hunter2',
      },
    });
    const shown = `${err.message} ${err.stack} ${inspect(err, { depth: 10 })} ${JSON.stringify(err)}`;
    expect(shown).not.toMatch(/SECRETKEYMATERIAL|hunter2|U0VDUkVU/);
  });

  it('keeps control characters from Identity Plus out of the message', () => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
    expect(failure(200, { error: 'bad\r\nInjected: line\u001b[31m' }).message).not.toMatch(/[\r\n\u001b]/);
  });
});

describe('the self-authority client', () => {
  it('refuses a base URL that is not https', async () => {
    const pki = await testPki();
    expect(
      () =>
        new SelfAuthorityClient({
          baseUrl: 'http://selfauthority.example',
          credentials: { certificate: pki.api.cert, privateKey: pki.api.key },
        }),
    ).toThrow(/must be https/);
  });

  it('reports an unreachable server as unreachable, naming the host', async () => {
    const pki = await testPki();
    const client = new SelfAuthorityClient({
      baseUrl: 'https://127.0.0.1:1',
      credentials: { certificate: pki.api.cert, privateKey: pki.api.key },
      connectTimeoutMs: 1000,
    });
    const err = await client.renewCertificate({ device: 'x', tentative: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: 'unreachable', message: expect.stringContaining('127.0.0.1:1') });
    // The vendor error is reduced to name, code and message: no connection options, so no key, in the cause.
    const shown = `${inspect(err, { depth: 10 })} ${JSON.stringify(err)}`;
    expect(shown).not.toContain('PRIVATE KEY');
    expect(shown).not.toContain(pki.api.key.split('\n')[1] ?? 'unreachable');
  });
});
