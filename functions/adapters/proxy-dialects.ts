/**
 * Forward-auth "dialects": how each reverse proxy hands plusgate the client certificate it verified and the
 * URL the browser asked for. The dialect in the route (`/auth/{dialect}`) alone decides which headers are
 * read, so a client cannot smuggle a certificate in another proxy's header: a request naming `traefik`
 * never looks at `X-Client-Cert`, and so on. Only the exact formats each proxy sends are accepted.
 *
 * | dialect | certificate | original URL |
 * |---|---|---|
 * | nginx | `X-Client-Cert`: URL-escaped PEM (`$ssl_client_escaped_cert`) | `X-Original-URL` |
 * | traefik | `X-Forwarded-Tls-Client-Cert`: base64 DER without PEM delimiters or newlines, certificates joined by `,`, leaf first (passTLSClientCert `pem: true`; up to v2.9 each was also query-escaped) | `https://` + `X-Forwarded-Host` + `X-Forwarded-Uri` |
 * | caddy | `X-Client-Cert`: base64 DER (`{http.request.tls.client.certificate_der_base64}`) | `https://` + `X-Forwarded-Host` + `X-Forwarded-Uri` |
 * | envoy | `x-forwarded-client-cert` (XFCC): one element whose `Cert="…"` is the URL-encoded PEM | `https://` + `X-Forwarded-Host` (else `Host`) + the path after `/auth/envoy/_` (or `/auth/envoy`; ext_authz appends the original path to its `path_prefix`) |
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { headerOf } from './api-gateway-request';

export const DIALECTS = ['nginx', 'traefik', 'caddy', 'envoy'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** The route prefix of forward-auth by dialect: `/auth/{dialect}` and `/auth/{dialect}/{path+}`. */
export const AUTH_ROUTE_PREFIX = '/auth';

/** What a proxy sent: the certificate (PEM), none, or something that is not one. */
export type ProxiedCertificate =
  | { readonly kind: 'pem'; readonly pem: string; readonly header: string }
  | { readonly kind: 'none'; readonly header: string }
  | { readonly kind: 'invalid'; readonly header: string; readonly reason: string };

export interface ProxiedRequest {
  readonly certificate: ProxiedCertificate;
  /** The URL the browser asked for, when the proxy said (absolute, or undefined). */
  readonly originalUrl?: string;
}

export function isDialect(value: unknown): value is Dialect {
  return typeof value === 'string' && (DIALECTS as readonly string[]).includes(value);
}

/** Reads the certificate and the original URL the way `dialect`'s proxy sends them, and nothing else. */
export function readProxiedRequest(dialect: Dialect, event: APIGatewayProxyEvent): ProxiedRequest {
  switch (dialect) {
    case 'nginx':
      return {
        certificate: fromEscapedPem(headerOf(event, 'X-Client-Cert'), 'X-Client-Cert'),
        ...optional(headerOf(event, 'X-Original-URL')),
      };
    case 'traefik':
      return {
        certificate: fromTraefik(headerOf(event, 'X-Forwarded-Tls-Client-Cert')),
        ...optional(forwardedUrl(event, headerOf(event, 'X-Forwarded-Uri'))),
      };
    case 'caddy':
      return {
        certificate: fromBase64Der(headerOf(event, 'X-Client-Cert'), 'X-Client-Cert'),
        ...optional(forwardedUrl(event, headerOf(event, 'X-Forwarded-Uri'))),
      };
    case 'envoy':
      return {
        certificate: fromXfcc(headerOf(event, 'x-forwarded-client-cert')),
        ...optional(envoyUrl(event)),
      };
  }
}

function optional(url: string | undefined): { originalUrl?: string } {
  return url ? { originalUrl: url } : {};
}

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';
/** Standard base64 (what Go's and Caddy's encoders write): no URL-safe alphabet, padding where due. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** A certificate header longer than this is not a certificate (browsers' client certificates are a few KB). */
const MAX_CERT_HEADER = 16 * 1024;

function absent(value: string | undefined): boolean {
  return value === undefined || value.trim() === '' || value === '-';
}

/** nginx: `$ssl_client_escaped_cert`, a URL-escaped PEM. */
function fromEscapedPem(value: string | undefined, header: string): ProxiedCertificate {
  if (absent(value)) return { kind: 'none', header };
  const raw = value as string;
  if (raw.length > MAX_CERT_HEADER) return invalid(header, 'is too long to be a certificate');
  try {
    return { kind: 'pem', pem: decodeURIComponent(raw.replace(/\+/g, '%2B')), header };
  } catch {
    return invalid(header, 'is not a URL-escaped PEM certificate');
  }
}

/** Caddy: one certificate, base64 DER. */
function fromBase64Der(value: string | undefined, header: string): ProxiedCertificate {
  if (absent(value)) return { kind: 'none', header };
  const raw = (value as string).trim();
  if (raw.length > MAX_CERT_HEADER) return invalid(header, 'is too long to be a certificate');
  if (!BASE64.test(raw)) return invalid(header, 'is not base64 (one DER certificate)');
  return { kind: 'pem', pem: pemOf(raw), header };
}

/** Traefik: base64 DER certificates joined by `,`, leaf first; Traefik v1 query-escaped the value. */
function fromTraefik(value: string | undefined): ProxiedCertificate {
  const header = 'X-Forwarded-Tls-Client-Cert';
  if (absent(value)) return { kind: 'none', header };
  let raw = (value as string).trim();
  if (raw.length > MAX_CERT_HEADER) return invalid(header, 'is too long to be a certificate chain');
  if (raw.includes('%')) {
    try {
      raw = decodeURIComponent(raw);
    } catch {
      return invalid(header, 'is not a base64 certificate list');
    }
  }
  const leaf = raw.split(',')[0]?.trim() ?? '';
  if (!BASE64.test(leaf)) return invalid(header, 'does not start with a base64 certificate');
  return { kind: 'pem', pem: pemOf(leaf), header };
}

/** Envoy's XFCC: exactly one element (one hop), its `Cert` the URL-encoded PEM of the client certificate. */
function fromXfcc(value: string | undefined): ProxiedCertificate {
  const header = 'x-forwarded-client-cert';
  if (absent(value)) return { kind: 'none', header };
  const raw = value as string;
  if (raw.length > MAX_CERT_HEADER) return invalid(header, 'is too long');
  const elements = splitOutsideQuotes(raw, ',');
  if (elements.length !== 1)
    return invalid(header, `has ${elements.length} elements; expected exactly one (the proxy's own client)`);
  let cert: string | undefined;
  for (const pair of splitOutsideQuotes(elements[0] ?? '', ';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) return invalid(header, 'has a field without a value');
    const key = pair.slice(0, eq).trim().toLowerCase();
    if (key !== 'cert') continue;
    if (cert !== undefined) return invalid(header, 'has more than one Cert');
    cert = unquote(pair.slice(eq + 1).trim());
  }
  if (cert === undefined || cert === '') return { kind: 'none', header };
  try {
    return { kind: 'pem', pem: decodeURIComponent(cert), header };
  } catch {
    return invalid(header, 'has a Cert that is not a URL-encoded PEM');
  }
}

function invalid(header: string, problem: string): ProxiedCertificate {
  return { kind: 'invalid', header, reason: `${header} ${problem}` };
}

function pemOf(base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `${PEM_BEGIN}\n${lines.join('\n')}\n${PEM_END}\n`;
}

/** Splits on `separator` outside double quotes (XFCC quotes values that contain `,` `;` or `=`). */
function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && quoted && i + 1 < value.length) {
      current += c + value[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  return value;
}

/**
 * `https://X-Forwarded-Host` + `uri`. Always https: these proxies terminate mutual TLS, and plusgate sends
 * people back only to https origins. (`X-Forwarded-Proto` cannot be used: API Gateway, like the local
 * gateway, replaces it with its own.)
 */
function forwardedUrl(event: APIGatewayProxyEvent, uri: string | undefined): string | undefined {
  return httpsUrl(headerOf(event, 'X-Forwarded-Host'), uri);
}

/**
 * Envoy: the host from `X-Forwarded-Host` when the example's Envoy sets it (a signing proxy in front of
 * plusgate rewrites `Host`), else `Host` (ext_authz sends the browser's authority); the path from the route
 * after `/auth/envoy`, and the query string.
 */
function envoyUrl(event: APIGatewayProxyEvent): string | undefined {
  const path = envoyPagePath(event.path ?? '');
  const query = Object.entries(event.multiValueQueryStringParameters ?? {})
    .flatMap(([name, values]) => (values ?? []).map((v) => `${encodeURIComponent(name)}=${encodeURIComponent(v)}`))
    .join('&');
  const host = headerOf(event, 'X-Forwarded-Host') ?? headerOf(event, 'Host');
  return httpsUrl(host, query ? `${path}?${query}` : path);
}

/**
 * The ext_authz `path_prefix` the Envoy example uses: `/auth/envoy/_`. The `_` keeps the site's root page
 * routable: `/` becomes `/auth/envoy/_/`, where a bare `/auth/envoy` prefix would give `/auth/envoy/`, which
 * no API Gateway resource matches (an empty `{path+}`). A bare prefix works for every other page.
 */
export const ENVOY_PATH_PREFIX = `${AUTH_ROUTE_PREFIX}/envoy/_`;

/** The page asked for, from the check request's path: what follows the prefix (`/` when nothing does). */
function envoyPagePath(path: string): string {
  for (const prefix of [ENVOY_PATH_PREFIX, `${AUTH_ROUTE_PREFIX}/envoy`]) {
    if (path === prefix) return '/';
    if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length);
  }
  return '/';
}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function httpsUrl(host: string | undefined, pathAndQuery: string | undefined): string | undefined {
  if (!host || !pathAndQuery?.startsWith('/')) return undefined;
  // A host name or address and an optional port: nothing that could move the URL elsewhere (userinfo, path).
  if (!HOST.test(host.trim())) return undefined;
  try {
    return new URL(`https://${host.trim()}${pathAndQuery}`).href;
  } catch {
    return undefined;
  }
}
