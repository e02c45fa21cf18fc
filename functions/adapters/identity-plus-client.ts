/**
 * The Identity Plus API client: mutual TLS with our API certificate over one pooled undici Agent,
 * explicit timeouts, one retry on a dropped pooled socket, and strict parsing of the answers into the
 * domain shapes of functions/domain/identity-plus.ts (identity-plus-wire.ts). Usable as a library on its
 * own. Wire API: docs/identityplus-api.md.
 */
import { Agent } from './undici-parts';
import type { Dispatcher } from './undici-parts';
import { ConfigurationError, IdentityPlusError } from '../domain/errors';
import {
  type BindAnswer,
  type InquiryAnswer,
  type IntentReference,
  type IntentType,
  type IntrusionAnswer,
  type IntrusionReport,
  type OutcomeAnswer,
  INTENT_TYPES,
  isIntentType,
} from '../domain/identity-plus';
import { type ApiCredentials, buildApiConnector, buildSecureContext } from './identity-plus-credentials';
import { type SocketReuseNote, noteSocketOfNextRequest } from './identity-plus-socket-diagnostics';
import { LocalFailure, isDroppedSocket, toIdentityPlusError } from './identity-plus-transport-errors';
import {
  type IntentAnswer,
  buildInquiryRequest,
  buildIntentRequest,
  clip,
  parseInquiryAnswer,
  parseIntentAnswer,
  signonUrlFor,
} from './identity-plus-wire';
import {
  buildBindRequest,
  buildIntrusionReport,
  buildIntrusionWithdrawal,
  buildUnbindRequest,
  parseIntrusionAnswer,
  parseOutcomeAnswer,
} from './identity-plus-wire-users';
import { isPlainObject } from '../domain/json';

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
  /** Intent type sent when `createIntent` is not given one. @default 'discover' */
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

type AttemptResult =
  | { readonly ok: true; readonly statusCode: number; readonly body: Buffer }
  | { readonly ok: false; readonly error: unknown; readonly responseStarted: boolean; readonly reusedSocket: boolean };

/** The whole-call time limit; the running attempt registers how to give up when it passes. */
interface Deadline {
  expired: boolean;
  onExpire?: () => void;
}

/** Per-attempt facts the socket bookkeeping fills in. */
interface AttemptState extends SocketReuseNote {
  responseStarted: boolean;
}

/** Calls the Identity Plus API with our API certificate over one pooled mutual TLS Agent. */
export class IdentityPlusClient {
  readonly #agent: Agent;
  readonly #origin: string;
  readonly #path: string;
  readonly #host: string;
  readonly #signonUrl: string;
  readonly #connectTimeoutMs: number;
  readonly #answerTimeoutMs: number;
  // Once the configured type was refused and its fallback accepted, default intents go straight to the fallback.
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
    const intentType = opts.intentType ?? 'discover';
    if (!isIntentType(intentType)) {
      throw new ConfigurationError(
        `intentType must be one of ${INTENT_TYPES.join(', ')}, got ${JSON.stringify(intentType)}.`,
      );
    }
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
    const connect = buildApiConnector(
      secureContext,
      { connectTimeoutMs: this.#connectTimeoutMs, undiciTimeoutMs: this.#connectTimeoutMs + UNDICI_TIMER_MARGIN_MS },
      () => {
        this.#connectionsOpened++;
      },
    );
    this.#agent = new Agent({
      connect,
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
   * Creates an intent for the validation redirect. Without an explicit `type`, the configured one is sent;
   * when Identity Plus refuses it (any problem outcome, or a non-2xx status), the other sign-in type
   * (`discover` ↔ `validate`) is tried once, and if that one works it is sent from then on.
   */
  async createIntent(opts: { returnUrl: string; type?: IntentType }): Promise<IntentReference> {
    const type = opts.type ?? this.#defaultIntentType;
    let answer = await this.#intent(type, opts.returnUrl);
    if (opts.type === undefined && isRefusal(answer)) {
      const fallback: IntentType = type === 'discover' ? 'validate' : 'discover';
      const second = await this.#intent(fallback, opts.returnUrl);
      if (!isRefusal(second) && second.kind === 'reference') this.#defaultIntentType = fallback;
      answer = isRefusal(second) ? answer : second;
    }
    if (answer instanceof IdentityPlusError) throw answer;
    if (answer.kind === 'problem' || !answer.outcome.startsWith('OK')) {
      const words = answer.kind === 'problem' && answer.message ? ` (${clip(answer.message, 200)})` : '';
      throw new IdentityPlusError(
        'rejected',
        `Identity Plus refused to create an intent: ${clip(answer.outcome, 120)}${words}.`,
        { outcome: answer.outcome },
      );
    }
    return {
      reference: answer.reference,
      outcome: answer.outcome,
      signonUrl: signonUrlFor(this.#signonUrl, answer.reference),
    };
  }

  /** One intent call; a non-2xx status comes back (not thrown) so the caller can fall back on it. */
  async #intent(type: IntentType, returnUrl: string): Promise<IntentAnswer | IdentityPlusError> {
    try {
      return parseIntentAnswer(await this.#call('PUT', buildIntentRequest(type, returnUrl)));
    } catch (err) {
      if (err instanceof IdentityPlusError && err.kind === 'http-status') return err;
      throw err;
    }
  }

  /**
   * Binds the owner of the certificate `serial` to our service's user id (`PUT Local-User-Information`).
   * OK 0100 comes with the profile; a problem (e.g. ER 0003 already bound, PB 0006 unknown) is returned.
   */
  async bind(serial: string, localUserId: string): Promise<BindAnswer> {
    return parseInquiryAnswer(await this.#call('PUT', buildBindRequest(serial, localUserId)));
  }

  /** Unbinds our user id (`DELETE Local-User-Reference`): OK 0101, or ER 0005 when it was never bound. */
  async unbind(localUserId: string): Promise<OutcomeAnswer> {
    return parseOutcomeAnswer(await this.#call('DELETE', buildUnbindRequest(localUserId)));
  }

  /** Reports an intruding certificate (`PUT Intrusion-Report`); the reference withdraws it. */
  async reportIntrusion(report: IntrusionReport): Promise<IntrusionAnswer> {
    return parseIntrusionAnswer(await this.#call('PUT', buildIntrusionReport(report)));
  }

  /** Withdraws an intrusion report (`DELETE Intrusion-Reference`). */
  async withdrawIntrusion(reference: string): Promise<OutcomeAnswer> {
    return parseOutcomeAnswer(await this.#call('DELETE', buildIntrusionWithdrawal(reference)));
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
  async #call(method: HttpMethod, payload: unknown): Promise<string> {
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
    if (!result.ok) {
      throw toIdentityPlusError(result.error, {
        host: this.#host,
        connectTimeoutMs: this.#connectTimeoutMs,
        answerTimeoutMs: this.#answerTimeoutMs,
        deadlineMs,
        maxAnswerBytes: MAX_ANSWER_BYTES,
        retried,
        responseStarted: result.responseStarted,
      });
    }
    if (result.statusCode < 200 || result.statusCode > 299) {
      throw new IdentityPlusError('http-status', `Identity Plus answered HTTP ${result.statusCode}.`, {
        statusCode: result.statusCode,
      });
    }
    return result.body.toString('utf8');
  }

  #attempt(method: HttpMethod, body: Buffer, deadline: Deadline): Promise<AttemptResult> {
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
          noteSocketOfNextRequest(state);
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
}

type HttpMethod = 'POST' | 'PUT' | 'DELETE';

/** Identity Plus would not create the intent: a non-2xx status or a problem outcome, in whichever envelope. */
function isRefusal(answer: IntentAnswer | IdentityPlusError): boolean {
  return answer instanceof IdentityPlusError || answer.kind === 'problem' || !answer.outcome.startsWith('OK');
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
