/**
 * Builds the Lambda function URL event (payload format 2.0) for one HTTP request as it reaches the function
 * URL, field by field as Lambda fills it. Pure: time and ids come in as input, so the local CloudFront
 * stand-in (local/cloudfront-viewer.ts) and the unit tests get the same event for the same request.
 *
 * Sources: Lambda "Invoking Lambda function URLs" (request payload) and API Gateway's payload 2.0 notes,
 * which function URLs follow: header names lower-cased, repeated headers joined with commas, repeated query
 * parameters joined with commas, every Cookie header split into `cookies` (and not in `headers`).
 * Choices where the sources say nothing (each stated where it is made):
 * - `rawPath`, `requestContext.http.path` and `rawQueryString` are the request's own bytes, not decoded;
 * - `queryStringParameters` values are percent-decoded, `+` kept as it is (unverified against AWS; plusgate's
 *   adapter reads `rawQueryString`, never this map);
 * - the body is text when its Content-Type is textual and its bytes are UTF-8, else base64 with
 *   `isBase64Encoded` ("If the content type of the request is binary, the body is base64-encoded").
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { requestTimeOf, type RequestHeaders } from './api-gateway-event';

/** What {@link buildFunctionUrlEvent} needs to know about one request. */
export interface FunctionUrlEventInput {
  readonly method: string;
  /** URL path without the query, exactly as received (e.g. `/signin`). */
  readonly rawPath: string;
  /** Query string without the `?`, exactly as received; empty when there is none. */
  readonly rawQuery: string;
  /** The headers that reach the function URL (after CloudFront): Node's `rawHeaders` or a record. */
  readonly headers: RequestHeaders;
  readonly body: Buffer;
  /** The immediate TCP peer of the function URL (behind CloudFront: a CloudFront address). */
  readonly sourceIp: string;
  readonly now: Date;
  readonly requestId: string;
  /** The URL id, the first label of `<url-id>.lambda-url.<region>.on.aws`. @default LOCAL_FUNCTION_URL_ID */
  readonly urlId?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
}

/** Default URL id of local events: 32 lower-case alphanumerics, like a real one. */
export const LOCAL_FUNCTION_URL_ID = 'plusgatelocal0edge0function0url0';

const TEXT_TYPES = [
  /^text\//,
  /^application\/(json|javascript|xml|x-www-form-urlencoded|graphql)\b/,
  /^application\/[^;]*\+(json|xml)\b/,
];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The host name of a function URL: `<url-id>.lambda-url.<region>.on.aws`. */
export function functionUrlDomain(urlId = LOCAL_FUNCTION_URL_ID, region = 'us-east-1'): string {
  return `${urlId}.lambda-url.${region}.on.aws`;
}

/** The function URL event Lambda would hand the function for this request. */
export function buildFunctionUrlEvent(input: FunctionUrlEventInput): LambdaFunctionURLEvent {
  const urlId = input.urlId ?? LOCAL_FUNCTION_URL_ID;
  const pairs = headerPairsOf(input.headers);
  const cookies = pairs
    .filter(([name]) => name === 'cookie')
    .flatMap(([, value]) => value.split(';'))
    .map((cookie) => cookie.trim())
    .filter((cookie) => cookie !== '');
  const headers = joined(pairs.filter(([name]) => name !== 'cookie'));
  const query = joined(functionUrlQueryPairs(input.rawQuery));
  const body = bodyOf(input.body, headers['content-type']);

  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: input.rawPath,
    rawQueryString: input.rawQuery,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      // What a function URL reports when no IAM caller is named (behind CloudFront's OAC, AWS documents none).
      accountId: 'anonymous',
      apiId: urlId,
      domainName: functionUrlDomain(urlId, input.region),
      domainPrefix: urlId,
      http: {
        method: input.method,
        path: input.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: input.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: input.requestId,
      routeKey: '$default',
      stage: '$default',
      time: requestTimeOf(input.now),
      timeEpoch: input.now.getTime(),
    },
    ...(body ? { body: body.text } : {}),
    isBase64Encoded: body?.base64 ?? false,
  };
}

/**
 * Query pairs, percent-decoded (`+` left alone: see the file comment). Empty segments are skipped, a key
 * without `=` gets the empty string, a malformed escape is kept as sent.
 */
export function functionUrlQueryPairs(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const segment of rawQuery.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    pairs.push(
      eq < 0
        ? [percentDecode(segment), '']
        : [percentDecode(segment.slice(0, eq)), percentDecode(segment.slice(eq + 1))],
    );
  }
  return pairs;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Names lower-cased, in the order first seen; a repeated name's values joined with `,`. */
function joined(pairs: ReadonlyArray<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) out[name] = name in out ? `${out[name]},${value}` : value;
  return out;
}

function headerPairsOf(headers: RequestHeaders): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (Array.isArray(headers)) {
    const raw = headers as readonly string[];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([(raw[i] ?? '').toLowerCase(), raw[i + 1] ?? '']);
    return pairs;
  }
  for (const [name, value] of Object.entries(
    headers as Readonly<Record<string, string | readonly string[] | undefined>>,
  )) {
    if (value === undefined) continue;
    for (const one of typeof value === 'string' ? [value] : value) pairs.push([name.toLowerCase(), one]);
  }
  return pairs;
}

function bodyOf(bytes: Buffer, contentType: string | undefined): { text: string; base64: boolean } | undefined {
  if (bytes.length === 0) return undefined;
  const type = (contentType ?? '').trim().toLowerCase();
  if (TEXT_TYPES.some((pattern) => pattern.test(type))) {
    try {
      return { text: utf8.decode(bytes), base64: false };
    } catch {
      /* not UTF-8: binary after all */
    }
  }
  return { text: bytes.toString('base64'), base64: true };
}
