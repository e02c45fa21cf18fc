/**
 * Building proxy responses, and the one place errors become HTTP. Only 4xx messages reach the caller;
 * anything else is a generic message (the details go to the log, never to the client).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  ConfigurationError,
  IdentityPlusError,
  IdentityPlusRefusalError,
  InvalidInputError,
  RecordReadError,
  RecordWriteError,
  SecretUnavailableError,
  TooManyRequestsError,
} from '../domain/errors';
import { type Page, renderPage } from './pages';

/** Headers on every answer: no caching of per-certificate answers, no framing, no sniffing, no scripts. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=31536000',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

/** Seconds a client should wait before retrying after Identity Plus or the ledger failed. */
export const RETRY_AFTER_SECONDS = 30;

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

export function htmlResponse(
  statusCode: number,
  page: Page,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', ...headers },
    body: renderPage(page),
  };
}

/** A 302 to a URL that the caller has already checked against the allow-list. */
export function redirectResponse(location: string): APIGatewayProxyResult {
  return {
    statusCode: 302,
    headers: { ...SECURITY_HEADERS, Location: location, 'Content-Type': 'text/plain; charset=utf-8' },
    body: `Redirecting to ${location}`,
  };
}

/** What an error means for the caller: status, a message fit to show, and extra headers. */
export function describeError(err: unknown): { statusCode: number; message: string; headers: Record<string, string> } {
  if (err instanceof InvalidInputError) return { statusCode: err.status, message: err.message, headers: {} };
  if (err instanceof TooManyRequestsError) {
    return { statusCode: 429, message: err.message, headers: { 'Retry-After': String(err.retryAfterSeconds) } };
  }
  if (err instanceof IdentityPlusRefusalError) {
    const headers: Record<string, string> = err.status === 503 ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
    return { statusCode: err.status, message: err.message, headers };
  }
  if (err instanceof IdentityPlusError) {
    return {
      statusCode: 503,
      message: 'Identity Plus could not be asked about this certificate right now. Please try again shortly.',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  if (err instanceof RecordWriteError) {
    return {
      statusCode: 503,
      message: 'The sign-in could not be recorded. Please try again shortly.',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  if (err instanceof SecretUnavailableError) {
    return {
      statusCode: 503,
      message: 'plusgate cannot read its credentials right now. Please try again shortly.',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  if (err instanceof RecordReadError) {
    return {
      statusCode: 503,
      message: 'The billing records could not be read right now. Please try again shortly.',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  if (err instanceof ConfigurationError)
    return { statusCode: 500, message: 'plusgate is not configured correctly.', headers: {} };
  return { statusCode: 500, message: 'Internal error.', headers: {} };
}

/** The one error → HTTP mapping, as a page or as JSON `{ "message": ... }`. */
export function errorResponse(err: unknown, json: boolean): APIGatewayProxyResult {
  const { statusCode, message, headers } = describeError(err);
  if (json) return jsonResponse(statusCode, { message }, headers);
  const title = statusCode < 500 ? 'Request not accepted' : 'Temporarily unavailable';
  // Pages read as sentences; the JSON keeps the message exactly as written.
  const sentence = message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? '' : '.');
  const links = statusCode < 500 ? [{ href: '/signin', text: 'Sign in without a return address' }] : [];
  return htmlResponse(statusCode, { title, paragraphs: [sentence], links }, headers);
}
