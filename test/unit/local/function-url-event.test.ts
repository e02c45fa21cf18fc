import { createHash, X509Certificate } from 'node:crypto';
import { rfc2253 } from '../../../functions/domain/certificate';
import {
  encodePemHeader,
  isCloudFrontViewerHeader,
  originRequestHeaders,
  validateFunctionUrlResult,
  viewerCertificateHeaders,
} from '../../../local/cloudfront-viewer';
import { issueCertificate } from '../../../local/dev-pki';
import {
  buildFunctionUrlEvent,
  type FunctionUrlEventInput,
  functionUrlDomain,
  functionUrlQueryPairs,
  LOCAL_FUNCTION_URL_ID,
} from '../../../local/function-url-event';
import { testPki } from '../../support/test-pki';

const NOW = new Date('2026-11-26T17:00:00.123Z');

function input(overrides: Partial<FunctionUrlEventInput> = {}): FunctionUrlEventInput {
  return {
    method: 'GET',
    rawPath: '/signin',
    rawQuery: '',
    headers: ['Host', 'abc.lambda-url.us-east-1.on.aws', 'User-Agent', 'curl/8.5.0', 'Accept', '*/*'],
    body: Buffer.alloc(0),
    sourceIp: '203.0.113.7',
    now: NOW,
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    ...overrides,
  };
}

describe('buildFunctionUrlEvent', () => {
  it('fills a payload 2.0 event as a function URL does', () => {
    const event = buildFunctionUrlEvent(input({ rawQuery: 'return=%2Fwhoami' }));
    expect(event).toEqual({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/signin',
      rawQueryString: 'return=%2Fwhoami',
      headers: { host: 'abc.lambda-url.us-east-1.on.aws', 'user-agent': 'curl/8.5.0', accept: '*/*' },
      queryStringParameters: { return: '/whoami' },
      requestContext: {
        accountId: 'anonymous',
        apiId: LOCAL_FUNCTION_URL_ID,
        domainName: `${LOCAL_FUNCTION_URL_ID}.lambda-url.us-east-1.on.aws`,
        domainPrefix: LOCAL_FUNCTION_URL_ID,
        http: {
          method: 'GET',
          path: '/signin',
          protocol: 'HTTP/1.1',
          sourceIp: '203.0.113.7',
          userAgent: 'curl/8.5.0',
        },
        requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
        routeKey: '$default',
        stage: '$default',
        time: '26/Nov/2026:17:00:00 +0000',
        timeEpoch: NOW.getTime(),
      },
      isBase64Encoded: false,
    });
  });

  it('has no body, cookies or queryStringParameters when the request has none', () => {
    const event = buildFunctionUrlEvent(input());
    expect(event).not.toHaveProperty('body');
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event.rawQueryString).toBe('');
  });

  it('looks like a real function URL id and domain', () => {
    expect(LOCAL_FUNCTION_URL_ID).toMatch(/^[a-z0-9]{32}$/);
    expect(functionUrlDomain('abc', 'eu-west-1')).toBe('abc.lambda-url.eu-west-1.on.aws');
    const event = buildFunctionUrlEvent(input({ urlId: 'x'.repeat(32), region: 'eu-west-1' }));
    expect(event.requestContext.domainName).toBe(`${'x'.repeat(32)}.lambda-url.eu-west-1.on.aws`);
  });

  it('lower-cases header names and joins a repeated header with commas, in order', () => {
    const event = buildFunctionUrlEvent(
      input({
        headers: ['X-Thing', 'a', 'x-thing', 'b', 'Accept', 'text/html', 'X-THING', 'c'],
      }),
    );
    expect(event.headers).toEqual({ 'x-thing': 'a,b,c', accept: 'text/html' });
  });

  it('shows a forged second certificate header as the comma-joined value it is', () => {
    const event = buildFunctionUrlEvent(
      input({ headers: ['CloudFront-Viewer-Cert-Present', '0', 'cloudfront-viewer-cert-present', '1'] }),
    );
    expect(event.headers['cloudfront-viewer-cert-present']).toBe('0,1');
  });

  it('accepts a header record whose values may be lists', () => {
    const event = buildFunctionUrlEvent(input({ headers: { Accept: ['a', 'b'], 'X-One': '1', 'X-None': undefined } }));
    expect(event.headers).toEqual({ accept: 'a,b', 'x-one': '1' });
  });

  it('moves every Cookie header into cookies, one entry per cookie, and out of headers', () => {
    const event = buildFunctionUrlEvent(
      input({ headers: ['Cookie', 'a=1; b=2', 'Accept', '*/*', 'cookie', ' c=3 ;;', 'COOKIE', ''] }),
    );
    expect(event.cookies).toEqual(['a=1', 'b=2', 'c=3']);
    expect(event.headers).toEqual({ accept: '*/*' });
  });

  it('keeps rawPath and rawQueryString as sent, and takes userAgent from its header (empty without one)', () => {
    const event = buildFunctionUrlEvent(
      input({ rawPath: '/caf%C3%A9/a%2Fb', rawQuery: 'q=a+b&x=%2B', headers: ['Accept', '*/*'] }),
    );
    expect(event.rawPath).toBe('/caf%C3%A9/a%2Fb');
    expect(event.requestContext.http.path).toBe('/caf%C3%A9/a%2Fb');
    expect(event.rawQueryString).toBe('q=a+b&x=%2B');
    expect(event.requestContext.http.userAgent).toBe('');
  });

  it('percent-decodes queryStringParameters, keeps +, joins repeats with commas', () => {
    const event = buildFunctionUrlEvent(input({ rawQuery: 'a=1&a=2&&b=x+y%20z&c&d=%E0%A4&e=%F0%9F%94%91' }));
    expect(event.queryStringParameters).toEqual({ a: '1,2', b: 'x+y z', c: '', d: '%E0%A4', e: '🔑' });
    expect(functionUrlQueryPairs('k%3D=v%3D')).toEqual([['k=', 'v=']]);
  });

  it('passes a textual UTF-8 body as text', () => {
    const body = Buffer.from('{"name":"Zoë"}');
    const event = buildFunctionUrlEvent(input({ method: 'POST', body, headers: ['Content-Type', 'application/json'] }));
    expect(event).toMatchObject({ body: '{"name":"Zoë"}', isBase64Encoded: false });
    const form = buildFunctionUrlEvent(
      input({ body, headers: ['Content-Type', 'application/ld+json; charset=utf-8'] }),
    );
    expect(form.isBase64Encoded).toBe(false);
  });

  it.each([
    ['a binary content type', 'application/octet-stream', Buffer.from('plain')],
    ['no content type', undefined, Buffer.from('plain')],
    ['a text type whose bytes are not UTF-8', 'text/plain', Buffer.from([0xff, 0xfe, 0x00])],
  ])('base64-encodes the body for %s', (_case, type, body) => {
    const event = buildFunctionUrlEvent(input({ body, headers: type ? ['Content-Type', type] : [] }));
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64')).toEqual(body);
  });
});

describe('the origin request CloudFront sends the function URL', () => {
  const viewer = (rawHeaders: string[], certificate?: X509Certificate) =>
    originRequestHeaders({
      rawHeaders,
      ...(certificate ? { certificate } : {}),
      viewerIp: '198.51.100.10',
      viewerPort: 46532,
      originHost: functionUrlDomain(),
      cfId: 'cf-id-1',
    });
  const eventOf = (pairs: Array<[string, string]>) => buildFunctionUrlEvent(input({ headers: pairs.flat() })).headers;

  it('drops every client-sent CloudFront-Viewer-Cert-* and CloudFront-Viewer-Address, whatever the case', async () => {
    const alice = new X509Certificate((await testPki()).devices.alice.cert);
    const forged = [
      'CloudFront-Viewer-Cert-Present',
      '1',
      'cloudfront-viewer-cert-pem',
      encodePemHeader(alice.toString()),
      'CLOUDFRONT-VIEWER-CERT-SERIAL-NUMBER',
      '01',
      'CloudFront-Viewer-Cert-Made-Up',
      'x',
      'CloudFront-Viewer-Address',
      '10.0.0.1:1',
      'Accept',
      'application/json',
    ];
    const headers = eventOf(viewer(forged));
    expect(headers['cloudfront-viewer-cert-present']).toBe('0');
    expect(Object.keys(headers).filter((name) => name.startsWith('cloudfront-viewer-cert-'))).toEqual([
      'cloudfront-viewer-cert-present',
    ]);
    expect(headers['cloudfront-viewer-address']).toBe('198.51.100.10:46532');
    expect(headers.accept).toBe('application/json');
  });

  it("replaces forged headers with the verified certificate's own", async () => {
    const pki = await testPki();
    const bob = new X509Certificate(pki.devices.bob.cert);
    const alicePem = encodePemHeader(new X509Certificate(pki.devices.alice.cert).toString());
    const headers = eventOf(
      viewer(['CloudFront-Viewer-Cert-Pem', alicePem, 'cloudfront-viewer-cert-present', '1'], bob),
    );
    expect(headers['cloudfront-viewer-cert-present']).toBe('1');
    expect(decodeURIComponent(headers['cloudfront-viewer-cert-pem'] ?? '')).toBe(bob.toString());
  });

  it('sets Host to the function URL, appends the viewer to X-Forwarded-For, adds Via and X-Amz-Cf-Id, drops hop-by-hop headers', () => {
    const headers = eventOf(
      viewer([
        'Host',
        'localhost:8443',
        'X-Forwarded-For',
        '203.0.113.9',
        'Connection',
        'keep-alive',
        'Via',
        'forged',
        'X-Amz-Cf-Id',
        'forged',
      ]),
    );
    expect(headers).toMatchObject({
      host: functionUrlDomain(),
      'x-forwarded-for': '203.0.113.9, 198.51.100.10',
      via: expect.stringMatching(/^2\.0 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$/),
      'x-amz-cf-id': 'cf-id-1',
    });
    expect(headers).not.toHaveProperty('connection');
  });

  it('names only the certificate and address headers as CloudFront-set', () => {
    expect(isCloudFrontViewerHeader('CloudFront-Viewer-Cert-Pem')).toBe(true);
    expect(isCloudFrontViewerHeader('cloudfront-viewer-address')).toBe(true);
    expect(isCloudFrontViewerHeader('CloudFront-Viewer-Country')).toBe(false);
    expect(isCloudFrontViewerHeader('x-cloudfront-viewer-cert-pem')).toBe(false);
  });
});

describe('the CloudFront-Viewer-Cert-* values', () => {
  it('says Present 0 and nothing else without a certificate', () => {
    expect(viewerCertificateHeaders(undefined)).toEqual([['CloudFront-Viewer-Cert-Present', '0']]);
  });

  it("describes a certificate in CloudFront's formats", async () => {
    const pki = await testPki();
    const cert = new X509Certificate(pki.devices.alice.cert);
    const headers = Object.fromEntries(viewerCertificateHeaders(cert));
    expect(headers['CloudFront-Viewer-Cert-Present']).toBe('1');
    expect(headers['CloudFront-Viewer-Cert-Serial-Number']).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
    expect(BigInt(`0x${headers['CloudFront-Viewer-Cert-Serial-Number']?.replace(/:/g, '')}`)).toBe(
      BigInt(`0x${cert.serialNumber}`),
    );
    expect(headers['CloudFront-Viewer-Cert-Issuer']).toBe(rfc2253(cert.issuer));
    expect(headers['CloudFront-Viewer-Cert-Subject']).toBe(rfc2253(cert.subject));
    expect(headers['CloudFront-Viewer-Cert-Subject']).toMatch(/^CN=Alice's Laptop,/);
    expect(headers['CloudFront-Viewer-Cert-Sha256']).toBe(createHash('sha256').update(cert.raw).digest('hex'));
    expect(headers['CloudFront-Viewer-Cert-Validity']).toBe(
      `NotBefore=${new Date(cert.validFrom).toISOString().slice(0, 19)}Z;NotAfter=${new Date(cert.validTo).toISOString().slice(0, 19)}Z`,
    );
    expect(decodeURIComponent(headers['CloudFront-Viewer-Cert-Pem'] ?? '')).toBe(cert.toString());
  });

  it('URL-encodes the PEM as CloudFront shows it (%20, %0A) and leaves base64 + / = alone', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMII+a/b==\n-----END CERTIFICATE-----\n';
    expect(encodePemHeader(pem)).toBe('-----BEGIN%20CERTIFICATE-----%0AMII+a/b==%0A-----END%20CERTIFICATE-----%0A');
    expect(decodeURIComponent(encodePemHeader(pem))).toBe(pem);
  });

  it.each([
    ['7f', '7f'],
    ['80', '00:80'],
    ['0A1B', '0a:1b'],
    ['ABC', '0a:bc'],
  ])('writes serial %s as the DER bytes %s', async (serialHex, expected) => {
    const pki = await testPki();
    const issued = await issueCertificate(pki.intermediate, {
      subject: 'CN=serial test',
      usage: 'client',
      serial: BigInt(`0x${serialHex}`).toString(10),
    });
    const headers = Object.fromEntries(viewerCertificateHeaders(new X509Certificate(issued.cert)));
    expect(headers['CloudFront-Viewer-Cert-Serial-Number']).toBe(expected);
  });
});

describe('validateFunctionUrlResult', () => {
  it('takes status, headers, cookies and a base64 body', () => {
    const checked = validateFunctionUrlResult({
      statusCode: 302,
      headers: { Location: '/x', 'X-Count': 2, 'Transfer-Encoding': 'chunked' },
      cookies: ['a=1; Secure', 'b=2'],
      body: Buffer.from('hi').toString('base64'),
      isBase64Encoded: true,
    });
    expect(checked.status).toBe(302);
    expect([...checked.headers]).toEqual([
      ['Location', '/x'],
      ['X-Count', '2'],
    ]);
    expect(checked.cookies).toEqual(['a=1; Secure', 'b=2']);
    expect(checked.body.toString()).toBe('hi');
  });

  it.each([
    ['an object without statusCode', { hello: 'world' }, '{"hello":"world"}'],
    ['a string', 'hello', 'hello'],
    ['an array', [1, 2], '[1,2]'],
    ['null', null, 'null'],
  ])('infers 200 JSON for %s, as Lambda does', (_case, result, body) => {
    const checked = validateFunctionUrlResult(result);
    expect(checked).toMatchObject({ status: 200, cookies: [] });
    expect(checked.headers.get('content-type')).toBe('application/json');
    expect(checked.body.toString()).toBe(body);
  });

  it.each([
    ['nothing', undefined, /nothing/],
    ['a status out of range', { statusCode: 600 }, /statusCode/],
    ['a multiValueHeaders key (payload 1.0)', { statusCode: 200, multiValueHeaders: {} }, /unexpected keys/],
    ['a header with CR LF', { statusCode: 200, headers: { 'X-A': 'a\r\nSet-Cookie: x=1' } }, /control character/],
    ['a header name with a space', { statusCode: 200, headers: { 'Bad Name': 'x' } }, /token/],
    ['a cookie with a newline', { statusCode: 200, cookies: ['a=1\nb'] }, /cookies/],
    ['cookies that are not a list', { statusCode: 200, cookies: 'a=1' }, /cookies/],
    ['a body that is not a string', { statusCode: 200, body: {} }, /body/],
    ['bad base64', { statusCode: 200, body: '***', isBase64Encoded: true }, /base64/],
  ])('refuses %s (the function URL answers 502)', (_case, result, message) => {
    expect(() => validateFunctionUrlResult(result)).toThrow(message);
  });
});
