/**
 * Builds the API Gateway REST API (v1) Lambda proxy event for one HTTP request, field by field as API
 * Gateway fills it on a REGIONAL custom domain with mutual TLS. Pure: time and ids come in as input, so
 * the local gateway and the unit tests get the same event for the same request.
 *
 * Choices where AWS behaviour depends on configuration (each documented where it is made):
 * - `path` and `requestContext.path` are the raw request path, the custom-domain form. On the
 *   execute-api endpoint AWS prefixes the stage (`/prod/signin`), but plusgate disables that endpoint.
 * - query values are form-decoded (`+` is a space, then percent-decoding), as REST proxy events show.
 * - the body is UTF-8 text unless its bytes are not valid UTF-8, then base64 with `isBase64Encoded`,
 *   which is what a REST API whose binary media types match the request does.
 */
import type { APIGatewayEventClientCertificate, APIGatewayProxyEvent } from 'aws-lambda';
import { createHash, X509Certificate } from 'node:crypto';
import {
  type ClientCertificate,
  parseCertificatePem,
  rfc2253,
  serialToColonHex,
} from '../functions/domain/certificate';
import { InvalidInputError } from '../functions/domain/errors';
import { queryPairsOf } from '../functions/adapters/api-gateway-request';

/**
 * Request headers: Node's `rawHeaders` (alternating names and values, names as the client sent them,
 * repeats kept) or a header record whose values may be arrays. Prefer `rawHeaders`: Node's
 * `req.headers` lower-cases names and joins most repeated headers with ", ".
 */
export type RequestHeaders = readonly string[] | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What {@link buildProxyEvent} needs to know about one request. */
export interface ProxyEventInput {
  readonly method: string;
  /** URL path without the query, as received (e.g. `/signin`). */
  readonly path: string;
  /** Query string without the `?`; empty when there is none. */
  readonly rawQuery: string;
  readonly headers: RequestHeaders;
  readonly body: Buffer;
  /** The matched resource, e.g. `/signin` or `/auth/{dialect}/{path+}`. */
  readonly resource: string;
  /** Values of the resource's `{name}` / `{name+}` parts, decoded, as API Gateway gives them. @default none */
  readonly pathParameters?: Readonly<Record<string, string>>;
  readonly stage: string;
  /** Custom domain name, host only (AWS never puts a port here). */
  readonly domainName: string;
  readonly sourceIp: string;
  /** The client certificate the TLS handshake verified (leaf, PEM). */
  readonly clientCert?: { readonly pem: string };
  readonly now: Date;
  readonly requestId: string;
  /** API Gateway's own id of the request (the `x-amz-apigw-id` response header); derived from `requestId` when omitted. */
  readonly extendedRequestId?: string;
  /** @default 'localapi01' */
  readonly apiId?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
  /**
   * Adds the `X-Forwarded-For/-Port/-Proto` and `X-Amzn-Trace-Id` headers API Gateway adds in front of
   * every integration. Omit to pass the client's headers untouched.
   */
  readonly forwarded?: { readonly proto: 'https' | 'http'; readonly port: number };
}

/** Default API id of local events: ten lower-case alphanumerics, like a real one. */
export const LOCAL_API_ID = 'localapi01';
/** Default account id of local events (the documentation account id). */
export const LOCAL_ACCOUNT_ID = '123456789012';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The REST API proxy event API Gateway would hand the integration for this request. */
export function buildProxyEvent(input: ProxyEventInput): APIGatewayProxyEvent {
  const headerPairs = withForwardingHeaders(headerPairsOf(input.headers), input);
  const { single: headers, multi: multiValueHeaders } = groupPairs(headerPairs, 'case-insensitive');
  const query = groupPairs(queryPairsOf(input.rawQuery), 'exact');
  const body = bodyOf(input.body);

  return {
    resource: input.resource,
    path: input.path,
    httpMethod: input.method,
    headers,
    multiValueHeaders,
    queryStringParameters: query.count ? query.single : null,
    multiValueQueryStringParameters: query.count ? query.multi : null,
    pathParameters: input.pathParameters ? { ...input.pathParameters } : null,
    stageVariables: null,
    requestContext: {
      resourceId: resourceIdOf(input.resource),
      resourcePath: input.resource,
      httpMethod: input.method,
      extendedRequestId: input.extendedRequestId ?? extendedRequestIdOf(input.requestId),
      requestTime: requestTimeOf(input.now),
      // Custom-domain form (see the file comment); execute-api would give `/${stage}${path}`.
      path: input.path,
      accountId: input.accountId ?? LOCAL_ACCOUNT_ID,
      protocol: 'HTTP/1.1',
      stage: input.stage,
      domainPrefix: input.domainName.split('.')[0],
      requestTimeEpoch: input.now.getTime(),
      requestId: input.requestId,
      identity: {
        cognitoIdentityPoolId: null,
        accountId: null,
        cognitoIdentityId: null,
        caller: null,
        sourceIp: input.sourceIp,
        principalOrgId: null,
        accessKey: null,
        cognitoAuthenticationType: null,
        cognitoAuthenticationProvider: null,
        userArn: null,
        userAgent: lastValue(multiValueHeaders, 'user-agent') ?? null,
        user: null,
        apiKey: null,
        apiKeyId: null,
        clientCert: input.clientCert ? clientCertOf(input.clientCert.pem) : null,
      },
      domainName: input.domainName,
      apiId: input.apiId ?? LOCAL_API_ID,
      // Present only when a Lambda or Cognito authorizer ran; none runs in front of these routes.
      authorizer: undefined,
    },
    body: body.text,
    isBase64Encoded: body.base64,
  };
}

/**
 * `requestContext.identity.clientCert` as API Gateway writes it: DNs in RFC 2253 form (RDNs in reverse
 * DER order, most specific first when the CA encoded them the usual way), the serial as colon-separated
 * lower-case hex bytes, and validity dates in OpenSSL's `Mmm dd hh:mm:ss yyyy GMT` form.
 *
 * The certificate is read through the process's certificate parser (`certificateParser`), so in local mode
 * the handler that parses the same `clientCertPem` next finds it already parsed. The event itself carries
 * only what API Gateway puts there; nothing parsed travels with it.
 */
export function clientCertOf(pem: string): APIGatewayEventClientCertificate {
  const cert = describedCertificate(pem);
  return {
    clientCertPem: pem,
    subjectDN: cert.subject,
    issuerDN: cert.issuer,
    serialNumber: serialToColonHex(cert.serial),
    validity: { notBefore: cert.x509.validFrom, notAfter: cert.x509.validTo },
  };
}

/**
 * The fields of `clientCert` from the shared parser, or straight from Node for a certificate the handshake
 * accepted but plusgate's parser refuses (a zero or over-long serial, a PEM over 16 KB): API Gateway passes
 * those on too, and it is the handler's business to refuse them.
 */
function describedCertificate(pem: string): Pick<ClientCertificate, 'subject' | 'issuer' | 'serial' | 'x509'> {
  try {
    return parseCertificatePem(pem, 'client certificate');
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    const x509 = new X509Certificate(pem);
    return {
      subject: rfc2253(x509.subject),
      issuer: rfc2253(x509.issuer),
      serial: BigInt(`0x${x509.serialNumber}`).toString(10),
      x509,
    };
  }
}

/** `26/Nov/2026:17:00:00 +0000`: the access-log time format API Gateway uses for `requestTime`. */
export function requestTimeOf(now: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${two(now.getUTCDate())}/${MONTHS[now.getUTCMonth()]}/${now.getUTCFullYear()}:` +
    `${two(now.getUTCHours())}:${two(now.getUTCMinutes())}:${two(now.getUTCSeconds())} +0000`
  );
}

export { queryPairsOf };

function headerPairsOf(headers: RequestHeaders): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (isRawHeaders(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i] ?? '', headers[i + 1] ?? '']);
    return pairs;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of typeof value === 'string' ? [value] : value) pairs.push([name, one]);
  }
  return pairs;
}

function isRawHeaders(headers: RequestHeaders): headers is readonly string[] {
  return Array.isArray(headers);
}

/** API Gateway appends the caller's IP to X-Forwarded-For and sets port, scheme and a trace id. */
function withForwardingHeaders(pairs: Array<[string, string]>, input: ProxyEventInput): Array<[string, string]> {
  if (!input.forwarded) return pairs;
  const managed = new Set(['x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto', 'x-amzn-trace-id']);
  const priorFor = pairs.filter(([name]) => name.toLowerCase() === 'x-forwarded-for').map(([, value]) => value);
  const kept = pairs.filter(([name]) => !managed.has(name.toLowerCase()));
  return [
    ...kept,
    ['X-Amzn-Trace-Id', traceIdOf(input.now, input.requestId)],
    ['X-Forwarded-For', [...priorFor, input.sourceIp].join(', ')],
    ['X-Forwarded-Port', String(input.forwarded.port)],
    ['X-Forwarded-Proto', input.forwarded.proto],
  ];
}

interface Grouped {
  single: Record<string, string>;
  multi: Record<string, string[]>;
  count: number;
}

/**
 * `headers`/`queryStringParameters` keep the last value of a repeated name, the `multiValue…` maps keep
 * them all, in order. Header names are matched case-insensitively and keep the first spelling seen.
 */
function groupPairs(pairs: Array<[string, string]>, names: 'case-insensitive' | 'exact'): Grouped {
  const spelling = new Map<string, string>();
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [rawName, value] of pairs) {
    const id = names === 'exact' ? rawName : rawName.toLowerCase();
    let name = spelling.get(id);
    if (name === undefined) {
      name = rawName;
      spelling.set(id, name);
      multi[name] = [];
    }
    single[name] = value;
    const values = multi[name] ?? [];
    values.push(value);
    multi[name] = values;
  }
  return { single, multi, count: pairs.length };
}

function lastValue(multi: Record<string, string[]>, lowerName: string): string | undefined {
  const key = Object.keys(multi).find((name) => name.toLowerCase() === lowerName);
  return key === undefined ? undefined : multi[key]?.at(-1);
}

function bodyOf(bytes: Buffer): { text: string | null; base64: boolean } {
  if (bytes.length === 0) return { text: null, base64: false };
  try {
    return { text: utf8.decode(bytes), base64: false };
  } catch {
    return { text: bytes.toString('base64'), base64: true };
  }
}

/** Stable per resource, like the id API Gateway assigns each resource (6 lower-case alphanumerics). */
function resourceIdOf(resource: string): string {
  return base36(digest(`resource:${resource}`), 6);
}

/** Same shape as AWS's (16 base64 characters ending in `=`), derived from the request id. */
function extendedRequestIdOf(requestId: string): string {
  return digest(`extended:${requestId}`).subarray(0, 11).toString('base64');
}

/** X-Ray form `Root=1-<epoch seconds hex>-<24 hex>`. */
function traceIdOf(now: Date, requestId: string): string {
  const seconds = Math.floor(now.getTime() / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${seconds}-${digest(`trace:${requestId}`).toString('hex').slice(0, 24)}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function base36(bytes: Buffer, length: number): string {
  return BigInt(`0x${bytes.toString('hex')}`)
    .toString(36)
    .slice(0, length)
    .padStart(length, '0');
}
