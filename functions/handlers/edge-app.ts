/**
 * The edge (mutual TLS) routes: the Identity Plus work-flow for browsers. Case 1 sign in, Case 2 send to
 * Identity Plus to validate and come back to /return, Case 3 deny. No middleware and no environment
 * here: `edge.ts` composes this with secrets, logging and config, and tests call it with doubles.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { EDGE_ROUTES } from '../config/names';
import type { AuthenticationResult, Authenticator } from '../domain/authenticate';
import type { ClientCertificate } from '../domain/certificate';
import type { DecisionReason } from '../domain/decision';
import type { IntentPort } from '../domain/identity-plus';
import { resolveReturnDestination } from '../domain/return-destination';
import { type UsedStatesPort, signState, verifyState } from '../domain/state-token';
import {
  clientCertificateOf,
  ownOriginOf,
  singleQueryParameter,
  sourceIpOf,
  wantsJson,
} from '../adapters/api-gateway-request';
import {
  RETRY_AFTER_SECONDS,
  errorResponse,
  htmlResponse,
  jsonResponse,
  redirectResponse,
} from '../http/http-responses';
import { GET_CERTIFICATE_URL, NO_CERTIFICATE_MESSAGE, noCertificatePage } from '../http/pages';
import { identityJson } from '../http/identity-json';
import { type DecisionLog, logDecision } from '../http/decision-log';

export interface EdgeDeps {
  readonly authenticator: Authenticator;
  readonly intents: IntentPort;
  readonly stateKey: Buffer;
  /** Where used state tokens are claimed (the ledger table, shared by every container). */
  readonly usedStates: UsedStatesPort;
  readonly allowedReturnOrigins: readonly string[];
  /** Public origin (https://auth.example.com); default: the custom domain in the request context. */
  readonly publicOrigin?: string;
  /** Where the page for visitors without a certificate sends them to get one. @default https://identity.plus */
  readonly noCertificateHelpUrl?: string;
  /** Replaces that page's explanation (plain text, escaped). @default plusgate's own words */
  readonly noCertificateHelpText?: string;
  readonly now: () => number;
  readonly log?: DecisionLog;
}

type Route = (event: APIGatewayProxyEvent, cert: ClientCertificate) => Promise<APIGatewayProxyResult>;

/** Builds the edge handler: one function serving /signin, /return and /whoami. */
export function createEdgeHandler(deps: EdgeDeps): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const routes: Record<string, Route> = {
    [EDGE_ROUTES.SIGNIN]: (event, cert) => signin(deps, event, cert),
    [EDGE_ROUTES.RETURN]: (event, cert) => validationReturn(deps, event, cert),
    [EDGE_ROUTES.WHOAMI]: (event, cert) => whoami(deps, event, cert),
  };
  return async (event) => {
    const json = wantsJson(event);
    try {
      const route = routes[event.resource ?? event.path];
      if (!route) {
        return json
          ? jsonResponse(404, { message: `no route for ${event.httpMethod} ${event.path}` })
          : htmlResponse(404, { title: 'Not found', paragraphs: [`There is nothing at ${event.path}.`] });
      }
      // Only GET: a HEAD (link previews; the CloudFront edge lets GET and HEAD through) must not create an
      // intent or use up a validation state, so it is told which method to use instead.
      if (event.httpMethod !== 'GET') {
        const message = `${event.httpMethod.slice(0, 20)} is not supported on ${event.path}: use GET`;
        return json
          ? jsonResponse(405, { message }, { Allow: 'GET' })
          : htmlResponse(405, { title: 'Method not allowed', paragraphs: [`${message}.`] }, { Allow: 'GET' });
      }
      const cert = clientCertificateOf(event);
      if (!cert) return noCertificate(deps, event);
      return await route(event, cert);
    } catch (err) {
      const response = errorResponse(err, json);
      if (response.statusCode >= 500) deps.log?.failure(`${event.resource ?? event.path} failed`, err);
      return response;
    }
  };
}

async function signin(
  deps: EdgeDeps,
  event: APIGatewayProxyEvent,
  cert: ClientCertificate,
): Promise<APIGatewayProxyResult> {
  const ownOrigin = ownOriginOf(event, deps.publicOrigin);
  const destination = resolveReturnDestination(
    singleQueryParameter(event, 'return'),
    ownOrigin,
    deps.allowedReturnOrigins,
  );
  const result = await deps.authenticator.authenticate(cert.serial, { ip: sourceIpOf(event) });
  logDecision(deps.log, EDGE_ROUTES.SIGNIN, cert.serial, result);

  switch (result.decision) {
    case 'allow':
      return destination ? redirectResponse(destination) : signedIn(event, cert, result);
    case 'validate': {
      const state = signState({ serial: cert.serial, destination: destination ?? '' }, deps.stateKey, deps.now());
      const intent = await deps.intents.createIntent({
        returnUrl: `${ownOrigin}${EDGE_ROUTES.RETURN}?state=${encodeURIComponent(state)}`,
        serial: cert.serial,
      });
      return redirectResponse(intent.signonUrl);
    }
    case 'deny':
      return denied(event, result.reason, result);
    case 'error':
      return unavailable(event, result);
  }
}

async function validationReturn(
  deps: EdgeDeps,
  event: APIGatewayProxyEvent,
  cert: ClientCertificate,
): Promise<APIGatewayProxyResult> {
  const ownOrigin = ownOriginOf(event, deps.publicOrigin);
  const state = verifyState(singleQueryParameter(event, 'state'), deps.stateKey, {
    serial: cert.serial,
    now: deps.now(),
  });
  // Checked again: the allow-list may have changed since the state was signed.
  const destination = resolveReturnDestination(state.destination, ownOrigin, deps.allowedReturnOrigins);
  // Single use, in every container: the first use claims the token's id before anything is asked or answered.
  if (!(await deps.usedStates.claimState(state.id, state.expiresAt))) return alreadyUsed(event, destination);
  const result = await deps.authenticator.authenticate(cert.serial, { bypassCache: true, ip: sourceIpOf(event) });
  logDecision(deps.log, EDGE_ROUTES.RETURN, cert.serial, result);

  switch (result.decision) {
    case 'allow':
      // A redirect either way, so the used token does not stay in the address bar (or the history).
      return redirectResponse(destination ?? `${ownOrigin}${EDGE_ROUTES.SIGNIN}`);
    case 'validate': {
      // Never redirect again on our own: that is how sign-in loops start. Offer a link instead.
      const retry = `${EDGE_ROUTES.SIGNIN}${destination ? `?return=${encodeURIComponent(destination)}` : ''}`;
      const message = 'Identity Plus has not confirmed this device yet, so you are not signed in.';
      if (wantsJson(event))
        return jsonResponse(409, { message, decision: result.decision, reason: result.reason, retry });
      return htmlResponse(409, {
        title: 'Validation not completed',
        paragraphs: [message, 'Finish the validation at Identity Plus, then try again.'],
        links: [{ href: retry, text: 'Try signing in again' }],
      });
    }
    case 'deny':
      return denied(event, result.reason, result);
    case 'error':
      return unavailable(event, result);
  }
}

/** A `/return` link used a second time: 400 and a way to start again. */
function alreadyUsed(event: APIGatewayProxyEvent, destination: string | undefined): APIGatewayProxyResult {
  const retry = `${EDGE_ROUTES.SIGNIN}${destination ? `?return=${encodeURIComponent(destination)}` : ''}`;
  const message = 'This sign-in link was already used; each one works once.';
  if (wantsJson(event)) return jsonResponse(400, { message, retry });
  return htmlResponse(400, {
    title: 'Sign-in link already used',
    paragraphs: [message, 'Start signing in again to get a fresh one.'],
    links: [{ href: retry, text: 'Sign in again' }],
  });
}

async function whoami(
  deps: EdgeDeps,
  event: APIGatewayProxyEvent,
  cert: ClientCertificate,
): Promise<APIGatewayProxyResult> {
  const result = await deps.authenticator.authenticate(cert.serial, { ip: sourceIpOf(event) });
  logDecision(deps.log, EDGE_ROUTES.WHOAMI, cert.serial, result);
  const retry: Record<string, string> =
    result.decision === 'error' ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
  return jsonResponse(result.decision === 'error' ? 503 : 200, identityJson(cert, result), retry);
}

function signedIn(
  event: APIGatewayProxyEvent,
  cert: ClientCertificate,
  result: AuthenticationResult,
): APIGatewayProxyResult {
  if (wantsJson(event)) return jsonResponse(200, identityJson(cert, result));
  const who = result.user?.name ?? result.user?.localUserId ?? result.user?.id ?? 'you';
  return htmlResponse(200, {
    title: 'Signed in',
    paragraphs: [
      `Welcome, ${who}. Identity Plus confirmed this device's certificate.`,
      ...(result.degraded
        ? ['Identity Plus could not be reached just now; this sign-in relies on a confirmation from a few minutes ago.']
        : []),
      'You stay signed in while this browser presents this certificate. To sign out, close the browser or remove the certificate from it.',
    ],
    facts: [
      ['Name', result.user?.name ?? 'not shared by Identity Plus'],
      ...(result.user?.email ? ([['Email', result.user.email]] as Array<[string, string]>) : []),
      ['Roles', result.roles.length ? result.roles.join(', ') : 'none'],
      ['Device', `${cert.commonName ?? 'unnamed device'}${cert.deviceType ? ` (${cert.deviceType})` : ''}`],
      ['Certificate valid until', cert.notAfter.toISOString().slice(0, 10)],
      ['Account ID', result.user?.id ?? ''],
      ['Certificate serial', cert.serial],
    ],
    links: [{ href: EDGE_ROUTES.WHOAMI, text: 'This identity as JSON' }],
  });
}

const DENY_TEXT: Partial<Record<DecisionReason, string>> = {
  'no-certificate': 'No device certificate reached plusgate.',
  revoked: 'This device certificate has been revoked at Identity Plus.',
  intruder: 'Identity Plus reports this certificate as an intruder.',
  'unknown-certificate': 'Identity Plus does not know this device certificate.',
  'crypto-failure': 'Identity Plus could not verify this certificate cryptographically.',
  'authorization-expired': 'The authorization of this certificate has expired at Identity Plus.',
  'no-role': 'Your Identity Plus identity holds no role that grants access to this service.',
};

const DENY_ADVICE: Partial<Record<DecisionReason, string>> = {
  'no-role': 'Ask the service owner to grant your identity a role, then sign in again.',
  revoked:
    'Remove this certificate from your browser and restart the browser (it remembers the certificate it chose), then install a new one from Identity Plus.',
  intruder: 'If this is your device, contact Identity Plus; otherwise remove this certificate from the browser.',
  'unknown-certificate':
    'Install a certificate from Identity Plus in this browser; if you just did, restart the browser so it offers the new one.',
};

function denied(
  event: APIGatewayProxyEvent,
  reason: DecisionReason,
  result: AuthenticationResult | undefined,
): APIGatewayProxyResult {
  const message = DENY_TEXT[reason] ?? 'Access is denied.';
  if (wantsJson(event))
    return jsonResponse(403, { message, decision: 'deny', reason, outcome: result?.outcome ?? null });
  return htmlResponse(403, {
    title: 'Access denied',
    paragraphs: [
      message,
      DENY_ADVICE[reason] ?? 'You need a valid Identity Plus device certificate installed in this browser.',
    ],
    links: [{ href: GET_CERTIFICATE_URL, text: 'Get an Identity Plus certificate' }],
  });
}

/**
 * No certificate reached plusgate (CloudFront's optional mutual TLS; API Gateway refuses such a visitor in the
 * handshake): the landing page (200), or 401 JSON. Nothing is asked, claimed or recorded.
 */
function noCertificate(deps: EdgeDeps, event: APIGatewayProxyEvent): APIGatewayProxyResult {
  const help = deps.noCertificateHelpUrl ?? GET_CERTIFICATE_URL;
  if (wantsJson(event))
    return jsonResponse(401, { decision: 'deny', reason: 'no-certificate', message: NO_CERTIFICATE_MESSAGE, help });
  return htmlResponse(
    200,
    noCertificatePage({ helpUrl: help, helpText: deps.noCertificateHelpText, retryHref: retryOf(deps, event) }),
  );
}

/**
 * "Try again": the same route; for /signin with its `return` when the allow-list accepts it (else without),
 * for /return a fresh /signin (its state is bound to a certificate this request did not show).
 */
function retryOf(deps: EdgeDeps, event: APIGatewayProxyEvent): string {
  const route = event.resource ?? event.path;
  if (route !== EDGE_ROUTES.SIGNIN) return route === EDGE_ROUTES.RETURN ? EDGE_ROUTES.SIGNIN : route;
  try {
    const destination = resolveReturnDestination(
      singleQueryParameter(event, 'return'),
      ownOriginOf(event, deps.publicOrigin),
      deps.allowedReturnOrigins,
    );
    return destination ? `${route}?return=${encodeURIComponent(destination)}` : route;
  } catch {
    return route;
  }
}

function unavailable(event: APIGatewayProxyEvent, result: AuthenticationResult): APIGatewayProxyResult {
  const headers = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
  const message =
    result.reason === 'identity-plus-unavailable'
      ? 'Identity Plus could not be reached to check this certificate. Please try again shortly.'
      : 'Identity Plus could not answer for this certificate. Please try again shortly.';
  if (wantsJson(event)) return jsonResponse(503, { message, decision: 'error', reason: result.reason }, headers);
  return htmlResponse(503, { title: 'Temporarily unavailable', paragraphs: [message] }, headers);
}
