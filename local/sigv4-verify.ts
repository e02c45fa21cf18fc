/**
 * SigV4 checked the way an AWS service checks it, for local mode's emulated services: the request is signed
 * again with `@smithy/signature-v4` (the signer the SDK uses) and the two Authorization headers compared in
 * constant time. Failures are the JSON protocol's errors (`__type`, message, status); no message carries a key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { headerValues } from './server-lifecycle';

/** How far X-Amz-Date may be from the emulator's clock, either way. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** The Authorization header SignatureV4 (and so the SDK) writes. Header names are lower-case tokens. */
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request, SignedHeaders=([a-z0-9!#$%&'*+.^_`|~-]+(?:;[a-z0-9!#$%&'*+.^_`|~-]+)*), Signature=[0-9a-f]{64}$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const INVALID_TOKEN = 'The security token included in the request is invalid.';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

/** Error answer of the JSON protocol: the SDK reads the code from `__type` and the text from `message`. */
export class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * SigV4 as Secrets Manager checks it: one Authorization header for this emulator's access key, scoped to
 * `secretsmanager`, X-Amz-Date within five minutes, Host and X-Amz-Date signed, the body matching its
 * hash; then the request is signed again with the secret key (same date, region and signed headers) and
 * the two Authorization headers compared in constant time. Messages never carry a key.
 */
export async function verifySigV4(
  req: IncomingMessage,
  body: Buffer,
  credentials: { readonly accessKeyId: string; readonly secretAccessKey: string },
  expectedService: string,
): Promise<void> {
  const authorizations = headerValues(req, 'authorization');
  if (authorizations.length === 0) {
    throw new ServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  if (authorizations.length > 1)
    throw new ServiceError('IncompleteSignatureException', 'More than one Authorization header');
  const authorization = authorizations[0] ?? '';
  const parsed = AUTHORIZATION.exec(authorization);
  if (!parsed) {
    throw new ServiceError(
      'IncompleteSignatureException',
      'The Authorization header is not an AWS4-HMAC-SHA256 signature of the form "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=<names>, Signature=<hex>"',
    );
  }
  const [, accessKeyId = '', scopeDate = '', region = '', service = '', signedList = ''] = parsed;
  const signedHeaders = signedList.split(';');

  const dates = headerValues(req, 'x-amz-date');
  const signingDate = dates.length === 1 ? parseAmzDate(dates[0] ?? '') : undefined;
  if (!signingDate) {
    throw new ServiceError(
      'IncompleteSignatureException',
      "The request needs exactly one X-Amz-Date header of the form YYYYMMDD'T'HHMMSS'Z'",
    );
  }
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    throw new ServiceError('IncompleteSignatureException', 'The signature must cover the Host and X-Amz-Date headers');
  }
  if (service !== expectedService) {
    throw new ServiceError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${expectedService}'.`,
      403,
    );
  }
  if (scopeDate !== dates[0]?.slice(0, 8)) {
    throw new ServiceError(
      'InvalidSignatureException',
      'The date of the credential scope is not the date of X-Amz-Date',
      403,
    );
  }
  const skew = signingDate.getTime() - Date.now();
  if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
    throw new ServiceError(
      'InvalidSignatureException',
      `Signature ${skew < 0 ? 'expired' : 'not yet current'}: X-Amz-Date ${dates[0]} is more than 5 minutes from the time here (${amzDate(new Date())})`,
      403,
    );
  }
  if (accessKeyId !== credentials.accessKeyId || headerValues(req, 'x-amz-security-token').length > 0) {
    throw new ServiceError('UnrecognizedClientException', INVALID_TOKEN, 403);
  }

  // fromEntries makes own properties even of names like __proto__.
  const headers: Record<string, string> = Object.fromEntries(
    signedHeaders.map((name) => {
      const values = headerValues(req, name);
      if (values.length !== 1) {
        throw new ServiceError('IncompleteSignatureException', `Signed header ${name} must be in the request once`);
      }
      return [name, values[0] ?? ''];
    }),
  );
  const declaredHash = headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash !== createHash('sha256').update(body).digest('hex')) {
    throw new ServiceError('InvalidSignatureException', 'X-Amz-Content-Sha256 is not the SHA-256 of the body', 403);
  }

  const request: HttpRequest = {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    path: '/',
    query: {},
    headers,
    body,
  };
  const signer = new SignatureV4({
    credentials: credentials,
    region,
    service: expectedService,
    // The SDK's own Node SHA-256 / HMAC, bound to the algorithm as the SDK's clients bind it.
    sha256: Hash.bind(null, 'sha256'),
    // The payload hash header is signed only when the client signed it (then it was checked above).
    applyChecksum: false,
  });
  const expected = (
    await signer.sign(request, {
      signingDate,
      signingRegion: region,
      signingService: expectedService,
      signableHeaders: new Set(signedHeaders),
    })
  ).headers.authorization;
  const given = Buffer.from(authorization, 'utf8');
  const wanted = Buffer.from(expected ?? '', 'utf8');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new ServiceError('InvalidSignatureException', SIGNATURE_MISMATCH, 403);
  }
}

/** `YYYYMMDDTHHMMSSZ` as a date, or undefined when malformed or not a real instant (month 13, 25:00). */
function parseAmzDate(text: string): Date | undefined {
  const m = AMZ_DATE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return amzDate(date) === text ? date : undefined;
}

function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}
