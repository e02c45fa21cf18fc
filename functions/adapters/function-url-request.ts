/**
 * Reading a Lambda function URL event (payload 2.0) that CloudFront sent with viewer mutual TLS in optional
 * mode, as the API Gateway REST proxy event the edge app already handles, and turning the app's answer back
 * into a function-URL result. The client certificate is taken only from `CloudFront-Viewer-Cert-Pem`, and
 * only when `CloudFront-Viewer-Cert-Present` is exactly `1`: CloudFront sets both after verifying the chain
 * against its trust store, and the function URL (AWS_IAM, Origin Access Control) is reachable only through
 * the distribution. Every `CloudFront-Viewer-Cert-*` header is removed from the headers the app sees, so
 * nothing after this adapter can read a certificate from anywhere else.
 */
import type {
  APIGatewayEventClientCertificate,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayProxyStructuredResultV2,
  LambdaFunctionURLEvent,
} from 'aws-lambda';
import { isIP } from 'node:net';
import { queryPairsOf } from './api-gateway-request';
import { MAX_CERTIFICATE_PEM_LENGTH } from '../domain/certificate';

/** What the edge function hands a function URL: the payload 2.0 structured result. */
export type FunctionUrlResult = APIGatewayProxyStructuredResultV2;

/** Prefix of the certificate headers CloudFront adds (lower-case: function URLs lower-case header names). */
export const VIEWER_CERT_HEADER_PREFIX = 'cloudfront-viewer-cert-';
/** `1` when the viewer presented a certificate CloudFront verified, `0` when it presented none. */
export const VIEWER_CERT_PRESENT_HEADER = 'cloudfront-viewer-cert-present';
/** The verified leaf certificate, PEM, URL-encoded (`%20`, `%0A`). */
export const VIEWER_CERT_PEM_HEADER = 'cloudfront-viewer-cert-pem';
/** The viewer's address and port as CloudFront saw them (`198.51.100.10:46532`, `[2001:db8::1]:443`). */
export const VIEWER_ADDRESS_HEADER = 'cloudfront-viewer-address';

/** Percent-encoding at most triples a PEM; anything longer cannot decode to a certificate plusgate accepts. */
const MAX_ENCODED_PEM_LENGTH = 3 * MAX_CERTIFICATE_PEM_LENGTH;

/**
 * True for an event in the function-URL shape (payload 2.0). Used only to refuse an event of the wrong shape
 * for the configured edge; the edge setting, not this, chooses the adapter.
 */
export function isFunctionUrlEvent(event: unknown): event is LambdaFunctionURLEvent {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Partial<LambdaFunctionURLEvent>;
  return (
    e.version === '2.0' &&
    typeof e.rawPath === 'string' &&
    typeof e.requestContext === 'object' &&
    e.requestContext !== null &&
    typeof e.requestContext.http === 'object' &&
    e.requestContext.http !== null
  );
}

/**
 * The REST proxy event the edge app reads, built from a function-URL event: path = `rawPath`, resource = the
 * edge route when the path is one, headers without any `cloudfront-viewer-cert-*`, query parameters decoded
 * as API Gateway REST decodes them, `requestContext.identity.clientCert` only for `Present: 1`.
 */
export function proxyEventOfFunctionUrl(event: LambdaFunctionURLEvent): APIGatewayProxyEvent {
  const rawHeaders = stringRecord(event.headers);
  const kept = Object.entries(rawHeaders).filter(([name]) => !name.toLowerCase().startsWith(VIEWER_CERT_HEADER_PREFIX));
  // Payload 2.0 moves cookies out of the headers; REST events carry them in `Cookie`.
  const cookies = Array.isArray(event.cookies) ? event.cookies.filter((c) => typeof c === 'string') : [];
  if (cookies.length && !kept.some(([name]) => name.toLowerCase() === 'cookie'))
    kept.push(['cookie', cookies.join('; ')]);
  // fromEntries: a name like `__proto__` stays an ordinary key.
  const headers: Record<string, string> = Object.fromEntries(kept);
  const multiValueHeaders = Object.fromEntries(kept.map(([name, value]) => [name, [value]]));

  const query = queryOf(typeof event.rawQueryString === 'string' ? event.rawQueryString : '');
  const context = event.requestContext;
  const http = context.http;
  const path = event.rawPath;
  const method = typeof http.method === 'string' ? http.method : '';
  // API Gateway's resource of an edge route is its path; elsewhere there is no resource, and the app reads the path.
  const resource = path;

  return {
    resource,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query.count ? query.single : null,
    multiValueQueryStringParameters: query.count ? query.multi : null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      resourceId: '',
      resourcePath: resource,
      httpMethod: method,
      requestTime: context.time,
      path,
      accountId: context.accountId,
      protocol: http.protocol,
      stage: context.stage,
      domainPrefix: context.domainPrefix,
      requestTimeEpoch: context.timeEpoch,
      requestId: context.requestId,
      identity: {
        cognitoIdentityPoolId: null,
        accountId: null,
        cognitoIdentityId: null,
        caller: null,
        sourceIp: viewerIpOf(rawHeaders[VIEWER_ADDRESS_HEADER]) ?? http.sourceIp,
        principalOrgId: null,
        accessKey: null,
        cognitoAuthenticationType: null,
        cognitoAuthenticationProvider: null,
        userArn: null,
        userAgent: rawHeaders['user-agent'] ?? http.userAgent ?? null,
        user: null,
        apiKey: null,
        apiKeyId: null,
        clientCert: viewerCertificateOf(rawHeaders),
      },
      domainName: context.domainName,
      apiId: context.apiId,
      authorizer: undefined,
    },
    body: typeof event.body === 'string' ? event.body : null,
    isBase64Encoded: event.isBase64Encoded === true,
  };
}

/**
 * The certificate CloudFront verified, as API Gateway would put it in `identity.clientCert`, or null. Only
 * `Present` exactly `1` counts: a viewer-sent copy joined to CloudFront's reads `0,1` or `1,0`. The DN,
 * serial and validity fields are CloudFront's display strings; plusgate reads only `clientCertPem`.
 */
export function viewerCertificateOf(
  headers: Readonly<Record<string, string>>,
): APIGatewayEventClientCertificate | null {
  if (headers[VIEWER_CERT_PRESENT_HEADER] !== '1') return null;
  const encoded = headers[VIEWER_CERT_PEM_HEADER];
  if (!encoded) return null;
  const validity = headers['cloudfront-viewer-cert-validity'] ?? '';
  return {
    clientCertPem: decodeViewerPem(encoded),
    subjectDN: headers['cloudfront-viewer-cert-subject'] ?? '',
    issuerDN: headers['cloudfront-viewer-cert-issuer'] ?? '',
    serialNumber: headers['cloudfront-viewer-cert-serial-number'] ?? '',
    validity: {
      notBefore: /(?:^|;)NotBefore=([^;]*)/.exec(validity)?.[1] ?? '',
      notAfter: /(?:^|;)NotAfter=([^;]*)/.exec(validity)?.[1] ?? '',
    },
  };
}

/**
 * `CloudFront-Viewer-Cert-Pem` decoded: percent-decoding only (never form decoding: base64 has `+`). A value
 * that does not decode, or is too long to be one, is kept as sent: it cannot be a PEM block (`%` is not in
 * one), so the edge app refuses it as it refuses any bad client certificate, with a 400 naming it.
 */
export function decodeViewerPem(encoded: string): string {
  if (encoded.length > MAX_ENCODED_PEM_LENGTH) return encoded;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

/**
 * The viewer's IP from `CloudFront-Viewer-Address` (`ip:port`, split on the last `:`; an IPv6 address with or
 * without brackets), or undefined when the value is not one address and port.
 */
export function viewerIpOf(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const colon = address.lastIndexOf(':');
  if (colon < 0 || !/^\d{1,5}$/.test(address.slice(colon + 1))) return undefined;
  let host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return isIP(host) ? host : undefined;
}

/**
 * The app's answer as a function-URL result: `Set-Cookie` values into `cookies`, every other repeated
 * header joined with `, ` (a name in both maps takes the `multiValueHeaders` values, as API Gateway does).
 */
export function functionUrlResultOf(result: APIGatewayProxyResult): FunctionUrlResult {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const multi = result.multiValueHeaders ?? {};
  const multiNames = new Set(Object.keys(multi).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (multiNames.has(name.toLowerCase())) continue;
    if (name.toLowerCase() === 'set-cookie') cookies.push(String(value));
    else addHeader(headers, name, String(value));
  }
  for (const [name, values] of Object.entries(multi)) {
    if (name.toLowerCase() === 'set-cookie') cookies.push(...values.map(String));
    else if (values.length) addHeader(headers, name, values.map(String).join(', '));
  }
  return {
    statusCode: result.statusCode,
    headers,
    body: result.body,
    isBase64Encoded: result.isBase64Encoded === true,
    ...(cookies.length ? { cookies } : {}),
  };
}

function addHeader(headers: Record<string, string>, name: string, value: string): void {
  const existing = Object.keys(headers).find((known) => known.toLowerCase() === name.toLowerCase());
  if (existing === undefined) headers[name] = value;
  else headers[existing] = `${headers[existing]}, ${value}`;
}

function stringRecord(record: unknown): Record<string, string> {
  if (typeof record !== 'object' || record === null) return {};
  return Object.fromEntries(
    Object.entries(record).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

interface Query {
  readonly single: Record<string, string>;
  readonly multi: Record<string, string[]>;
  readonly count: number;
}

/**
 * `rawQueryString` as API Gateway REST gives the query: form-decoded (`+` is a space, then percent escapes;
 * a malformed escape is kept as sent), empty segments skipped, a key without `=` gets the empty string, the
 * last value in `queryStringParameters` and every value, in order, in the multi-value map.
 */
export function queryOf(rawQuery: string): Query {
  const values = new Map<string, string[]>();
  let count = 0;
  for (const [key, value] of queryPairsOf(rawQuery)) {
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
    count++;
  }
  // fromEntries: a parameter named `__proto__` stays an ordinary key.
  const multi = Object.fromEntries(values);
  const single = Object.fromEntries([...values].map(([key, list]) => [key, list.at(-1) ?? '']));
  return { single, multi, count };
}
