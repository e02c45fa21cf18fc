import { X509Certificate } from 'node:crypto';
import {
  buildProxyEvent,
  clientCertOf,
  type ProxyEventInput,
  queryPairsOf,
  requestTimeOf,
} from '../../../local/api-gateway-event';
import { certificateParser, parseCertificatePem, rfc2253 } from '../../../functions/domain/certificate';
import { clientCertificateOf } from '../../../functions/adapters/api-gateway-request';
import { issueCertificate } from '../../../local/dev-pki';
import { serialToColonHex } from '../../../functions/domain/certificate';
import { testPki } from '../../support/test-pki';

const NOW = new Date('2026-11-26T17:00:00.123Z');

function input(overrides: Partial<ProxyEventInput> = {}): ProxyEventInput {
  return {
    method: 'GET',
    path: '/signin',
    rawQuery: '',
    headers: ['Host', 'auth.example.com', 'User-Agent', 'curl/8.5.0', 'Accept', '*/*'],
    body: Buffer.alloc(0),
    resource: '/signin',
    stage: 'local',
    domainName: 'auth.example.com',
    sourceIp: '203.0.113.7',
    now: NOW,
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    ...overrides,
  };
}

describe('buildProxyEvent', () => {
  it('fills the top-level fields of a REST proxy event', () => {
    const event = buildProxyEvent(input());
    expect(event).toMatchObject({
      resource: '/signin',
      path: '/signin',
      httpMethod: 'GET',
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
    });
  });

  it('fills requestContext like API Gateway on a custom domain', () => {
    const ctx = buildProxyEvent(input()).requestContext;
    expect(ctx).toMatchObject({
      resourcePath: '/signin',
      httpMethod: 'GET',
      path: '/signin',
      accountId: '123456789012',
      apiId: 'localapi01',
      protocol: 'HTTP/1.1',
      stage: 'local',
      domainName: 'auth.example.com',
      domainPrefix: 'auth',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTime: '26/Nov/2026:17:00:00 +0000',
      requestTimeEpoch: NOW.getTime(),
    });
    expect(ctx.resourceId).toMatch(/^[0-9a-z]{6}$/);
    expect(ctx.extendedRequestId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(ctx.authorizer).toBeUndefined();
  });

  it('keeps the resource id stable per resource and distinct across resources', () => {
    const a = buildProxyEvent(input()).requestContext.resourceId;
    expect(buildProxyEvent(input({ requestId: 'other' })).requestContext.resourceId).toBe(a);
    expect(buildProxyEvent(input({ resource: '/whoami', path: '/whoami' })).requestContext.resourceId).not.toBe(a);
  });

  it('uses the given api id, account id and extended request id', () => {
    const ctx = buildProxyEvent(
      input({ apiId: 'abcdef1234', accountId: '111122223333', extendedRequestId: 'Lx8b3FJKoAMFxyQ=' }),
    ).requestContext;
    expect(ctx).toMatchObject({
      apiId: 'abcdef1234',
      accountId: '111122223333',
      extendedRequestId: 'Lx8b3FJKoAMFxyQ=',
    });
  });

  it('fills identity with nulls for everything but sourceIp, userAgent and clientCert', () => {
    expect(buildProxyEvent(input()).requestContext.identity).toEqual({
      cognitoIdentityPoolId: null,
      accountId: null,
      cognitoIdentityId: null,
      caller: null,
      sourceIp: '203.0.113.7',
      principalOrgId: null,
      accessKey: null,
      cognitoAuthenticationType: null,
      cognitoAuthenticationProvider: null,
      userArn: null,
      userAgent: 'curl/8.5.0',
      user: null,
      apiKey: null,
      apiKeyId: null,
      clientCert: null,
    });
  });

  it('gives a null userAgent when the client sent none', () => {
    expect(buildProxyEvent(input({ headers: ['Host', 'x'] })).requestContext.identity.userAgent).toBeNull();
  });

  describe('headers', () => {
    it('keeps names as sent, the last value in headers and every value in multiValueHeaders', () => {
      const event = buildProxyEvent(input({ headers: ['Host', 'h', 'X-Tag', 'one', 'Cookie', 'a=1', 'x-tag', 'two'] }));
      expect(event.headers).toEqual({ Host: 'h', 'X-Tag': 'two', Cookie: 'a=1' });
      expect(event.multiValueHeaders).toEqual({ Host: ['h'], 'X-Tag': ['one', 'two'], Cookie: ['a=1'] });
    });

    it('does not split a comma-separated value into several', () => {
      const event = buildProxyEvent(input({ headers: ['Accept', 'text/html, application/json'] }));
      expect(event.multiValueHeaders).toEqual({ Accept: ['text/html, application/json'] });
    });

    it('accepts a header record with array values', () => {
      const event = buildProxyEvent(
        input({ headers: { host: 'h', 'set-cookie': ['a=1', 'b=2'], skipped: undefined } }),
      );
      expect(event.headers).toEqual({ host: 'h', 'set-cookie': 'b=2' });
      expect(event.multiValueHeaders).toEqual({ host: ['h'], 'set-cookie': ['a=1', 'b=2'] });
    });

    it('adds the forwarding headers API Gateway adds, appending the caller to X-Forwarded-For', () => {
      const event = buildProxyEvent(
        input({
          headers: ['Host', 'h', 'X-Forwarded-For', '198.51.100.1', 'X-Forwarded-Proto', 'spoofed'],
          forwarded: { proto: 'https', port: 443 },
        }),
      );
      expect(event.headers).toMatchObject({
        'X-Forwarded-For': '198.51.100.1, 203.0.113.7',
        'X-Forwarded-Port': '443',
        'X-Forwarded-Proto': 'https',
      });
      expect(event.multiValueHeaders['X-Forwarded-Proto']).toEqual(['https']);
      expect(event.headers['X-Amzn-Trace-Id']).toMatch(
        new RegExp(`^Root=1-${Math.floor(NOW.getTime() / 1000).toString(16)}-[0-9a-f]{24}$`),
      );
    });

    it('leaves the client headers untouched without forwarding', () => {
      expect(Object.keys(buildProxyEvent(input()).headers)).toEqual(['Host', 'User-Agent', 'Accept']);
    });
  });

  describe('query string', () => {
    it('decodes values and keeps the last of a repeated name, and all in multiValue', () => {
      const event = buildProxyEvent(
        input({ rawQuery: 'return=https%3A%2F%2Fapp.example.com%2Fa%3Fb%3D1&tag=x&tag=y' }),
      );
      expect(event.queryStringParameters).toEqual({ return: 'https://app.example.com/a?b=1', tag: 'y' });
      expect(event.multiValueQueryStringParameters).toEqual({
        return: ['https://app.example.com/a?b=1'],
        tag: ['x', 'y'],
      });
    });

    it('is null, not {}, when the query is empty or only separators', () => {
      for (const rawQuery of ['', '&', '&&']) {
        const event = buildProxyEvent(input({ rawQuery }));
        expect(event.queryStringParameters).toBeNull();
        expect(event.multiValueQueryStringParameters).toBeNull();
      }
    });
  });

  describe('body', () => {
    it('passes UTF-8 text as is', () => {
      const event = buildProxyEvent(
        input({ method: 'POST', body: Buffer.from('{"serial":"1234"} – ünïcode', 'utf8') }),
      );
      expect(event.body).toBe('{"serial":"1234"} – ünïcode');
      expect(event.isBase64Encoded).toBe(false);
    });

    it('base64-encodes bytes that are not valid UTF-8', () => {
      const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
      const event = buildProxyEvent(input({ method: 'POST', body: bytes }));
      expect(event.isBase64Encoded).toBe(true);
      expect(Buffer.from(event.body as string, 'base64')).toEqual(bytes);
    });
  });

  describe('client certificate', () => {
    it('fills clientCert with the PEM, RFC 2253 DNs, colon-hex serial and OpenSSL dates', async () => {
      const pki = await testPki();
      const alice = pki.devices.alice;
      const x509 = new X509Certificate(alice.cert);
      const cert = buildProxyEvent(input({ clientCert: { pem: alice.cert } })).requestContext.identity.clientCert;
      expect(cert).toEqual({
        clientCertPem: alice.cert,
        // The dev PKI encodes the subject CN first, so RFC 2253 (reverse DER order) lists O first.
        subjectDN: "CN=Alice's Laptop,OU=Desktop,O=Identity Plus Device",
        issuerDN: 'CN=plusgate dev Identity Plus Intermediate CA,O=plusgate dev',
        serialNumber: serialToColonHex(alice.serial),
        validity: { notBefore: x509.validFrom, notAfter: x509.validTo },
      });
      expect(cert?.serialNumber).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
      expect(cert?.validity.notBefore).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4} GMT$/);
    });

    it("is read through the process's certificate parser, so the handler's own parse of the PEM is a cache hit", async () => {
      const pki = await testPki();
      const fresh = await issueCertificate(pki.intermediate, { subject: 'CN=parsed once' });
      const before = certificateParser.parses;
      const event = buildProxyEvent(input({ clientCert: { pem: fresh.cert } }));
      const inHandler = clientCertificateOf(event);
      expect(certificateParser.parses - before).toBe(1);
      expect(inHandler).toBe(parseCertificatePem(fresh.cert));
      expect(inHandler?.commonName).toBe('parsed once');
    });

    it('hands the handler nothing but what API Gateway sends: plain JSON values, the five clientCert fields', async () => {
      const pki = await testPki();
      const event = buildProxyEvent(input({ clientCert: { pem: pki.devices.alice.cert } }));
      const notJson: string[] = [];
      const walk = (value: unknown, at: string): void => {
        if (value === null || value === undefined || ['string', 'number', 'boolean'].includes(typeof value)) return;
        const proto = Object.getPrototypeOf(value);
        if (typeof value !== 'object' || (proto !== Object.prototype && proto !== Array.prototype)) {
          notJson.push(at);
          return;
        }
        for (const [key, inner] of Object.entries(value)) walk(inner, `${at}.${key}`);
      };
      walk(event, 'event');
      expect(notJson).toEqual([]);
      const cert = event.requestContext.identity.clientCert;
      expect(Object.keys(cert ?? {}).sort()).toEqual([
        'clientCertPem',
        'issuerDN',
        'serialNumber',
        'subjectDN',
        'validity',
      ]);
      expect(Object.keys(cert?.validity ?? {}).sort()).toEqual(['notAfter', 'notBefore']);
    });

    it("fills clientCert for a certificate plusgate's parser refuses (a 21-byte serial), as API Gateway passes it on", async () => {
      const pki = await testPki();
      const serial = `0x7f${'ab'.repeat(20)}`;
      const long = await issueCertificate(pki.intermediate, { subject: 'CN=long serial', serial });
      expect(() => parseCertificatePem(long.cert)).toThrow(/larger than 20 bytes/);
      const x509 = new X509Certificate(long.cert);
      expect(clientCertOf(long.cert)).toEqual({
        clientCertPem: long.cert,
        subjectDN: 'CN=long serial',
        issuerDN: 'CN=plusgate dev Identity Plus Intermediate CA,O=plusgate dev',
        serialNumber: `7f:${Array(20).fill('ab').join(':')}`,
        validity: { notBefore: x509.validFrom, notAfter: x509.validTo },
      });
    });

    it('lists a conventionally encoded subject most specific first, as AWS shows it', async () => {
      const pki = await testPki();
      // @peculiar/x509 encodes RDNs in the order written: this is the usual C/O/OU/CN DER order.
      const issued = await issueCertificate(pki.intermediate, {
        subject: 'C=US,O=Example Corp,OU=Laptops,CN=Zoë\\, the laptop',
        serial: '0x01ab',
      });
      const cert = clientCertOf(issued.cert);
      expect(cert.subjectDN).toBe('CN=Zoë\\, the laptop,OU=Laptops,O=Example Corp,C=US');
      expect(cert.serialNumber).toBe('01:ab');
    });
  });
});

describe('rfc2253', () => {
  it('reverses the attributes like OpenSSL, joining RDNs with commas and multi-valued ones with +', () => {
    expect(rfc2253('C=US\nO=Example\nOU=A + CN=b\n')).toBe('CN=b+OU=A,O=Example,C=US');
  });

  it('matches `openssl x509 -nameopt RFC2253` for a multi-valued RDN with an escaped trailing space', () => {
    // Node's subject of `-subj "/C=US/O=Smith, Jones + Co/OU=A+CN=b/CN=Zoë" -multivalue-rdn`; OpenSSL
    // prints `CN=Zo\C3\AB,O=Smith\, Jones\ +CN=b,C=US` (it escapes non-ASCII bytes, API Gateway's form is unknown).
    expect(rfc2253('C=US\nCN=b + O=Smith\\, Jones\\ \nCN=Zoë')).toBe('CN=Zoë,O=Smith\\, Jones\\ +CN=b,C=US');
  });

  it('leaves escaped characters escaped', () => {
    expect(rfc2253('O=Smith\\, Jones \\+ Co\nCN=x')).toBe('CN=x,O=Smith\\, Jones \\+ Co');
  });
});

describe('queryPairsOf', () => {
  it.each<[string, Array<[string, string]>]>([
    [
      'a=1&b=2',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    ['q=a+b', [['q', 'a b']]],
    ['q=a%2Bb', [['q', 'a+b']]],
    ['flag', [['flag', '']]],
    ['k=', [['k', '']]],
    ['k=v=w', [['k', 'v=w']]],
    ['a%20b=c', [['a b', 'c']]],
    ['bad=%E0%A4%A', [['bad', '%E0%A4%A']]],
    [
      'a=1&&b=2',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
  ])('reads %s', (raw, pairs) => {
    expect(queryPairsOf(raw)).toEqual(pairs);
  });
});

describe('requestTimeOf', () => {
  it('writes the access-log form in UTC with two-digit days', () => {
    expect(requestTimeOf(new Date('2027-03-04T05:06:07Z'))).toBe('04/Mar/2027:05:06:07 +0000');
  });
});
