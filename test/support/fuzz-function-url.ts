/**
 * Function-URL events (payload 2.0) as Lambda builds them for a request CloudFront forwards with viewer
 * mutual TLS in optional mode: header names lower-cased, repeated headers joined with `,`, cookies moved to
 * `cookies`, the certificate in `cloudfront-viewer-cert-*` headers (the PEM URL-encoded). Used by the adapter's
 * unit tests, the edge app's tests and the function-URL fuzz property.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import fc from 'fast-check';
import { DEMO_PEOPLE } from '../../local/dev-pki';
import { type CertSpec, type FuzzPki, ODD_PATHS, certPem, certSpec, returnValue, tainted } from './fuzz-inputs';

/** CloudFront's URL encoding of a PEM: spaces and line breaks escaped, base64 characters left as they are. */
export function cloudFrontPem(pem: string): string {
  return pem.replace(/%/g, '%25').replace(/ /g, '%20').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** The `cloudfront-viewer-cert-*` headers CloudFront sets for a verified certificate (`present: 1`). */
export function viewerCertHeaders(pem: string): Record<string, string> {
  return {
    'cloudfront-viewer-cert-present': '1',
    'cloudfront-viewer-cert-pem': cloudFrontPem(pem),
    'cloudfront-viewer-cert-serial-number': '4a:3f:5c:92',
    'cloudfront-viewer-cert-issuer': 'CN=Identity Plus Test CA',
    'cloudfront-viewer-cert-subject': 'CN=device',
    'cloudfront-viewer-cert-sha256': '01'.repeat(32),
    'cloudfront-viewer-cert-validity': 'NotBefore=2026-01-01T00:00:00Z;NotAfter=2027-01-01T00:00:00Z',
  };
}

export interface FunctionUrlEventOptions {
  readonly path: string;
  /** @default GET */
  readonly method?: string;
  /** rawQueryString, without `?`. */
  readonly query?: string;
  /** Lower-cased names, as the function URL gives them. */
  readonly headers?: Record<string, string>;
  /** The PEM of a certificate CloudFront verified: adds {@link viewerCertHeaders}. */
  readonly clientCertPem?: string;
  /** `CloudFront-Viewer-Address`. @default '198.51.100.10:46532'; null = none */
  readonly viewerAddress?: string | null;
  readonly cookies?: string[];
  readonly body?: string;
}

/** A function-URL event the way Lambda gives it to the edge function behind CloudFront. */
export function functionUrlEvent(options: FunctionUrlEventOptions): LambdaFunctionURLEvent {
  const viewerAddress = options.viewerAddress === undefined ? '198.51.100.10:46532' : options.viewerAddress;
  const headers: Record<string, string> = {
    host: 'abcdefghij0123456789abcdefghij01.lambda-url.eu-west-1.on.aws',
    'user-agent': 'Amazon CloudFront',
    'x-amz-cf-id': 'cf-id-1',
    'x-forwarded-for': '198.51.100.10, 64.252.0.1',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    ...(viewerAddress !== null ? { 'cloudfront-viewer-address': viewerAddress } : {}),
    ...(options.clientCertPem ? viewerCertHeaders(options.clientCertPem) : { 'cloudfront-viewer-cert-present': '0' }),
    ...options.headers,
  };
  const method = options.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: options.path,
    rawQueryString: options.query ?? '',
    ...(options.cookies ? { cookies: options.cookies } : {}),
    headers,
    ...(options.query ? { queryStringParameters: {} } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdefghij0123456789abcdefghij01',
      domainName: 'abcdefghij0123456789abcdefghij01.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abcdefghij0123456789abcdefghij01',
      http: {
        method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '64.252.0.1',
        userAgent: 'Amazon CloudFront',
      },
      requestId: 'req-fn-1',
      routeKey: '$default',
      stage: '$default',
      time: '30/Nov/2026:10:00:00 +0000',
      timeEpoch: 1_795_860_000_000,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: false,
  };
}

// ------------------------------------------------------------------------------------------ fuzzing

/** How a certificate header's value is written: as CloudFront does, or not quite. */
export type PemEncoding = 'cloudfront' | 'component' | 'raw' | 'double' | 'broken' | 'plus-as-space';

/** What goes in one `cloudfront-viewer-cert-pem`-like header. */
export type PemHeaderSpec =
  | { readonly cert: CertSpec; readonly encoding: PemEncoding; readonly at: number }
  | { readonly text: string };

/** Everything about one function-URL event; {@link buildFunctionUrlEvent} makes it. */
export interface FunctionUrlSpec {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** `cloudfront-viewer-cert-present` as received (joined copies included); null: absent. */
  readonly present: string | null;
  /** `cloudfront-viewer-cert-pem`; null: absent. */
  readonly pem: PemHeaderSpec | null;
  /** Other headers that try to carry a certificate: mixed-case copies, near names, other proxies' headers. */
  readonly smuggled: ReadonlyArray<{ readonly name: string; readonly value: PemHeaderSpec | string }>;
  readonly accept: string | null;
  readonly viewerAddress: string | null;
  readonly cookies: readonly string[] | null;
}

const PRESENT_VALUES = ['0', '0,1', '1,0', '1,1', ' 1', '1 ', '', 'true', '01', '１', '1\u0000', 'yes'] as const;
const SMUGGLE_NAMES = [
  'CloudFront-Viewer-Cert-Pem',
  'CloudFront-Viewer-Cert-Present',
  'Cloudfront-Viewer-Cert-Pem',
  'cloudfront-viewer-cert-pem ',
  'cloudfront_viewer_cert_pem',
  'cloudfront-viewer-cert-pem2',
  'x-cloudfront-viewer-cert-pem',
  'x-client-cert',
  'x-forwarded-tls-client-cert',
  'x-forwarded-client-cert',
  'cloudfront-viewer-cert-serial-number',
  'cloudfront-viewer-cert-sha256',
] as const;
const ADDRESSES = [
  '198.51.100.10:46532',
  '[2001:db8::1]:443',
  '2001:db8::1:443',
  '198.51.100.10',
  '198.51.100.10:1,203.0.113.5:2',
  '[::1]:0',
  'example.com:80',
  '',
] as const;

const pemHeader: fc.Arbitrary<PemHeaderSpec> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      cert: fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({ kind: fc.constant('cert' as const), name: fc.constantFrom(...DEMO_PEOPLE) }),
        },
        { weight: 1, arbitrary: certSpec },
      ),
      encoding: fc.oneof(
        { weight: 6, arbitrary: fc.constant<PemEncoding>('cloudfront') },
        { weight: 2, arbitrary: fc.constantFrom<PemEncoding>('component', 'raw', 'double', 'broken', 'plus-as-space') },
      ),
      at: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        tainted(),
        fc.constantFrom('%', '%ZZ', '%C3%28', '%E0%80%80', '-----BEGIN%20CERTIFICATE-----%0A', '%00'),
        fc.integer({ min: 1, max: 70_000 }).map((n) => '%41'.repeat(Math.ceil(n / 3))),
      )
      .map((text) => ({ text })),
  },
);

/** Function-URL events, mostly as CloudFront sends them (with or without a certificate), often hostile. */
export const functionUrlSpec: fc.Arbitrary<FunctionUrlSpec> = fc.record({
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant('GET') },
    { weight: 1, arbitrary: fc.constantFrom('POST', 'HEAD', 'get') },
  ),
  path: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom('/signin', '/signin', '/whoami', '/return') },
    { weight: 2, arbitrary: fc.constantFrom(...ODD_PATHS, '/ünïcödé', '/%E2%9C%93', '/signin/%2e%2e') },
    { weight: 1, arbitrary: tainted().map((t) => `/${t}`) },
  ),
  query: fc.oneof(
    { weight: 4, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: returnValue.map((r) => `return=${encodeURIComponent(r)}`) },
    {
      weight: 1,
      arbitrary: fc
        .array(returnValue, { minLength: 2, maxLength: 3 })
        .map((rs) => rs.map((r) => `return=${encodeURIComponent(r)}`).join('&')),
    },
    { weight: 1, arbitrary: tainted() },
  ),
  present: fc.oneof(
    { weight: 6, arbitrary: fc.constant('1') },
    { weight: 3, arbitrary: fc.constant('0') },
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.constantFrom(...PRESENT_VALUES) },
  ),
  pem: fc.oneof({ weight: 5, arbitrary: pemHeader }, { weight: 1, arbitrary: fc.constant(null) }),
  smuggled: fc.array(
    fc.record({
      name: fc.constantFrom(...SMUGGLE_NAMES),
      value: fc.oneof(pemHeader, fc.constantFrom('1', '0', '1,1')),
    }),
    { maxLength: 2 },
  ),
  accept: fc.option(fc.constantFrom('text/html', 'application/json', '*/*', 'application/json, text/html', ''), {
    nil: null,
  }),
  viewerAddress: fc.option(fc.oneof(fc.constantFrom(...ADDRESSES), tainted()), { nil: null }),
  cookies: fc.option(fc.array(tainted(), { maxLength: 2 }), { nil: null }),
});

/** A header value for `spec`. */
export function pemHeaderValue(spec: PemHeaderSpec, fp: FuzzPki): string {
  if ('text' in spec) return spec.text;
  const pem = certPem(spec.cert, fp);
  switch (spec.encoding) {
    case 'cloudfront':
      return cloudFrontPem(pem);
    case 'component':
      return encodeURIComponent(pem);
    case 'raw':
      return pem;
    case 'double':
      return encodeURIComponent(encodeURIComponent(pem));
    case 'plus-as-space':
      return cloudFrontPem(pem).replace(/\+/g, ' ');
    case 'broken': {
      const encoded = cloudFrontPem(pem);
      const i = spec.at % (encoded.length + 1);
      return `${encoded.slice(0, i)}%${encoded.slice(i)}`;
    }
  }
}

/** The function-URL event for `spec`. */
export function buildFunctionUrlEvent(spec: FunctionUrlSpec, fp: FuzzPki): LambdaFunctionURLEvent {
  const event = functionUrlEvent({
    path: spec.path,
    method: spec.method,
    query: spec.query,
    viewerAddress: spec.viewerAddress,
    ...(spec.cookies ? { cookies: [...spec.cookies] } : {}),
  });
  const headers = event.headers as Record<string, string | undefined>;
  delete headers['cloudfront-viewer-cert-present'];
  for (const { name, value } of spec.smuggled) {
    const text = typeof value === 'string' ? value : pemHeaderValue(value, fp);
    // A function URL joins repeated headers with ','.
    headers[name] = headers[name] === undefined ? text : `${headers[name]},${text}`;
  }
  if (spec.present !== null) headers['cloudfront-viewer-cert-present'] = spec.present;
  if (spec.pem !== null) headers['cloudfront-viewer-cert-pem'] = pemHeaderValue(spec.pem, fp);
  if (spec.accept !== null) headers.accept = spec.accept;
  return event;
}
