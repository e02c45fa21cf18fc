/**
 * The Identity Plus self-authority API, as the public Identity Plus tools use it to renew their own agent
 * certificates (docs/identityplus-api.md, "Self-authority API"): `POST <base>/api/v1` over mutual TLS with
 * the current certificate, body `{"operation":"renew_certificate","args":{device, protect, tentative}}`,
 * answered with `{"error", "result":{outcome, p12, password, certificate, private-key}}`.
 *
 * One call a day at most, so no pool: each call opens one connection and closes it. The server certificate
 * is always verified (system roots, plus an extra CA only for the local simulator). The answer carries a
 * private key and a password: it is parsed here and never logged; errors name fields, never values.
 */
// undici's full index, not ./undici-parts: this client uses `request`, which the index adds to every
// dispatcher. It runs once a day, so its cold start does not matter.
import { Agent } from 'undici';
import { RenewalError } from '../domain/errors';
import { terminalSafe } from '../domain/report-formats';
import { type ApiCredentials, buildApiConnector, buildSecureContext } from './identity-plus-credentials';
import { errorDetail, safeCause } from './identity-plus-transport-errors';
import { isPlainObject } from '../domain/json';
import { clip } from './identity-plus-wire';

/** Path of the self-authority API under its base URL. */
export const SELF_AUTHORITY_PATH = '/api/v1';
const MAX_ANSWER_BYTES = 1024 * 1024;

export interface SelfAuthorityClientOptions {
  /** Base URL, e.g. `https://selfauthority.identity.plus` (the path `/api/v1` is added). */
  readonly baseUrl: string;
  /** The current API certificate: it authenticates the call. */
  readonly credentials: ApiCredentials;
  /** An extra CA to trust for the server (the local simulator); the system roots are always trusted. */
  readonly extraCa?: string;
  /** @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Limit for the whole answer; Identity Plus's gateway allows 40 s. @default 40000 */
  readonly answerTimeoutMs?: number;
}

/** A renewed certificate as Identity Plus issued it, in the form to store (the PEM pair when given). */
export interface RenewedCredentials {
  readonly credentials: ApiCredentials;
  /** The Secrets Manager JSON of these credentials. */
  readonly secret: { certificate: string; privateKey: string } | { p12: string; password: string };
  /** The same certificate in its other form (the PKCS#12 when the PEM pair came too), to try if this one fails. */
  readonly fallback?: RenewedCredentials;
}

/** The request body of a renewal: `tentative: false` asks Identity Plus to renew now. */
export function renewRequestBody(device: string, tentative: boolean): string {
  return JSON.stringify({ operation: 'renew_certificate', args: { device, protect: true, tentative } });
}

/**
 * Reads a renewal answer. Success is an empty `error` and `result.outcome` "renewed" with a PEM pair
 * (`certificate`, `private-key`: base64 of PEM text) or a PKCS#12 (`p12`: base64, `password`). Anything else
 * throws RenewalError: 'refused' (an error), 'not-renewed' (another outcome) or 'unusable' (fields missing).
 */
export function parseRenewalAnswer(status: number, text: string): RenewedCredentials {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RenewalError(
      status >= 200 && status < 300 ? 'unusable' : 'refused',
      `the self-authority API answered HTTP ${status} with a body that is not JSON`,
    );
  }
  if (!isPlainObject(body))
    throw new RenewalError('unusable', 'the self-authority API answered JSON that is not an object');
  const error = field(body, 'error');
  if (typeof error === 'string' && error.trim() !== '') {
    throw new RenewalError('refused', `Identity Plus refused the renewal: ${printable(error)}`);
  }
  if (status < 200 || status >= 300)
    throw new RenewalError('refused', `the self-authority API answered HTTP ${status}`);
  const result = field(body, 'result');
  if (!isPlainObject(result)) throw new RenewalError('unusable', 'the answer has no "result" object');
  const outcome = field(result, 'outcome');
  if (outcome !== 'renewed') {
    throw new RenewalError(
      'not-renewed',
      `Identity Plus did not renew the certificate (outcome ${typeof outcome === 'string' ? `"${printable(outcome)}"` : 'missing'})`,
    );
  }
  const p12 = field(result, 'p12');
  const password = field(result, 'password');
  const pkcs12: RenewedCredentials | undefined =
    typeof p12 === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(p12.trim()) && typeof password === 'string'
      ? { credentials: { p12: Buffer.from(p12, 'base64'), password }, secret: { p12: p12.trim(), password } }
      : undefined;
  let pem: RenewedCredentials | undefined;
  try {
    pem = pemPair(result);
  } catch (err) {
    if (!pkcs12) throw err; // a broken PEM pair is only fatal without a PKCS#12 to fall back on
  }
  if (pem) return pkcs12 ? { ...pem, fallback: pkcs12 } : pem;
  if (pkcs12) return pkcs12;
  throw new RenewalError(
    'unusable',
    'the answer has neither a "certificate" and "private-key" (base64 PEM) nor a "p12" (base64) and "password"',
  );
}

/** The PEM pair of a renewal result, if it has one; RenewalError when it is there but not PEM. */
function pemPair(result: Record<string, unknown>): RenewedCredentials | undefined {
  const certificate = base64Text(result, 'certificate');
  const privateKey = base64Text(result, 'private-key');
  if (certificate === undefined || privateKey === undefined) return undefined;
  if (!certificate.includes('-----BEGIN CERTIFICATE-----')) {
    throw new RenewalError('unusable', 'the answer\'s "certificate" is not a PEM certificate');
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    throw new RenewalError('unusable', 'the answer\'s "private-key" is not a PEM private key');
  }
  return { credentials: { certificate, privateKey }, secret: { certificate, privateKey } };
}

/** Calls the self-authority API with the current API certificate. */
export class SelfAuthorityClient {
  readonly #url: URL;
  readonly #agent: Agent;
  readonly #answerTimeoutMs: number;

  constructor(options: SelfAuthorityClientOptions) {
    this.#url = new URL(SELF_AUTHORITY_PATH, `${options.baseUrl.replace(/\/+$/, '')}/`);
    if (this.#url.protocol !== 'https:')
      throw new RangeError(`the self-authority URL must be https, got ${options.baseUrl}`);
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 40_000;
    const connect = buildApiConnector(
      buildSecureContext(options.credentials, options.extraCa),
      { connectTimeoutMs, undiciTimeoutMs: connectTimeoutMs + 1000 },
      () => undefined,
    );
    this.#agent = new Agent({
      connect,
      pipelining: 0,
      headersTimeout: this.#answerTimeoutMs,
      bodyTimeout: this.#answerTimeoutMs,
    });
  }

  /** Asks Identity Plus to renew the certificate that makes the call; `tentative` lets it decide if due. */
  async renewCertificate(args: { device: string; tentative: boolean }): Promise<RenewedCredentials> {
    let status: number;
    let text: string;
    try {
      const response = await this.#agent.request({
        origin: this.#url.origin,
        path: this.#url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: renewRequestBody(args.device, args.tentative),
        signal: AbortSignal.timeout(this.#answerTimeoutMs),
      });
      status = response.statusCode;
      text = await readCapped(response.body);
    } catch (cause) {
      // The vendor error may drag connection options along: only its name, code and message are kept.
      const safe = safeCause(cause);
      throw new RenewalError(
        'unreachable',
        `the self-authority API at ${this.#url.host} did not answer: ${errorDetail(cause)}`,
        safe === undefined ? {} : { cause: safe },
      );
    } finally {
      await this.#agent.close().catch(() => undefined);
    }
    return parseRenewalAnswer(status, text);
  }
}

async function readCapped(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) throw new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A field by its lower-case name, or by another casing (Go's JSON decoder, which the tools use, ignores case). */
function field(object: Record<string, unknown>, name: string): unknown {
  if (name in object) return object[name];
  const key = Object.keys(object).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : object[key];
}

function base64Text(object: Record<string, unknown>, name: string): string | undefined {
  const value = field(object, name);
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (!/^[A-Za-z0-9+/\s]+={0,2}\s*$/.test(value)) {
    throw new RenewalError('unusable', `the answer's "${name}" is not base64`);
  }
  return Buffer.from(value, 'base64').toString('utf8');
}

/** Text from Identity Plus as it may appear in a log: no control characters, at most 200 characters. */
function printable(text: string): string {
  return clip(terminalSafe(text).trim(), 200);
}
