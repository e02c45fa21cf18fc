/**
 * The Identity Plus API client: mutual TLS with our API certificate over one pooled undici Agent,
 * explicit timeouts, one retry on a dropped pooled socket, and strict parsing of the answers into the
 * domain shapes of functions/domain/identity-plus.ts (identity-plus-wire.ts). Usable as a library on its
 * own. Wire API: docs/identityplus-api.md.
 */
import { Agent } from './undici-parts';
import type { Dispatcher } from './undici-parts';
import { ConfigurationError, IdentityPlusError } from '../domain/errors';
import type { InquiryAnswer, IntentReference, IntentType } from '../domain/identity-plus';
import { type ApiCredentials, buildApiConnector, buildSecureContext } from './identity-plus-credentials';
import { type SocketReuseNote, noteSocketOfNextRequest } from './identity-plus-socket-diagnostics';
import { LocalFailure, isDroppedSocket, toIdentityPlusError } from './identity-plus-transport-errors';
import {
  buildInquiryRequest,
  buildIntentRequest,
  clip,
  parseInquiryAnswer,
  parseIntentAnswer,
  signonUrlFor,
} from './identity-plus-wire';
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
