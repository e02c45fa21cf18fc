/**
 * Reading an API Gateway REST proxy event. The client certificate is taken only from
 * `requestContext.identity.clientCert.clientCertPem`, which API Gateway fills after verifying the chain
 * against the truststore in the TLS handshake; its DN strings are display text and never used.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type ClientCertificate, parseCertificatePem } from '../domain/certificate';
import { InvalidInputError } from '../domain/errors';

/** The verified client certificate of the request, or undefined when none reached us. */
export function clientCertificateOf(event: APIGatewayProxyEvent): ClientCertificate | undefined {
  const pem = event.requestContext?.identity?.clientCert?.clientCertPem;
  if (!pem) return undefined;
  return parseCertificatePem(pem, 'client certificate');
}

/** A query parameter given at most once; a repeated one is refused rather than guessed at. */
export function singleQueryParameter(event: APIGatewayProxyEvent, name: string): string | undefined {
  const many = event.multiValueQueryStringParameters?.[name];
  if (many && many.length > 1)
    throw new InvalidInputError(`${name} is given ${many.length} times; give it once`, { field: name });
  return event.queryStringParameters?.[name] ?? undefined;
}

/** A header, case-insensitively. */
export function headerOf(event: APIGatewayProxyEvent, name: string): string | undefined {
  const headers = event.headers;
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  // The first match in the event's order, as always; no array per call, and only same-length names lowercased.
  for (const key in headers) {
    if (!Object.hasOwn(headers, key) || key.length !== wanted.length) continue;
    const value = headers[key];
    if (value !== undefined && key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** True when the caller asked for JSON rather than a page. */
export function wantsJson(event: APIGatewayProxyEvent): boolean {
  const accept = headerOf(event, 'accept')?.toLowerCase() ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

/** The caller's IP as API Gateway saw it. */
export function sourceIpOf(event: APIGatewayProxyEvent): string | undefined {
  return event.requestContext?.identity?.sourceIp || undefined;
}

/** The origin this request arrived on: the configured public origin, else the custom domain API Gateway reports. */
export function ownOriginOf(event: APIGatewayProxyEvent, configured?: string): string {
  if (configured) return configured;
  const domain = event.requestContext?.domainName;
  if (!domain) throw new InvalidInputError('request carries no domain name');
  return `https://${domain}`;
}

/**
 * Query pairs, form-decoded. API Gateway REST decodes `+` to a space and percent-escapes to characters
 * (aws/aws-cdk#19827 shows `?sort=-+createdAt` arriving as `"- createdAt"`). Empty segments (`a=1&&b=2`)
 * are skipped; a key without `=` gets the empty string; a malformed escape is kept as sent.
 */
export function queryPairsOf(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const segment of rawQuery.replace(/^\?/, '').split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    const key = formDecode(eq < 0 ? segment : segment.slice(0, eq));
    const value = eq < 0 ? '' : formDecode(segment.slice(eq + 1));
    pairs.push([key, value]);
  }
  return pairs;
}

function formDecode(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
