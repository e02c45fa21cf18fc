/**
 * Function-URL events (payload 2.0) as Lambda builds them for a request CloudFront forwards with viewer
 * mutual TLS in optional mode: header names lower-cased, repeated headers joined with `,`, cookies moved to
 * `cookies`, the certificate in `cloudfront-viewer-cert-*` headers (the PEM URL-encoded). Used by the adapter's
 * unit tests, the edge app's tests and the function-URL fuzz property.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';

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
