/**
 * The simulator's browser sign-on page, `GET /<intent-reference>`: it uses the intent up, recognises the
 * device by the browser's own client certificate (an intent carries no serial), validates a certificate
 * that needs it and sends the browser back to the intent's return URL. An intent made with
 * `"strict-massl": false` adds `identity-plus-intent=<reference>` to that URL's query, as the WordPress plugin
 * reads it on return (IdentityPlus/Integration-WordPress @ 81ab8366, lib/initialize.php); with strict mutual
 * TLS (the default) nothing is added.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { peerSerial, sendPage } from './simulator-http';
import {
  EXPIRED_INTENT_PAGE,
  REFUSED_IDENTITY_PAGE,
  type SimulatorPage,
  UNKNOWN_INTENT_PAGE,
  USED_INTENT_PAGE,
} from './simulator-pages';
import type { IntentClaim, SimulatorState } from './simulator-state';
import { SIMULATOR_OUTCOMES, isOkOutcome, needsValidation } from './simulator-wire';

/** The path of a sign-on page: `/<reference>`. */
export const INTENT_REFERENCE = /^\/([A-Za-z0-9_-]{8,128})$/;

/** The page a sign-on visit gets when its intent cannot be used. */
const INTENT_PAGES: Readonly<Record<Exclude<IntentClaim['status'], 'claimed'>, SimulatorPage>> = {
  unknown: UNKNOWN_INTENT_PAGE,
  used: USED_INTENT_PAGE,
  expired: EXPIRED_INTENT_PAGE,
};

/** Answers one visit to the sign-on page of `reference`. */
export function serveSignon(state: SimulatorState, req: IncomingMessage, res: ServerResponse, reference: string): void {
  state.count('signons');
  const claim = state.claimIntent(reference);
  if (claim.status !== 'claimed') {
    sendPage(res, INTENT_PAGES[claim.status]);
    return;
  }

  const serial = peerSerial(req);
  const identity = serial === undefined ? undefined : state.identity(serial);
  if (serial === undefined || !identity) {
    sendPage(res, REFUSED_IDENTITY_PAGE);
    return;
  }
  if (needsValidation(identity.outcome)) {
    state.setIdentity(serial, { ...identity, outcome: SIMULATOR_OUTCOMES.VALID });
  } else if (!isOkOutcome(identity.outcome)) {
    sendPage(res, REFUSED_IDENTITY_PAGE);
    return;
  }
  const location = claim.strictMassl
    ? claim.returnUrl
    : withQueryParameter(claim.returnUrl, INTENT_PARAMETER, reference);
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': '0' });
  res.end();
}

/** The query parameter that carries the intent reference back when mutual TLS is not strict. */
export const INTENT_PARAMETER = 'identity-plus-intent';

/**
 * `url` with `name=value` added at the end of its query, before any fragment; the rest of the URL is kept
 * as it was written (no re-encoding of the existing query).
 */
export function withQueryParameter(url: string, name: string, value: string): string {
  const hashAt = url.indexOf('#');
  const base = hashAt === -1 ? url : url.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${encodeURIComponent(name)}=${encodeURIComponent(value)}${fragment}`;
}
