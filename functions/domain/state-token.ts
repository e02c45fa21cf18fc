/**
 * The `state` of a validation round trip: where the browser goes after Identity Plus sends it back, for
 * which certificate, until when. Nothing in the return query string comes from Identity Plus, so this is
 * our own token, HMAC-SHA256 signed; a tampered, expired or foreign token is refused.
 *
 * Each token carries a random id so it can be used once: the edge claims the id in the ledger table
 * (`UsedStatesPort`) before it acts on the token, and a second use is refused (docs/design.md).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidInputError } from './errors';

export interface StatePayload {
  /** Decimal serial of the certificate the round trip was started for. */
  readonly serial: string;
  /** Absolute URL to send the browser to once cleared, or '' for the signed-in page. */
  readonly destination: string;
  /** Expiry, epoch milliseconds. */
  readonly expiresAt: number;
  /** Random id (128 bits, base64url) that makes the token single-use. */
  readonly id: string;
}

/** Port: remembers which state tokens were used, across every container (the ledger table). */
export interface UsedStatesPort {
  /**
   * Marks the token `id` used until `expiresAt` (epoch ms). Resolves true the first time, false when it
   * was used before; throws RecordWriteError when it cannot tell.
   */
  claimState(id: string, expiresAt: number): Promise<boolean>;
}

/** The longest a state token may live (design: at most 10 minutes). */
export const MAX_STATE_TTL_MS = 10 * 60 * 1000;
/** Tokens longer than this are refused before any parsing. */
export const MAX_STATE_LENGTH = 4096;
// v2 added the id; a v1 token (made before the upgrade, at most 10 minutes old) is refused as malformed.
const VERSION = 'v2';
const ID = /^[A-Za-z0-9_-]{22}$/;

/** Signs a state token valid for `ttlMs` (capped at 10 minutes) from `now`. */
export function signState(
  input: { serial: string; destination: string },
  key: Buffer,
  now: number,
  ttlMs = MAX_STATE_TTL_MS,
): string {
  const payload: StatePayload = {
    serial: input.serial,
    destination: input.destination,
    expiresAt: now + Math.min(ttlMs, MAX_STATE_TTL_MS),
    id: randomBytes(16).toString('base64url'),
  };
  const body = Buffer.from(
    JSON.stringify({ s: payload.serial, d: payload.destination, e: payload.expiresAt, i: payload.id }),
  ).toString('base64url');
  return `${VERSION}.${body}.${mac(key, body)}`;
}

/**
 * Checks a state token: signature, expiry, and that it was made for the certificate now presented.
 * Throws InvalidInputError (400) with a message saying which check failed.
 */
export function verifyState(token: unknown, key: Buffer, expect: { serial: string; now: number }): StatePayload {
  if (typeof token !== 'string' || token.length === 0)
    throw new InvalidInputError('state is missing', { field: 'state' });
  if (token.length > MAX_STATE_LENGTH)
    throw new InvalidInputError(`state is longer than ${MAX_STATE_LENGTH} characters`, { field: 'state' });
  const [version, body, signature, ...rest] = token.split('.');
  if (
    rest.length > 0 ||
    version !== VERSION ||
    body === undefined ||
    signature === undefined ||
    !/^[A-Za-z0-9_-]+$/.test(body) ||
    !/^[A-Za-z0-9_-]+$/.test(signature)
  ) {
    throw new InvalidInputError('state is malformed', { field: 'state' });
  }
  const expected = Buffer.from(mac(key, body), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  // One spelling only: base64url's last character can hide unused bits, so several strings decode to the
  // same MAC. Only the canonical encoding (what signState wrote) is accepted, so a token has one URL.
  if (
    given.length !== expected.length ||
    given.toString('base64url') !== signature ||
    !timingSafeEqual(given, expected)
  ) {
    throw new InvalidInputError('state signature does not match: the link was altered or made by someone else', {
      field: 'state',
    });
  }
  let raw: { s?: unknown; d?: unknown; e?: unknown; i?: unknown };
  try {
    raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidInputError('state is malformed', { field: 'state' });
  }
  if (
    typeof raw.s !== 'string' ||
    typeof raw.d !== 'string' ||
    typeof raw.e !== 'number' ||
    typeof raw.i !== 'string' ||
    !ID.test(raw.i)
  ) {
    throw new InvalidInputError('state is malformed', { field: 'state' });
  }
  if (raw.e <= expect.now) throw new InvalidInputError('state has expired: start signing in again', { field: 'state' });
  if (raw.e > expect.now + MAX_STATE_TTL_MS)
    throw new InvalidInputError('state claims a lifetime longer than allowed', { field: 'state' });
  if (raw.s !== expect.serial) {
    throw new InvalidInputError('state was made for a different certificate than the one this browser presents', {
      field: 'state',
    });
  }
  return { serial: raw.s, destination: raw.d, expiresAt: raw.e, id: raw.i };
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(`${VERSION}.${body}`).digest('base64url');
}
