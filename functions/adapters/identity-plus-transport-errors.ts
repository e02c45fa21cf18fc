/**
 * Transport failures of an Identity Plus call (undici and Node socket/TLS errors, and our own timers and
 * body cap) classified into {@link IdentityPlusError} kinds. The errors made here keep only the name, code
 * and message of the vendor error as `cause`, never the vendor object: it can carry sockets and connect
 * options, where a key or passphrase would sit.
 */
import { IdentityPlusError } from '../domain/errors';
import type { IdentityPlusFailureKind } from '../domain/errors';
import { clip } from './identity-plus-wire';

/** Fails an attempt from our side (timers, body cap) in a way the classifier recognises. */
export class LocalFailure extends Error {
  constructor(readonly reason: 'answer-timeout' | 'deadline' | 'too-large') {
    super(reason);
  }
}

/** What the message of a transport failure names: the server, the limits, and how far the call got. */
export interface TransportErrorContext {
  /** host[:port] of the API. */
  readonly host: string;
  readonly connectTimeoutMs: number;
  readonly answerTimeoutMs: number;
  /** Limit of the whole call, retry included. */
  readonly deadlineMs: number;
  /** Largest answer body read. */
  readonly maxAnswerBytes: number;
  /** Whether this failure is of the one retry on a new connection. */
  readonly retried: boolean;
  /** Whether the answer had started (status line received) when the call failed. */
  readonly responseStarted: boolean;
}

type TransportFailure =
  | 'connect-timeout'
  | 'answer-timeout'
  | 'tls'
  | 'malformed-http'
  | 'closed-client'
  | 'dropped'
  | 'refused'
  | 'other';

// OpenSSL certificate verification results as Node reports them in `err.code`.
const CERT_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'OUT_OF_MEM',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
  'ERR_TLS_INVALID_PROTOCOL_VERSION',
  'ERR_TLS_PROTOCOL_VERSION_CONFLICT',
  'EPROTO',
]);
const DROPPED_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const REFUSED_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
]);

/** Translates a transport failure into an IdentityPlusError whose `cause` holds no vendor object. */
export function toIdentityPlusError(error: unknown, context: TransportErrorContext): IdentityPlusError {
  const { host, connectTimeoutMs, answerTimeoutMs, deadlineMs, maxAnswerBytes, retried, responseStarted } = context;
  const cause = safeCause(error);
  const make = (kind: IdentityPlusFailureKind, message: string): IdentityPlusError =>
    new IdentityPlusError(kind, message, cause === undefined ? {} : { cause });
  if (error instanceof LocalFailure) {
    switch (error.reason) {
      case 'answer-timeout':
        return new IdentityPlusError('timeout', `Identity Plus did not answer within ${answerTimeoutMs} ms.`);
      case 'deadline':
        return new IdentityPlusError('timeout', `Identity Plus did not answer within ${deadlineMs} ms.`);
      case 'too-large':
        return new IdentityPlusError(
          'invalid-response',
          `Identity Plus answered with more than ${maxAnswerBytes} bytes; the answer was not read.`,
        );
    }
  }
  const code = errorCode(error);
  const detail = errorDetail(error);
  switch (classifyTransportError(error)) {
    case 'connect-timeout':
      return make('timeout', `Could not connect to Identity Plus at ${host} within ${connectTimeoutMs} ms.`);
    case 'answer-timeout':
      return make('timeout', `Identity Plus did not answer within ${answerTimeoutMs} ms.`);
    case 'tls':
      return make('tls', `The TLS handshake with Identity Plus at ${host} failed: ${detail}.`);
    case 'malformed-http':
      return make('invalid-response', `Identity Plus at ${host} sent a malformed HTTP answer (${code}).`);
    case 'closed-client':
      return make('connection', 'This Identity Plus client is closed.');
    case 'dropped':
      if (responseStarted) {
        return make(
          'connection',
          `Identity Plus at ${host} closed the connection in the middle of its answer (${detail}).`,
        );
      }
      return make(
        'connection',
        retried
          ? `Identity Plus at ${host} closed a pooled connection before answering, ` +
              `and a new one after one retry (${detail}).`
          : `Identity Plus at ${host} closed a new connection before answering (${detail}); ` +
              'it may have refused our API certificate.',
      );
    case 'refused':
      return make('connection', `Could not connect to Identity Plus at ${host}: ${detail}.`);
    default:
      return make('connection', `Calling Identity Plus at ${host} failed: ${detail}.`);
  }
}

/** Socket-level failures that, on a reused keep-alive socket with no answer yet, mean "stale socket". */
export function isDroppedSocket(error: unknown): boolean {
  return classifyTransportError(error) === 'dropped';
}

/** "message (CODE)" of a vendor error, clipped. */
export function errorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  const text = clip(message.replace(/\s+/g, ' ').trim() || 'no details', 200);
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

/**
 * Keeps only name, code and message of a vendor error. undici errors can carry sockets and connect
 * options (where a key or passphrase would sit), so the original object is never kept as a cause.
 */
export function safeCause(error: unknown): { name: string; code?: string; message: string } | undefined {
  if (error instanceof LocalFailure) return undefined;
  if (!(error instanceof Error)) return { name: 'Error', message: clip(String(error), 300) };
  const code = errorCode(error);
  return {
    name: error.name,
    ...(code ? { code } : {}),
    message: clip(error.message, 300),
  };
}

function classifyTransportError(error: unknown): TransportFailure {
  const code = errorCode(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'connect-timeout';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'answer-timeout';
  if (CERT_VERIFY_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('CERT_')) return 'tls';
  if (code.startsWith('HPE_')) return 'malformed-http';
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') return 'closed-client';
  if (DROPPED_CODES.has(code)) return 'dropped';
  if (REFUSED_CODES.has(code)) return 'refused';
  return 'other';
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}
