import { clientCertificateOf, singleQueryParameter, sourceIpOf } from '../../../functions/adapters/api-gateway-request';
import {
  decodeViewerPem,
  functionUrlResultOf,
  isFunctionUrlEvent,
  proxyEventOfFunctionUrl,
  queryOf,
  viewerIpOf,
} from '../../../functions/adapters/function-url-request';
import { InvalidInputError } from '../../../functions/domain/errors';
import type { DevPki } from '../../../local/dev-pki';
import { buildProxyEvent } from '../../../local/api-gateway-event';
import { cloudFrontPem, functionUrlEvent, viewerCertHeaders } from '../../support/fuzz-function-url';
import { proxyEvent } from '../../support/handler-doubles';
import { testPki } from '../../support/test-pki';

let pki: DevPki;
beforeAll(async () => {
  pki = await testPki();
});

const alicePem = () => pki.devices.alice.cert;

describe('the certificate', () => {
  it('is the decoded CloudFront-Viewer-Cert-Pem when Present is 1, and parses to the same serial', () => {
    const event = proxyEventOfFunctionUrl(functionUrlEvent({ path: '/signin', clientCertPem: alicePem() }));
    expect(event.requestContext.identity.clientCert?.clientCertPem).toBe(alicePem());
    expect(clientCertificateOf(event)?.serial).toBe(pki.devices.alice.serial);
  });

  it('decodes with percent-decoding only: a "+" in the base64 stays a "+"', () => {
    const pem = alicePem();
    expect(pem).toMatch(/\+/); // the test is worth something only if the certificate has one
    expect(decodeViewerPem(cloudFrontPem(pem))).toBe(pem);
    // And when CloudFront percent-encodes + / = too, the same text comes out.
    expect(decodeViewerPem(encodeURIComponent(pem))).toBe(pem);
  });

  it.each([
    ['0', '0'],
    ['absent', undefined],
    ['0,1 (a viewer-sent copy joined before CloudFront’s)', '0,1'],
    ['1,0', '1,0'],
    ['1,1', '1,1'],
    ['" 1"', ' 1'],
    ['"1 "', '1 '],
    ['true', 'true'],
    ['01', '01'],
    ['empty', ''],
  ])('is none when Present is %s, whatever CloudFront-Viewer-Cert-Pem says', (_case, present) => {
    const headers: Record<string, string> = { ...viewerCertHeaders(alicePem()) };
    if (present === undefined) delete headers['cloudfront-viewer-cert-present'];
    else headers['cloudfront-viewer-cert-present'] = present;
    const fn = functionUrlEvent({ path: '/signin', headers });
    if (present === undefined) delete fn.headers['cloudfront-viewer-cert-present'];
    const event = proxyEventOfFunctionUrl(fn);
    expect(event.requestContext.identity.clientCert).toBeNull();
    expect(clientCertificateOf(event)).toBeUndefined();
  });

  it('is none when Present is 1 but no PEM came', () => {
    const event = proxyEventOfFunctionUrl(
      functionUrlEvent({ path: '/signin', headers: { 'cloudfront-viewer-cert-present': '1' } }),
    );
    expect(event.requestContext.identity.clientCert).toBeNull();
  });

  it('is read only from the lower-case header names a function URL gives: a mixed-case copy counts as none', () => {
    const event = proxyEventOfFunctionUrl(
      functionUrlEvent({
        path: '/signin',
        headers: { 'CloudFront-Viewer-Cert-Present': '1', 'CloudFront-Viewer-Cert-Pem': cloudFrontPem(alicePem()) },
      }),
    );
    expect(event.requestContext.identity.clientCert).toBeNull();
  });

  it('removes every cloudfront-viewer-cert-* header, in any spelling, from the headers the app sees', () => {
    const event = proxyEventOfFunctionUrl(
      functionUrlEvent({
        path: '/signin',
        clientCertPem: alicePem(),
        headers: { 'CloudFront-Viewer-Cert-Pem': 'x', 'cloudfront-viewer-cert-anything': 'y' },
      }),
    );
    const names = [...Object.keys(event.headers), ...Object.keys(event.multiValueHeaders)];
    expect(names.filter((n) => /^cloudfront-viewer-cert-/i.test(n))).toEqual([]);
    expect(event.headers['x-amz-cf-id']).toBe('cf-id-1');
    expect(event.multiValueHeaders['x-amz-cf-id']).toEqual(['cf-id-1']);
  });

  it.each([
    ['percent-garbage', '-----BEGIN%20CERTIFICATE-----%0A%ZZ%0A-----END%20CERTIFICATE-----'],
    ['a lone %', '%'],
    ['invalid UTF-8 escapes', '%C3%28%FF%FE'],
    [
      'a PEM that is not a certificate',
      cloudFrontPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
    ],
    ['text', 'hello'],
    ['huge', '%41'.repeat(200_000)],
    ['huge and undecodable', `${'A'.repeat(100_000)}%`],
    ['two certificates', 'TWO'],
  ])('that does not decode or parse (%s) is refused as a bad client certificate: a 400 naming it', (_c, value) => {
    const event = proxyEventOfFunctionUrl(
      functionUrlEvent({
        path: '/signin',
        headers: {
          ...viewerCertHeaders(alicePem()),
          'cloudfront-viewer-cert-pem': value === 'TWO' ? cloudFrontPem(`${alicePem()}${pki.devices.bob.cert}`) : value,
        },
      }),
    );
    let thrown: unknown;
    try {
      clientCertificateOf(event);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidInputError);
    expect((thrown as InvalidInputError).status).toBe(400);
    expect((thrown as InvalidInputError).message).toMatch(/^client certificate /);
    expect((thrown as InvalidInputError).message.length).toBeLessThan(300);
  });
});

describe('the source IP', () => {
  it.each([
    ['198.51.100.10:46532', '198.51.100.10'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['2001:db8::1:443', '2001:db8::1'],
    ['::1:8080', '::1'],
    ['[::ffff:192.0.2.1]:1', '::ffff:192.0.2.1'],
  ])('is read from CloudFront-Viewer-Address %s', (address, ip) => {
    expect(viewerIpOf(address)).toBe(ip);
    const event = proxyEventOfFunctionUrl(functionUrlEvent({ path: '/signin', viewerAddress: address }));
    expect(sourceIpOf(event)).toBe(ip);
  });

  it.each([
    ['no port', '198.51.100.10'],
    ['a name', 'example.com:443'],
    ['two joined', '198.51.100.10:1,203.0.113.5:2'],
    ['an empty port', '198.51.100.10:'],
    ['a long port', '198.51.100.10:443443'],
    ['brackets only on one side', '[2001:db8::1:443'],
    ['garbage', '<x-fuzz>:1'],
    ['empty', ''],
  ])('falls back to requestContext.http.sourceIp for %s', (_c, address) => {
    expect(viewerIpOf(address)).toBeUndefined();
    const event = proxyEventOfFunctionUrl(functionUrlEvent({ path: '/signin', viewerAddress: address }));
    expect(sourceIpOf(event)).toBe('64.252.0.1');
  });

  it('falls back when there is no CloudFront-Viewer-Address', () => {
    const event = proxyEventOfFunctionUrl(functionUrlEvent({ path: '/signin', viewerAddress: null }));
    expect(sourceIpOf(event)).toBe('64.252.0.1');
  });
});

describe('the rest of the event', () => {
  it('looks like the REST proxy event API Gateway builds for the same request', () => {
    const query = 'return=https%3A%2F%2Fapp.example.com%2Fa%2Bb+c&x=1';
    const fromUrl = proxyEventOfFunctionUrl(
      functionUrlEvent({ path: '/signin', query, clientCertPem: alicePem(), headers: { accept: 'text/html' } }),
    );
    const rest = buildProxyEvent({
      method: 'GET',
      path: '/signin',
      rawQuery: query,
      headers: { accept: 'text/html' },
      body: Buffer.alloc(0),
      resource: '/signin',
      stage: 'prod',
      domainName: 'auth.example.com',
      sourceIp: '198.51.100.10',
      clientCert: { pem: alicePem() },
      now: new Date(),
      requestId: 'r',
    });
    for (const key of [
      'resource',
      'path',
      'httpMethod',
      'queryStringParameters',
      'multiValueQueryStringParameters',
      'body',
    ] as const)
      expect(fromUrl[key]).toEqual(rest[key]);
    expect(fromUrl.requestContext.identity.sourceIp).toBe(rest.requestContext.identity.sourceIp);
    expect(fromUrl.requestContext.identity.clientCert?.clientCertPem).toBe(
      rest.requestContext.identity.clientCert?.clientCertPem,
    );
    expect(fromUrl.requestContext.resourcePath).toBe('/signin');
    expect(fromUrl.queryStringParameters).toEqual({ return: 'https://app.example.com/a+b c', x: '1' });
  });

  it('keeps every value of a repeated query parameter, so the app refuses the repeat', () => {
    const event = proxyEventOfFunctionUrl(functionUrlEvent({ path: '/signin', query: 'return=%2Fa&return=%2Fb&x' }));
    expect(event.multiValueQueryStringParameters).toEqual({ return: ['/a', '/b'], x: [''] });
    expect(event.queryStringParameters).toEqual({ return: '/b', x: '' });
    expect(() => singleQueryParameter(event, 'return')).toThrow(/return is given 2 times/);
  });

  it('keeps a malformed escape as sent and gives no query maps for an empty query', () => {
    expect(queryOf('a=%ZZ&&b=%E2%82%AC').single).toEqual({ a: '%ZZ', b: '€' });
    const event = proxyEventOfFunctionUrl(functionUrlEvent({ path: '/whoami', query: '' }));
    expect(event.queryStringParameters).toBeNull();
    expect(event.multiValueQueryStringParameters).toBeNull();
  });

  it('keeps __proto__ and constructor as ordinary names', () => {
    const q = queryOf('__proto__=1&__proto__=2&constructor=3');
    expect(Object.getPrototypeOf(q.multi)).toBe(Object.prototype);
    expect(Object.hasOwn(q.single, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(q.multi, '__proto__')?.value).toEqual(['1', '2']);
    const event = proxyEventOfFunctionUrl(
      functionUrlEvent({ path: '/x', headers: JSON.parse('{"__proto__":"h"}') as Record<string, string> }),
    );
    expect(Object.getPrototypeOf(event.headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(event.headers, '__proto__')?.value).toBe('h');
  });

  it.each([['/signin'], ['/whoami'], ['/return'], ['/nowhere'], ['/sign%69n'], ['/ünïcödé/✓'], ['/%E2%9C%93'], ['/']])(
    'takes path and resource from rawPath %s as sent',
    (path) => {
      const event = proxyEventOfFunctionUrl(functionUrlEvent({ path }));
      expect(event.path).toBe(path);
      expect(event.resource).toBe(path);
      expect(event.requestContext.path).toBe(path);
    },
  );

  it('gives the method, the cookies as a Cookie header, and the body', () => {
    const event = proxyEventOfFunctionUrl(
      functionUrlEvent({ path: '/signin', method: 'POST', cookies: ['a=1', 'b=2'], body: 'x' }),
    );
    expect(event.httpMethod).toBe('POST');
    expect(event.headers.cookie).toBe('a=1; b=2');
    expect(event.body).toBe('x');
  });

  it('is the same for the same event, and leaves the event as it was', () => {
    const fn = functionUrlEvent({ path: '/signin', clientCertPem: alicePem(), query: 'a=1' });
    const before = JSON.stringify(fn);
    expect(proxyEventOfFunctionUrl(fn)).toEqual(proxyEventOfFunctionUrl(fn));
    expect(JSON.stringify(fn)).toBe(before);
  });
});

describe('telling the shapes apart', () => {
  it('knows a function-URL event from a REST proxy event and from junk', () => {
    expect(isFunctionUrlEvent(functionUrlEvent({ path: '/signin' }))).toBe(true);
    expect(isFunctionUrlEvent(proxyEvent({ path: '/signin' }))).toBe(false);
    for (const junk of [
      null,
      undefined,
      1,
      'x',
      [],
      {},
      { version: '2.0' },
      { version: '2.0', rawPath: '/', requestContext: {} },
    ])
      expect(isFunctionUrlEvent(junk)).toBe(false);
  });
});

describe('the result', () => {
  it('keeps status, headers and body, and moves Set-Cookie into cookies', () => {
    expect(
      functionUrlResultOf({
        statusCode: 302,
        headers: { Location: '/x', 'Set-Cookie': 'a=1', 'Cache-Control': 'no-store' },
        multiValueHeaders: { 'set-cookie': ['b=2', 'c=3'], Vary: ['Accept', 'Origin'] },
        body: '',
      }),
    ).toEqual({
      statusCode: 302,
      headers: { Location: '/x', 'Cache-Control': 'no-store', Vary: 'Accept, Origin' },
      cookies: ['b=2', 'c=3'],
      body: '',
      isBase64Encoded: false,
    });
  });

  it('takes a name given in both maps from multiValueHeaders, as API Gateway does', () => {
    const result = functionUrlResultOf({
      statusCode: 200,
      headers: { 'X-A': '1', 'Set-Cookie': 'a=1' },
      multiValueHeaders: { 'x-a': ['2', '3'] },
      body: 'b',
      isBase64Encoded: true,
    });
    expect(result).toEqual({
      statusCode: 200,
      headers: { 'x-a': '2, 3' },
      cookies: ['a=1'],
      body: 'b',
      isBase64Encoded: true,
    });
  });

  it('has no cookies field when there are none', () => {
    expect(functionUrlResultOf({ statusCode: 200, body: 'ok' })).toEqual({
      statusCode: 200,
      headers: {},
      body: 'ok',
      isBase64Encoded: false,
    });
  });
});
