/**
 * The Identity Plus API client: mutual TLS with our API certificate over one pooled undici Agent,
 * explicit timeouts, one retry on a dropped pooled socket, and strict parsing of the wire envelopes into
 * the domain shapes of functions/domain/identity-plus.ts. Usable as a library on its own.
 * Wire API: shared docs identityplus-api.md.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { Agent, buildConnector, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import { normalizeSerial } from '../domain/certificate';
import { ConfigurationError, IdentityPlusError, InvalidInputError } from '../domain/errors';
import type { IdentityPlusFailureKind } from '../domain/errors';
import type { IdentityProfile, InquiryAnswer, IntentReference, IntentType } from '../domain/identity-plus';

/** Our Identity Plus API ("service agent") certificate: PEM certificate + key, or PKCS#12 + password. */
export type ApiCredentials =
  | { certificate: string; privateKey: string }
  | { p12: Buffer | string /* base64 */; password: string };

/** Options of {@link IdentityPlusClient}. */
export interface IdentityPlusClientOptions {
  /** @default 'https://api.identity.plus/v1' */
  apiUrl?: string;
  /** @default 'https://signon.identity.plus' */
  signonUrl?: string;
  credentials: ApiCredentials;
  /** PEM added to (not replacing) the system roots: for the simulator only. */
  extraCa?: string;
  /** TCP + TLS handshake limit. @default 2000 */
  connectTimeoutMs?: number;
  /** Limit for the answer (headers + body) once the request is sent. @default 3000 */
  answerTimeoutMs?: number;
  /** Intent type sent when `createIntent` is not given one. @default 'validate' */
  intentType?: IntentType;
  /** How long an idle pooled connection is kept. @default undici's (4000) */
  keepAliveTimeoutMs?: number;
}

/** Counters of one client, for tests, benchmarks and metrics. */
export interface IdentityPlusClientStats {
  /** TLS connections established (a pooled client opens few). */
  readonly connectionsOpened: number;
  /** Requests sent again after a pooled socket turned out dropped. */
  readonly retries: number;
  /** Calls made (inquiries + intents), retries not counted twice. */
  readonly calls: number;
}

/** What an `Intent` call answered: a reference, or a `Simple-Response` problem. */
export type IntentAnswer =
  | { readonly kind: 'reference'; readonly reference: string; readonly outcome: string }
  | { readonly kind: 'problem'; readonly outcome: string; readonly message?: string };

/** Default production API URL (one URL, no sub-paths). */
export const DEFAULT_API_URL = 'https://api.identity.plus/v1';
/** Default browser sign-on origin for intents. */
export const DEFAULT_SIGNON_URL = 'https://signon.identity.plus';
/** Largest answer body read; a real answer is a few KB. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
const DEFAULT_ANSWER_TIMEOUT_MS = 3000;
// undici's connect, headers and body timers tick in ~0.5 s steps and back-date their start by one step,
// so they fire up to 0.5 s early or late. Our own precise timers enforce the limits; undici's run with
// this margin as a safety net and never cut an answer that is still within the limit.
const UNDICI_TIMER_MARGIN_MS = 1000;
const OUTCOME_PATTERN = /^(OK|PB|ER) \d{4}/;

// ---- pure wire functions ------------------------------------------------------------------------------

/** The `Identity-Inquiry` request body for a serial (decimal or `0x`-hex). */
export function buildInquiryRequest(
  serial: string,
  opts: { service?: string; ip?: string } = {},
): { 'Identity-Inquiry': Record<string, string> } {
  const inquiry: Record<string, string> = { 'serial-number': normalizeSerial(serial) };
  if (opts.service !== undefined) {
    if (typeof opts.service !== 'string' || opts.service.trim() === '' || opts.service.length > 512) {
      throw new InvalidInputError('The service to ask on behalf of must be a non-empty string.', { field: 'service' });
    }
    inquiry['service'] = opts.service;
  }
  if (opts.ip !== undefined) {
    if (typeof opts.ip !== 'string' || isIP(opts.ip) === 0) {
      throw new InvalidInputError(`The client IP ${JSON.stringify(clip(String(opts.ip), 60))} is not an IP address.`, {
        field: 'ip',
      });
    }
    inquiry['ip-address'] = opts.ip;
  }
  return { 'Identity-Inquiry': inquiry };
}

/** The `Intent` request body; `strict-massl` is always on (the return carries nothing from Identity Plus). */
export function buildIntentRequest(
  type: IntentType,
  returnUrl: string,
): { Intent: { type: IntentType; 'return-url': string; 'strict-massl': true } } {
  if (type !== 'validate' && type !== 'discover') {
    throw new InvalidInputError(`The intent type ${JSON.stringify(String(type))} is not validate or discover.`, {
      field: 'type',
    });
  }
  if (!isAbsoluteHttpUrl(returnUrl)) {
    throw new InvalidInputError('The return URL must be an absolute http(s) URL of at most 2048 characters.', {
      field: 'returnUrl',
    });
  }
  return { Intent: { type, 'return-url': returnUrl, 'strict-massl': true } };
}

/** The browser URL of an intent: `<signonUrl>/<reference>`. */
export function signonUrlFor(signonUrl: string, reference: string): string {
  return `${signonUrl.replace(/\/$/, '')}/${encodeURIComponent(reference)}`;
}

/**
 * Parses an answer body into its single envelope. Unknown top-level keys next to exactly one expected
 * envelope are tolerated (forward compatibility); two expected envelopes at once are ambiguous and refused.
 */
export function parseEnvelope(
  body: string,
  expected: readonly string[],
): { readonly name: string; readonly value: Readonly<Record<string, unknown>> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new IdentityPlusError('invalid-response', 'Identity Plus answered with a body that is not JSON.');
  }
  if (!isPlainObject(parsed)) {
    throw new IdentityPlusError('invalid-response', 'Identity Plus answered with JSON that is not an object.');
  }
  const keys = Object.keys(parsed);
  const found = keys.filter((key) => expected.includes(key));
  if (found.length === 0) {
    const seen =
      keys.length === 0
        ? 'an empty object'
        : `keys ${keys
            .slice(0, 5)
            .map((k) => clip(k, 40))
            .join(', ')}`;
    throw new IdentityPlusError(
      'unknown-envelope',
      `Identity Plus answered with ${seen}; expected one of ${expected.join(', ')}.`,
    );
  }
  if (found.length > 1) {
    throw new IdentityPlusError(
      'invalid-response',
      `Identity Plus answered with more than one envelope (${found.join(', ')}).`,
    );
  }
  const name = found[0];
  const value = parsed[name];
  if (!isPlainObject(value)) {
    throw new IdentityPlusError('invalid-response', `Identity Plus answered with a ${name} that is not a JSON object.`);
  }
  return { name, value };
}

/** Checks an `outcome`: a string of at least 7 characters starting with a code such as `OK 0001`. */
export function checkOutcome(value: unknown, envelope: string): string {
  if (typeof value !== 'string' || value.length < 7 || !OUTCOME_PATTERN.test(value)) {
    const shown =
      value === undefined ? 'no outcome' : `the outcome ${clip(JSON.stringify(value) ?? String(value), 80)}`;
    throw new IdentityPlusError('invalid-response', `Identity Plus answered a ${envelope} with ${shown}.`);
  }
  return value;
}

/** Parses the answer to an `Identity-Inquiry`: an `Identity-Profile` or a `Simple-Response` problem. */
export function parseInquiryAnswer(body: string): InquiryAnswer {
  const envelope = parseEnvelope(body, ['Identity-Profile', 'Simple-Response']);
  if (envelope.name === 'Simple-Response') return parseSimpleResponse(envelope.value);
  return { kind: 'profile', profile: parseIdentityProfile(envelope.value) };
}

/** Parses the answer to an `Intent`: an `Intent-Reference` or a `Simple-Response` problem. */
export function parseIntentAnswer(body: string): IntentAnswer {
  const envelope = parseEnvelope(body, ['Intent-Reference', 'Simple-Response']);
  if (envelope.name === 'Simple-Response') return parseSimpleResponse(envelope.value);
  const outcome = checkOutcome(envelope.value['outcome'], 'Intent-Reference');
  const reference = envelope.value['value'];
  if (typeof reference !== 'string' || reference.trim() === '' || reference.length > 1024) {
    throw new IdentityPlusError(
      'invalid-response',
      'Identity Plus answered an Intent-Reference without a usable value.',
    );
  }
  return { kind: 'reference', reference, outcome };
}

/** A `Simple-Response` as a problem answer. */
export function parseSimpleResponse(value: Readonly<Record<string, unknown>>): {
  readonly kind: 'problem';
  readonly outcome: string;
  readonly message?: string;
} {
  const outcome = checkOutcome(value['outcome'], 'Simple-Response');
  const message = optionalString(value['message']);
  return message === undefined ? { kind: 'problem', outcome } : { kind: 'problem', outcome, message };
}

const PROFILE_STRING_FIELDS = {
  'organizational-reference': 'organizationalReference',
  'organizational-name': 'organizationalName',
  'organizational-email': 'organizationalEmail',
  'local-user-id': 'localUserId',
  'local-user-name': 'localUserName',
} as const;
const PROFILE_NUMBER_FIELDS = {
  'trust-score': 'trustScore',
  'sites-frequented': 'sitesFrequented',
  'average-identity-age': 'averageIdentityAge',
  'max-identity-age': 'maxIdentityAge',
  'local-trust': 'localTrust',
  'local-intrusions': 'localIntrusions',
} as const;
const PROFILE_KNOWN_KEYS = new Set<string>([
  'outcome',
  'service-roles',
  'trust-sponsors',
  ...Object.keys(PROFILE_STRING_FIELDS),
  ...Object.keys(PROFILE_NUMBER_FIELDS),
]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Maps an `Identity-Profile` to {@link IdentityProfile}. Lenient where the public clients disagree
 * (numbers as strings, empty strings for "none", null roles); strict where a wrong guess could grant
 * access (roles that are neither a list nor a string are refused).
 */
export function parseIdentityProfile(value: Readonly<Record<string, unknown>>): IdentityProfile {
  const profile: Mutable<IdentityProfile> = {
    outcome: checkOutcome(value['outcome'], 'Identity-Profile'),
    serviceRoles: stringList(value['service-roles'], 'service-roles') ?? [],
    customFields: {},
  };
  for (const [wire, field] of Object.entries(PROFILE_STRING_FIELDS)) {
    const text = optionalString(value[wire]);
    if (text !== undefined) profile[field] = text;
  }
  for (const [wire, field] of Object.entries(PROFILE_NUMBER_FIELDS)) {
    const number = optionalNumber(value[wire]);
    if (number !== undefined) profile[field] = number;
  }
  const sponsors = stringList(value['trust-sponsors'], 'trust-sponsors');
  if (sponsors !== undefined) profile.trustSponsors = sponsors;
  const custom: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    // defineProperty, so a custom field named "__proto__" stays a field instead of replacing the prototype.
    if (!PROFILE_KNOWN_KEYS.has(key)) {
      Object.defineProperty(custom, key, { value: field, enumerable: true, writable: true, configurable: true });
    }
  }
  profile.customFields = custom;
  return profile;
}

// ---- the client ---------------------------------------------------------------------------------------

/** Fails an attempt from our side (timers, body cap) in a way the classifier recognises. */
class LocalFailure extends Error {
  constructor(readonly reason: 'answer-timeout' | 'deadline' | 'too-large') {
    super(reason);
  }
}

type AttemptResult =
  | { readonly ok: true; readonly statusCode: number; readonly body: Buffer }
  | { readonly ok: false; readonly error: unknown; readonly responseStarted: boolean; readonly reusedSocket: boolean };

/** The whole-call time limit; the running attempt registers how to give up when it passes. */
interface Deadline {
  expired: boolean;
  onExpire?: () => void;
}

/** Per-attempt facts the socket bookkeeping fills in. */
interface AttemptState {
  responseStarted: boolean;
  reusedSocket: boolean;
}

// Which attempt is being written right now. undici calls the handler's onRequestStart and publishes
// `undici:client:sendHeaders` (with the socket) synchronously one after the other, so this slot links an
// attempt to its socket without touching undici internals.
let attemptBeingWritten: AttemptState | undefined;
const requestsWrittenPerSocket = new WeakMap<object, number>();
diagnosticsChannel.subscribe('undici:client:sendHeaders', (message) => {
  const attempt = attemptBeingWritten;
  if (attempt === undefined) return;
  attemptBeingWritten = undefined;
  const socket = (message as { socket?: object }).socket;
  if (socket === undefined) return;
  const written = requestsWrittenPerSocket.get(socket) ?? 0;
  requestsWrittenPerSocket.set(socket, written + 1);
  attempt.reusedSocket = written > 0;
});

/** Calls the Identity Plus API with our API certificate over one pooled mutual TLS Agent. */
export class IdentityPlusClient {
  readonly #agent: Agent;
  readonly #origin: string;
  readonly #path: string;
  readonly #host: string;
  readonly #signonUrl: string;
  readonly #connectTimeoutMs: number;
  readonly #answerTimeoutMs: number;
  readonly #configuredIntentType: IntentType;
  // Once `validate` was refused and `discover` accepted, default intents go straight to `discover`.
  #defaultIntentType: IntentType;
  #connectionsOpened = 0;
  #retries = 0;
  #calls = 0;
  #closing?: Promise<void>;

  constructor(opts: IdentityPlusClientOptions) {
    if (!isPlainObject(opts)) throw new ConfigurationError('IdentityPlusClient needs an options object.');
    const apiUrl = requireHttpsUrl(opts.apiUrl ?? DEFAULT_API_URL, 'apiUrl');
    const signonUrl = requireHttpsUrl(opts.signonUrl ?? DEFAULT_SIGNON_URL, 'signonUrl');
    this.#origin = apiUrl.origin;
    this.#path = `${apiUrl.pathname}${apiUrl.search}`;
    this.#host = apiUrl.host;
    this.#signonUrl = signonUrl.href.replace(/\/$/, '');
    this.#connectTimeoutMs = requireTimeout(opts.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
    this.#answerTimeoutMs = requireTimeout(opts.answerTimeoutMs, DEFAULT_ANSWER_TIMEOUT_MS, 'answerTimeoutMs');
    const intentType = opts.intentType ?? 'validate';
    if (intentType !== 'validate' && intentType !== 'discover') {
      throw new ConfigurationError(`intentType must be 'validate' or 'discover', got ${JSON.stringify(intentType)}.`);
    }
    this.#configuredIntentType = intentType;
    this.#defaultIntentType = intentType;
    const keepAliveTimeout =
      opts.keepAliveTimeoutMs === undefined
        ? undefined
        : requireTimeout(opts.keepAliveTimeoutMs, 0, 'keepAliveTimeoutMs');
    if (opts.extraCa !== undefined && (typeof opts.extraCa !== 'string' || !opts.extraCa.includes('-----BEGIN'))) {
      throw new ConfigurationError('extraCa must be PEM text (-----BEGIN CERTIFICATE-----).');
    }

    // The credentials are turned into a native secure context here and not kept: nothing on this object,
    // on the sockets' options or in an error can show them later.
    const secureContext = buildSecureContext(opts.credentials, opts.extraCa);
    const baseConnect = buildConnector({
      secureContext,
      rejectUnauthorized: true,
      timeout: this.#connectTimeoutMs + UNDICI_TIMER_MARGIN_MS,
    });
    this.#agent = new Agent({
      connect: this.#preciseConnect(baseConnect),
      headersTimeout: this.#answerTimeoutMs + UNDICI_TIMER_MARGIN_MS,
      bodyTimeout: this.#answerTimeoutMs + UNDICI_TIMER_MARGIN_MS,
      ...(keepAliveTimeout === undefined ? {} : { keepAliveTimeout }),
    });
  }

  /** Asks Identity Plus about a device certificate serial (decimal or `0x`-hex). */
  async inquire(serial: string, opts: { service?: string; ip?: string } = {}): Promise<InquiryAnswer> {
    const request = buildInquiryRequest(serial, opts);
    const body = await this.#call('POST', request);
    return parseInquiryAnswer(body);
  }

  /**
   * Creates an intent for the validation redirect. Without an explicit `type`, the configured one is
   * sent; if that is `validate` and Identity Plus answers an ER code, `discover` is tried once.
   */
  async createIntent(opts: { returnUrl: string; type?: IntentType }): Promise<IntentReference> {
    const explicit = opts.type;
    const type = explicit ?? this.#defaultIntentType;
    let answer = parseIntentAnswer(await this.#call('PUT', buildIntentRequest(type, opts.returnUrl)));
    if (answer.kind === 'problem' && explicit === undefined && type === 'validate' && isErCode(answer.outcome)) {
      answer = parseIntentAnswer(await this.#call('PUT', buildIntentRequest('discover', opts.returnUrl)));
      if (answer.kind === 'reference' && this.#configuredIntentType === 'validate') {
        this.#defaultIntentType = 'discover';
      }
    }
    if (answer.kind === 'problem') {
      const words = answer.message ? ` (${clip(answer.message, 200)})` : '';
      throw new IdentityPlusError(
        'rejected',
        `Identity Plus refused to create an intent: ${clip(answer.outcome, 120)}${words}.`,
        { outcome: answer.outcome },
      );
    }
    if (!answer.outcome.startsWith('OK')) {
      throw new IdentityPlusError('rejected', `Identity Plus answered an intent with ${clip(answer.outcome, 120)}.`, {
        outcome: answer.outcome,
      });
    }
    return {
      reference: answer.reference,
      outcome: answer.outcome,
      signonUrl: signonUrlFor(this.#signonUrl, answer.reference),
    };
  }

  /** Counters since construction. */
  get stats(): IdentityPlusClientStats {
    return { connectionsOpened: this.#connectionsOpened, retries: this.#retries, calls: this.#calls };
  }

  /** Closes the pooled connections after in-flight calls finish. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#agent.close();
    return this.#closing;
  }

  /** Sends one API call (with at most one retry on a dropped pooled socket) and returns the 2xx body. */
  async #call(method: 'POST' | 'PUT', payload: unknown): Promise<string> {
    this.#calls++;
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    // Backstop for the whole call, retry included, whatever state undici is in. A plain timer rather than
    // AbortSignal.timeout(): that one cannot be cleared (thousands would pile up at thousands of calls per
    // second) and EventTarget listeners cost more than the rest of a pooled call.
    const deadlineMs = this.#connectTimeoutMs + this.#answerTimeoutMs;
    const deadline: Deadline = { expired: false };
    const deadlineTimer = setTimeout(() => {
      deadline.expired = true;
      deadline.onExpire?.();
    }, deadlineMs);
    let result: AttemptResult;
    let retried = false;
    try {
      result = await this.#attempt(method, body, deadline);
      // A keep-alive socket the server closed while idle fails the next request before any answer: the
      // request never reached a live server, so sending it once more on a new connection is safe.
      if (!result.ok && !result.responseStarted && result.reusedSocket && isDroppedSocket(result.error)) {
        this.#retries++;
        retried = true;
        result = await this.#attempt(method, body, deadline);
      }
    } finally {
      clearTimeout(deadlineTimer);
    }
    if (!result.ok) throw this.#toError(result.error, { retried, responseStarted: result.responseStarted, deadlineMs });
    if (result.statusCode < 200 || result.statusCode > 299) {
      throw new IdentityPlusError('http-status', `Identity Plus answered HTTP ${result.statusCode}.`, {
        statusCode: result.statusCode,
      });
    }
    return result.body.toString('utf8');
  }

  #attempt(method: 'POST' | 'PUT', body: Buffer, deadline: Deadline): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve) => {
      const state: AttemptState = { responseStarted: false, reusedSocket: false };
      const chunks: Buffer[] = [];
      let size = 0;
      let statusCode = 0;
      let controller: Dispatcher.DispatchController | undefined;
      let answerTimer: NodeJS.Timeout | undefined;
      let settled = false;

      const settle = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(answerTimer);
        deadline.onExpire = undefined;
        resolve(result);
      };
      const fail = (error: unknown): void => settle({ ok: false, error, ...state });
      // Aborting makes undici call onResponseError, which is then a no-op: we already settled.
      const giveUp = (error: Error): void => {
        fail(error);
        if (controller && !controller.aborted) controller.abort(error);
      };
      if (deadline.expired) return fail(new LocalFailure('deadline'));
      deadline.onExpire = () => giveUp(new LocalFailure('deadline'));

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (settled) {
            c.abort(new LocalFailure('deadline'));
            return;
          }
          attemptBeingWritten = state;
          // If undici does not write after all, the slot must not link a later request to this attempt.
          queueMicrotask(() => {
            if (attemptBeingWritten === state) attemptBeingWritten = undefined;
          });
          answerTimer = setTimeout(() => giveUp(new LocalFailure('answer-timeout')), this.#answerTimeoutMs);
        },
        onResponseStart: (_c, status, headers) => {
          state.responseStarted = true;
          statusCode = status;
          const declared = Number(headers['content-length']);
          if (Number.isFinite(declared) && declared > MAX_ANSWER_BYTES) giveUp(new LocalFailure('too-large'));
        },
        onResponseData: (_c, chunk) => {
          if (settled) return;
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            giveUp(new LocalFailure('too-large'));
            return;
          }
          chunks.push(chunk);
        },
        onResponseEnd: () => settle({ ok: true, statusCode, body: Buffer.concat(chunks, size) }),
        onResponseError: (_c, error) => fail(error),
      };

      try {
        this.#agent.dispatch(
          {
            origin: this.#origin,
            path: this.#path,
            method,
            headers: {
              'content-type': 'application/json',
              accept: 'application/json',
              'user-agent': 'plusgate',
            },
            body,
          },
          handler,
        );
      } catch (error) {
        fail(error);
      }
    });
  }

  /** Wraps undici's connector with a precise connect timer (undici's is coarse) and a connection count. */
  #preciseConnect(base: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        callback(new undiciErrors.ConnectTimeoutError(`connect timeout after ${this.#connectTimeoutMs} ms`), null);
      }, this.#connectTimeoutMs);
      base(options, (...args) => {
        clearTimeout(timer);
        const [error, socket] = args;
        if (done) {
          // We already reported a timeout; a late socket must not leak.
          socket?.destroy();
          return;
        }
        done = true;
        if (error === null) this.#connectionsOpened++;
        callback(...args);
      });
    };
  }

  /** Translates a transport failure into an IdentityPlusError whose `cause` holds no vendor object. */
  #toError(
    error: unknown,
    context: { retried: boolean; responseStarted: boolean; deadlineMs: number },
  ): IdentityPlusError {
    const { retried, responseStarted, deadlineMs } = context;
    const cause = safeCause(error);
    const make = (kind: IdentityPlusFailureKind, message: string): IdentityPlusError =>
      new IdentityPlusError(kind, message, cause === undefined ? {} : { cause });
    if (error instanceof LocalFailure) {
      switch (error.reason) {
        case 'answer-timeout':
          return new IdentityPlusError('timeout', `Identity Plus did not answer within ${this.#answerTimeoutMs} ms.`);
        case 'deadline':
          return new IdentityPlusError('timeout', `Identity Plus did not answer within ${deadlineMs} ms.`);
        case 'too-large':
          return new IdentityPlusError(
            'invalid-response',
            `Identity Plus answered with more than ${MAX_ANSWER_BYTES} bytes; the answer was not read.`,
          );
      }
    }
    const code = errorCode(error);
    const detail = errorDetail(error);
    switch (classifyTransportError(error)) {
      case 'connect-timeout':
        return make(
          'timeout',
          `Could not connect to Identity Plus at ${this.#host} within ${this.#connectTimeoutMs} ms.`,
        );
      case 'answer-timeout':
        return make('timeout', `Identity Plus did not answer within ${this.#answerTimeoutMs} ms.`);
      case 'tls':
        return make('tls', `The TLS handshake with Identity Plus at ${this.#host} failed: ${detail}.`);
      case 'malformed-http':
        return make('invalid-response', `Identity Plus at ${this.#host} sent a malformed HTTP answer (${code}).`);
      case 'closed-client':
        return make('connection', 'This Identity Plus client is closed.');
      case 'dropped':
        if (responseStarted) {
          return make(
            'connection',
            `Identity Plus at ${this.#host} closed the connection in the middle of its answer (${detail}).`,
          );
        }
        return make(
          'connection',
          retried
            ? `Identity Plus at ${this.#host} closed a pooled connection before answering, ` +
                `and a new one after one retry (${detail}).`
            : `Identity Plus at ${this.#host} closed a new connection before answering (${detail}); ` +
                'it may have refused our API certificate.',
        );
      case 'refused':
        return make('connection', `Could not connect to Identity Plus at ${this.#host}: ${detail}.`);
      default:
        return make('connection', `Calling Identity Plus at ${this.#host} failed: ${detail}.`);
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

function buildSecureContext(credentials: ApiCredentials, extraCa: string | undefined): tls.SecureContext {
  // `ca` replaces Node's default roots, so the system roots are passed explicitly and the extra CA added.
  const ca = extraCa === undefined ? [...tls.rootCertificates] : [...tls.rootCertificates, extraCa];
  if (!isPlainObject(credentials)) {
    throw new ConfigurationError('credentials must be {certificate, privateKey} (PEM) or {p12, password}.');
  }
  let options: tls.SecureContextOptions;
  let form: string;
  if ('p12' in credentials) {
    const { p12, password } = credentials;
    if (typeof password !== 'string') throw new ConfigurationError('credentials.password must be a string.');
    let pfx: Buffer;
    if (Buffer.isBuffer(p12)) pfx = p12;
    else if (typeof p12 === 'string') pfx = Buffer.from(p12, 'base64');
    else throw new ConfigurationError('credentials.p12 must be a Buffer or base64 text.');
    if (pfx.length === 0) throw new ConfigurationError('credentials.p12 is empty.');
    options = { ca, pfx, passphrase: password };
    form = 'PKCS#12';
  } else if ('certificate' in credentials && 'privateKey' in credentials) {
    const { certificate, privateKey } = credentials;
    if (typeof certificate !== 'string' || !certificate.includes('-----BEGIN')) {
      throw new ConfigurationError('credentials.certificate must be PEM text.');
    }
    if (typeof privateKey !== 'string' || !privateKey.includes('-----BEGIN')) {
      throw new ConfigurationError('credentials.privateKey must be PEM text.');
    }
    options = { ca, cert: certificate, key: privateKey };
    form = 'PEM';
  } else {
    throw new ConfigurationError('credentials must be {certificate, privateKey} (PEM) or {p12, password}.');
  }
  try {
    return tls.createSecureContext({ ...options, minVersion: 'TLSv1.2' });
  } catch (error) {
    // OpenSSL's messages name the failure, never the input; the cause is reduced to name/code/message anyway.
    const cause = safeCause(error);
    throw new ConfigurationError(
      `The Identity Plus API certificate (${form}) could not be loaded: ${errorDetail(error)}. ` +
        (form === 'PKCS#12' ? 'Check the file and its password.' : 'Check that the key matches the certificate.'),
      cause === undefined ? {} : { cause },
    );
  }
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

/** Socket-level failures that, on a reused keep-alive socket with no answer yet, mean "stale socket". */
function isDroppedSocket(error: unknown): boolean {
  return classifyTransportError(error) === 'dropped';
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}

/** "message (CODE)" of a vendor error, clipped. */
function errorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  const text = clip(message.replace(/\s+/g, ' ').trim() || 'no details', 200);
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

/**
 * Keeps only name, code and message of a vendor error. undici errors can carry sockets and connect
 * options (where a key or passphrase would sit), so the original object is never kept as a cause.
 */
function safeCause(error: unknown): { name: string; code?: string; message: string } | undefined {
  if (error instanceof LocalFailure) return undefined;
  if (!(error instanceof Error)) return { name: 'Error', message: clip(String(error), 300) };
  const code = errorCode(error);
  return {
    name: error.name,
    ...(code ? { code } : {}),
    message: clip(error.message, 300),
  };
}

function isErCode(outcome: string): boolean {
  return outcome.startsWith('ER ');
}

function requireHttpsUrl(value: unknown, name: string): URL {
  if (typeof value !== 'string') throw new ConfigurationError(`${name} must be a string URL.`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${name} ${JSON.stringify(clip(value, 200))} is not a URL.`);
  }
  // The API and the sign-on page are always TLS: there is no plain-HTTP mode to fall into by mistake.
  if (url.protocol !== 'https:') throw new ConfigurationError(`${name} must be an https:// URL, got ${url.protocol}.`);
  if (url.username !== '' || url.password !== '') throw new ConfigurationError(`${name} must not carry credentials.`);
  return url;
}

function requireTimeout(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 600_000) {
    throw new ConfigurationError(
      `${name} must be a whole number of milliseconds from 1 to 600000, got ${String(value)}.`,
    );
  }
  return value;
}

function isAbsoluteHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 2048) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field; numbers become strings, and null or "" mean absent (e.g. no local user bound). */
function optionalString(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A number field; numeric strings are accepted, anything else means absent. */
function optionalNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const number = Number(value.trim());
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

/**
 * A list of strings. null/absent → undefined; a lone string → one entry; numbers → strings; other
 * entries dropped (they can only shrink the list). A list-like field that is none of these is refused.
 */
function stringList(value: unknown, wire: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) {
    const list: string[] = [];
    for (const entry of value) {
      if (typeof entry === 'string') list.push(entry);
      else if (typeof entry === 'number' && Number.isFinite(entry)) list.push(String(entry));
    }
    return list;
  }
  throw new IdentityPlusError(
    'invalid-response',
    `Identity Plus answered an Identity-Profile whose ${wire} is not a list.`,
  );
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
