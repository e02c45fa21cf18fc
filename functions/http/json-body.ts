/**
 * Reading a JSON request body of the service API: size cap, base64 bodies, a JSON object with only the
 * fields the route knows, and the `certificate` | `serial` pair several routes take. Every problem is an
 * InvalidInputError (4xx) naming what was wrong.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { normalizeSerial } from '../domain/certificate';
import { InvalidInputError } from '../domain/errors';

/** Largest JSON body the service API accepts. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;

/**
 * The body as a JSON object whose keys are all in `fields`. `example` shows the caller what to send
 * (`{"certificate": "<PEM>"}`).
 */
export function readJsonObject(
  event: APIGatewayProxyEvent,
  fields: ReadonlySet<string>,
  example: string,
): Record<string, unknown> {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_JSON_BODY_BYTES) {
    throw new InvalidInputError(`request body is ${size} bytes; at most ${MAX_JSON_BODY_BYTES} are accepted`, {
      status: 413,
    });
  }
  if (text.trim() === '') throw new InvalidInputError(`request body is empty: send JSON ${example}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidInputError(`request body is not JSON: send ${example}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new InvalidInputError('request body must be a JSON object');
  const object = body as Record<string, unknown>;
  const unknown = Object.keys(object).filter((k) => !fields.has(k));
  if (unknown.length) {
    throw new InvalidInputError(
      `unknown field ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}: expected ${[...fields].join(', ')}`,
    );
  }
  return object;
}

/** Exactly one of `certificate` (a PEM string, still to be checked) and `serial` (normalised to decimal). */
export function certificateOrSerial(fields: Record<string, unknown>): { certificate?: string; serial?: string } {
  const hasCert = fields.certificate !== undefined;
  const hasSerial = fields.serial !== undefined;
  if (hasCert === hasSerial) {
    throw new InvalidInputError(
      hasCert ? 'give either certificate or serial, not both' : 'give certificate (PEM) or serial',
    );
  }
  if (hasCert) {
    if (typeof fields.certificate !== 'string')
      throw new InvalidInputError('certificate must be a PEM string', { field: 'certificate' });
    return { certificate: fields.certificate };
  }
  return { serial: normalizeSerial(fields.serial, 'serial') };
}
