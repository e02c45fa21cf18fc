/**
 * Where a browser may be sent after signing in. Open-redirect safety: only absolute https URLs whose
 * origin is on the allow-list (plusgate's own origin is always on it), or a path on plusgate's own origin.
 */
import { InvalidInputError } from './errors';

/**
 * Longest `return` accepted. It travels inside the signed `state` (base64, ~4/3 longer) in the intent's
 * return-url, which must stay within 2048 characters: 1200 leaves room for the origin and the signature.
 */
export const MAX_RETURN_LENGTH = 1200;

/**
 * Resolves `return` to an absolute URL on an allowed origin, or undefined when none was given.
 * Throws InvalidInputError (400) saying what was wrong.
 */
export function resolveReturnDestination(
  raw: unknown,
  ownOrigin: string,
  allowedOrigins: readonly string[],
): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw new InvalidInputError('return must be a single URL', { field: 'return' });
  if (raw.length > MAX_RETURN_LENGTH) {
    throw new InvalidInputError(`return is ${raw.length} characters long; at most ${MAX_RETURN_LENGTH} are accepted`, {
      field: 'return',
    });
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(raw))
    throw new InvalidInputError('return contains control characters (such as CR or LF)', { field: 'return' });
  if (raw.includes('\\')) throw new InvalidInputError('return contains a backslash', { field: 'return' });

  const relative = raw.startsWith('/') && !raw.startsWith('//');
  let url: URL;
  try {
    url = relative ? new URL(raw, ownOrigin) : new URL(raw);
  } catch {
    throw new InvalidInputError('return is not a valid URL: give an absolute https URL or a path starting with /', {
      field: 'return',
    });
  }
  if (url.protocol !== 'https:') {
    throw new InvalidInputError(`return must be an https URL, not ${url.protocol}`, { field: 'return' });
  }
  if (url.username || url.password)
    throw new InvalidInputError('return must not carry a user name or password', { field: 'return' });
  const allowed = new Set([normalizeOrigin(ownOrigin), ...allowedOrigins.map(normalizeOrigin)]);
  if (!allowed.has(url.origin)) {
    throw new InvalidInputError(`return points to ${url.origin}, which is not an allowed return origin`, {
      field: 'return',
    });
  }
  return url.href;
}

/** `https://Example.com:443/` → `https://example.com`. Throws on anything that is not an https origin. */
export function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new InvalidInputError(`"${origin}" is not an origin (expected e.g. https://app.example.com)`);
  }
  if (
    url.protocol !== 'https:' ||
    url.pathname.replace(/\/$/, '') !== '' ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw new InvalidInputError(`"${origin}" is not an https origin (expected e.g. https://app.example.com)`);
  }
  return url.origin;
}
