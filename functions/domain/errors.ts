/**
 * One error hierarchy for plusgate. Domain code and adapters throw these; exactly one place
 * (functions/http/http-responses.ts) maps them to HTTP. Vendor errors are wrapped with `cause` kept.
 */
export class PlusgateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input from a caller that is wrong: always a 4xx with this message shown to the caller. */
export class InvalidInputError extends PlusgateError {
  /** HTTP status to answer with (400 unless the input was e.g. too large: 413). */
  readonly status: number;
  /** The parameter or field that was wrong, when there is one. */
  readonly field?: string;
  constructor(message: string, options: { field?: string; status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.status = options.status ?? 400;
    this.field = options.field;
  }
}

/** How a call to the Identity Plus API failed without giving us an answer we can decide on. */
export type IdentityPlusFailureKind =
  | 'timeout' // connect or answer timeout
  | 'connection' // refused, reset, DNS, dropped socket (after the one allowed retry)
  | 'tls' // TLS handshake failed: untrusted server certificate, our certificate refused
  | 'http-status' // a non-2xx status
  | 'invalid-response' // body is not JSON, or not a JSON object
  | 'unknown-envelope' // JSON without a known envelope key
  | 'rejected'; // a Simple-Response ER code where an answer was required (e.g. creating an intent)

/** Identity Plus could not be asked or did not answer usefully. The decision is `error` (fail closed). */
export class IdentityPlusError extends PlusgateError {
  readonly kind: IdentityPlusFailureKind;
  /** HTTP status when kind is 'http-status'. */
  readonly statusCode?: number;
  /** Identity Plus outcome when kind is 'rejected'. */
  readonly outcome?: string;
  constructor(
    kind: IdentityPlusFailureKind,
    message: string,
    options: { cause?: unknown; statusCode?: number; outcome?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.statusCode = options.statusCode;
    this.outcome = options.outcome;
  }
}

/**
 * The caller asked again too soon for something plusgate makes at most once per interval (an Identity Plus
 * intent per certificate): 429 with `Retry-After`.
 */
export class TooManyRequestsError extends PlusgateError {
  /** Whole seconds until asking again can succeed (at least 1). */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/**
 * Identity Plus answered an identity operation (binding, intrusion report) with a problem outcome: a 4xx
 * when it is about the request (already bound, unknown certificate), a 503 when it is about us or the
 * service (our API certificate, an unexpected error). The message says which and quotes the outcome code.
 */
export class IdentityPlusRefusalError extends PlusgateError {
  readonly status: number;
  readonly outcome: string;
  constructor(status: number, message: string, outcome: string) {
    super(message);
    this.status = status;
    this.outcome = outcome;
  }
}

/** The ledger write failed: the request fails (503) so no billed user is missing from the ledger. */
export class RecordWriteError extends PlusgateError {}

/**
 * The ledger could not be read (throttled, unreachable, missing table, no permission): the report fails
 * with 503 rather than showing a partial count. The message names the table, period and shard, never data.
 */
export class RecordReadError extends PlusgateError {
  /** The SDK error name (`ResourceNotFoundException`, `ThrottlingException`…) or network code (`ECONNREFUSED`…). */
  readonly reason: string;
  constructor(message: string, options: { reason?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.reason = options.reason ?? 'Error';
  }
}

/** A report could not be written to the reports bucket (period close). */
export class ReportStoreError extends PlusgateError {}

/** Secrets Manager could not give a secret and no earlier value is known: 503, try again. */
export class SecretUnavailableError extends PlusgateError {}

/** Deployment configuration is missing or wrong (cold start or synth). */
export class ConfigurationError extends PlusgateError {}

/** Where a renewal of the Identity Plus API certificate failed; nothing was stored, the old certificate stays. */
export type RenewalFailureKind =
  | 'unreachable' // the self-authority API could not be reached or did not answer in time
  | 'refused' // it answered with an error
  | 'not-renewed' // it answered, but did not issue a certificate
  | 'unusable' // it issued something that failed our checks (key, validity, chain)
  | 'store'; // the new certificate could not be stored

/** A renewal of the API certificate failed. Messages never contain key material or passwords. */
export class RenewalError extends PlusgateError {
  readonly kind: RenewalFailureKind;
  constructor(kind: RenewalFailureKind, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.kind = kind;
  }
}
