/**
 * The service API's verify routes, for other services (IAM-authorised in AWS):
 * - `POST /verify`: JSON in, the decision JSON out;
 * - `GET /verify`: forward-auth for reverse proxies (nginx `auth_request`, Traefik `forwardAuth`, Envoy
 *   `ext_authz`): the certificate arrives URL-escaped in `X-Client-Cert`; the answer is only ever
 *   200 / 401 / 403 / 503, because nginx turns any other status into a 500. An allow Identity Plus has just
 *   confirmed may be kept by the proxy for `decisionCacheSeconds` (`max-age`); every other answer is `no-store`.
 * Same decision, cache and billing records as the browser flow.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { isIP } from 'node:net';
import { AUTH_ROUTES, EDGE_ROUTES, SERVICE_ROUTES } from '../config/names';
import type { AuthenticationResult, Authenticator } from '../domain/authenticate';
import { type ClientCertificate, parseCertificatePem } from '../domain/certificate';
import type { Truststore } from '../domain/certificate-chain';
import { InvalidInputError } from '../domain/errors';
import { resolveReturnDestination } from '../domain/return-destination';
import { signState } from '../domain/state-token';
import type { IntentPort } from '../domain/identity-plus';
import { wantsJson } from '../adapters/api-gateway-request';
import { DIALECTS, type Dialect, isDialect, readProxiedRequest } from '../adapters/proxy-dialects';
import { type DecisionLog, logDecision } from '../http/decision-log';
import {
  RETRY_AFTER_SECONDS,
  describeError,
  errorResponse,
  htmlResponse,
  jsonResponse,
  redirectResponse,
} from '../http/http-responses';
import { GET_CERTIFICATE_URL } from '../http/pages';
import { type DeviceFacts, identityJson } from '../http/identity-json';
import { MAX_JSON_BODY_BYTES, certificateOrSerial, readJsonObject } from '../http/json-body';

/** Largest POST /verify body accepted. */
export const MAX_VERIFY_BODY_BYTES = MAX_JSON_BODY_BYTES;

export interface VerifyDeps {
  readonly authenticator: Authenticator;
  readonly intents: IntentPort;
  readonly stateKey: Buffer;
  /** The CAs a submitted certificate must chain to (the same as the edge API's mTLS truststore). */
  readonly truststore: Truststore;
  /** Public origin of the edge API, where a validation round trip comes back to. */
  readonly edgeOrigin: string;
  /** Origins /signin may send people back to (forward-auth's sign-in link is built only for those). */
  readonly allowedReturnOrigins: readonly string[];
  /**
   * `decisionCacheSeconds`: the longest a proxy may keep a forward-auth allow (`max-age`), so a revocation
   * is still seen within that time. 0: every answer is `no-store`.
   */
  readonly decisionCacheSeconds: number;
  readonly now: () => number;
  readonly log?: DecisionLog;
}

const POST_FIELDS = new Set(['certificate', 'serial', 'ip', 'validationUrl']);

/** Builds the verify handler (POST and GET on /verify). */
export function createVerifyHandler(deps: VerifyDeps): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => {
    const resource = event.resource ?? event.path;
    if (resource === AUTH_ROUTES.DIALECT || resource === AUTH_ROUTES.DIALECT_PATH) {
      // Any method, body ignored: the proxy forwards the browser's method (Envoy) or sends GET (the others).
      const dialect = event.pathParameters?.dialect;
      if (!isDialect(dialect))
        return jsonResponse(404, {
          message: `no forward-auth dialect ${JSON.stringify(String(dialect ?? '')).slice(0, 60)}; use one of ${DIALECTS.join(', ')}`,
        });
      return forwardAuth(deps, event, dialect);
    }
    if (resource !== SERVICE_ROUTES.VERIFY) return jsonResponse(404, { message: `no route for ${event.path}` });
    if (event.httpMethod === 'POST') return verifyPost(deps, event);
    if (event.httpMethod === 'GET') return forwardAuth(deps, event, 'nginx');
    return jsonResponse(
      405,
      { message: `${event.httpMethod} is not supported on /verify: use POST (JSON) or GET (forward-auth)` },
      { Allow: 'GET, POST' },
    );
  };
}

async function verifyPost(deps: VerifyDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  try {
    const request = parseVerifyBody(event);
    const device = request.certificate
      ? checkedCertificate(deps, request.certificate, 'certificate')
      : { serial: request.serial as string };
    const result = await deps.authenticator.authenticate(device.serial, request.ip ? { ip: request.ip } : {});
    logDecision(deps.log, `POST ${SERVICE_ROUTES.VERIFY}`, device.serial, result);

    const body: Record<string, unknown> = identityJson(deviceFacts(device), result);
    if (result.decision === 'validate' && request.validationUrl)
      body.validationUrl = await validationUrl(deps, device.serial);
    if (result.decision === 'error') return jsonResponse(503, body, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
    return jsonResponse(200, body);
  } catch (err) {
    if (describeError(err).statusCode >= 500) deps.log?.failure(`POST ${SERVICE_ROUTES.VERIFY} failed`, err);
    return errorResponse(err, true);
  }
}

/**
 * Forward-auth for `dialect`'s proxy. nginx (`GET /verify`, `/auth/nginx`) gets 200/401/403/503 only, as
 * `auth_request` needs; Traefik, Caddy and Envoy pass a non-2xx answer to the browser as it is, so they get
 * a 302 to plusgate's sign-in where nginx gets a 401, and a small page with a 403 or 503.
 */
async function forwardAuth(
  deps: VerifyDeps,
  event: APIGatewayProxyEvent,
  dialect: Dialect,
): Promise<APIGatewayProxyResult> {
  const request = readProxiedRequest(dialect, event);
  const answer = dialect === 'nginx' ? statusAnswer : pageAnswer(event);
  const vary = request.certificate.header;
  // Only the sign-in answers carry it: worked out when one is given, not on every allow.
  const signin = () => signinUrl(deps, request.originalUrl);
  const route = `${event.httpMethod} ${event.resource ?? event.path}`;
  if (request.certificate.kind === 'none') {
    return answer.signin(signin(), 'deny', 'no-certificate', `no client certificate in ${vary}`, vary);
  }
  let cert: ClientCertificate;
  try {
    if (request.certificate.kind === 'invalid') throw new InvalidInputError(request.certificate.reason);
    cert = checkedCertificate(deps, request.certificate.pem, vary);
  } catch (err) {
    // A certificate we cannot accept is a denial, explained in the body.
    const message = err instanceof InvalidInputError ? err.message : 'the client certificate could not be read';
    return answer.final(403, 'deny', 'invalid-certificate', message, vary);
  }
  try {
    const result = await deps.authenticator.authenticate(cert.serial);
    logDecision(deps.log, route, cert.serial, result);
    switch (result.decision) {
      case 'allow':
        return forwardAuthAnswer(200, 'allow', result.reason, 'allowed', vary, {
          ...identityHeaders(cert, result),
          ...allowCaching(deps, result),
        });
      case 'validate':
        return answer.signin(signin(), 'validate', result.reason, 'validate at Identity Plus, then come back', vary);
      case 'deny':
        return answer.final(403, 'deny', result.reason, 'denied', vary);
      case 'error':
        return answer.final(503, 'error', result.reason, 'Identity Plus could not be asked; try again shortly', vary);
    }
  } catch (err) {
    deps.log?.failure(`${route} failed`, err);
    // A proxy passes on only 503 here: it always carries Retry-After, whatever failed.
    return answer.final(503, 'error', 'unavailable', describeError(err).message, vary);
  }
}

/** How one dialect answers the two kinds of non-allow: go and sign in, or a final status. */
interface DialectAnswers {
  signin(url: string, decision: string, reason: string, message: string, vary: string): APIGatewayProxyResult;
  final(statusCode: 403 | 503, decision: string, reason: string, message: string, vary: string): APIGatewayProxyResult;
}

/** nginx `auth_request`: only 200/401/403/503; the sign-in URL travels in `X-Plusgate-Signin`. */
const statusAnswer: DialectAnswers = {
  signin: (url, decision, reason, message, vary) =>
    forwardAuthAnswer(401, decision, reason, `${message}: send the browser to X-Plusgate-Signin`, vary, {
      'X-Plusgate-Signin': url,
    }),
  final: (statusCode, decision, reason, message, vary) =>
    forwardAuthAnswer(statusCode, decision, reason, message, vary, retryAfter(statusCode)),
};

/** Traefik, Caddy, Envoy: the answer reaches the browser as it is, so a redirect or a page. */
function pageAnswer(event: APIGatewayProxyEvent): DialectAnswers {
  return {
    signin: (url, decision, reason, _message, vary) => ({
      ...redirectResponse(url),
      headers: { ...redirectResponse(url).headers, ...decisionHeaders(decision, reason, vary) },
    }),
    final: (statusCode, decision, reason, message, vary) => {
      const headers = { ...decisionHeaders(decision, reason, vary), ...retryAfter(statusCode) };
      if (wantsJson(event)) return jsonResponse(statusCode, { decision, reason, message }, headers);
      return htmlResponse(
        statusCode,
        statusCode === 403
          ? {
              title: 'Access denied',
              paragraphs: [`Your device certificate was not accepted (${reason}).`],
              links: [{ href: GET_CERTIFICATE_URL, text: 'About Identity Plus certificates' }],
            }
          : { title: 'Temporarily unavailable', paragraphs: ['Please try again in a moment.'] },
        headers,
      );
    },
  };
}

function retryAfter(statusCode: number): Record<string, string> {
  return statusCode === 503 ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
}

function decisionHeaders(decision: string, reason: string, vary: string): Record<string, string> {
  return { 'X-Plusgate-Decision': decision, 'X-Plusgate-Reason': reason, Vary: vary };
}

interface VerifyRequest {
  readonly certificate?: string;
  readonly serial?: string;
  readonly ip?: string;
  readonly validationUrl: boolean;
}

/** Validates the POST body; every problem is a 4xx naming the field. */
export function parseVerifyBody(event: APIGatewayProxyEvent): VerifyRequest {
  const fields = readJsonObject(event, POST_FIELDS, '{"certificate": "<PEM>"} or {"serial": "<serial>"}');
  const device = certificateOrSerial(fields);
  if (fields.ip !== undefined && (typeof fields.ip !== 'string' || isIP(fields.ip) === 0)) {
    throw new InvalidInputError('ip must be an IPv4 or IPv6 address', { field: 'ip' });
  }
  if (fields.validationUrl !== undefined && typeof fields.validationUrl !== 'boolean') {
    throw new InvalidInputError('validationUrl must be true or false', { field: 'validationUrl' });
  }
  return { ...device, ip: fields.ip as string | undefined, validationUrl: fields.validationUrl === true };
}

/**
 * Where a proxy sends the browser on 401: plusgate's /signin, with `return` set to the URL the browser
 * asked for, escaped here (nginx cannot escape it) and only when it is on an allowed return origin.
 */
export function signinUrl(
  deps: Pick<VerifyDeps, 'edgeOrigin' | 'allowedReturnOrigins'>,
  original: string | undefined,
): string {
  const base = `${deps.edgeOrigin}${EDGE_ROUTES.SIGNIN}`;
  try {
    const destination = resolveReturnDestination(original, deps.edgeOrigin, deps.allowedReturnOrigins);
    return destination ? `${base}?return=${encodeURIComponent(destination)}` : base;
  } catch {
    return base; // not an allowed destination: sign in, then stay on plusgate's page
  }
}

function checkedCertificate(deps: VerifyDeps, pem: string, field: string): ClientCertificate {
  const cert = parseCertificatePem(pem, field);
  deps.truststore.verify(cert, new Date(deps.now()), field);
  return cert;
}

function deviceFacts(device: ClientCertificate | { serial: string }): DeviceFacts {
  if (!('x509' in device)) return { serial: device.serial };
  return { serial: device.serial, subject: device.subject, deviceType: device.deviceType, notAfter: device.notAfter };
}

/** A sign-on URL for the person to validate at Identity Plus; valid ~30 s (intents expire quickly). */
async function validationUrl(deps: VerifyDeps, serial: string): Promise<string> {
  const state = signState({ serial, destination: '' }, deps.stateKey, deps.now());
  const intent = await deps.intents.createIntent({
    returnUrl: `${deps.edgeOrigin}${EDGE_ROUTES.RETURN}?state=${encodeURIComponent(state)}`,
    serial,
  });
  return intent.signonUrl;
}

function identityHeaders(cert: ClientCertificate, result: AuthenticationResult): Record<string, string> {
  return {
    'X-Plusgate-User': headerSafe(result.user?.id ?? `serial:${cert.serial}`),
    'X-Plusgate-Roles': result.roles.map((r) => headerSafe(r).replace(/,/g, '%2C')).join(','),
    'X-Plusgate-Serial': cert.serial,
  };
}

/**
 * How long a proxy may keep this allow. Only an allow Identity Plus has just confirmed: it lives in
 * plusgate's decision cache for exactly `decisionCacheSeconds` from now, so a proxy keeping it as long sees
 * a revocation no later than plusgate does. An allow from the cache has an unknown part of that life left
 * (the result does not say when it was stored), and a degraded (stale-if-error) allow must not outlive the
 * outage: both stay `no-store`, as every other answer.
 * `max-age` without `private`: the cache meant here is the proxy's, which is a shared cache (nginx stores
 * nothing marked `private`); `Vary` (on every forward-auth answer) tells any cache the answer depends on
 * the certificate header, and the example's nginx key is the certificate's fingerprint.
 */
function allowCaching(
  deps: Pick<VerifyDeps, 'decisionCacheSeconds'>,
  result: AuthenticationResult,
): Record<string, string> {
  const seconds = Math.floor(Math.max(0, deps.decisionCacheSeconds));
  if (result.cached || result.degraded || seconds === 0) return {};
  return { 'Cache-Control': `max-age=${seconds}` };
}

function forwardAuthAnswer(
  statusCode: number,
  decision: string,
  reason: string,
  message: string,
  vary: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return jsonResponse(
    statusCode,
    { decision, reason, message },
    { ...decisionHeaders(decision, reason, vary), ...headers },
  );
}

/** Header values must be visible ASCII: percent-encode anything else (and % itself). */
function headerSafe(value: string): string {
  // Per code point (`u`), so a character outside the BMP is one UTF-8 sequence; a lone surrogate (which
  // encodeURIComponent refuses) becomes U+FFFD, as a UTF-8 encoder writes it.
  return value.replace(/[^\x20-\x7e]|%/gu, (c) => (/^[\ud800-\udfff]$/u.test(c) ? '%EF%BF%BD' : encodeURIComponent(c)));
}
