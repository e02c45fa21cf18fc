/**
 * The Identity Plus simulator: one loopback HTTPS server with mutual TLS that speaks the wire API of
 * `https://api.identity.plus/v1` (envelopes, outcome codes, intents), serves the browser sign-on page for
 * an intent, and offers an admin API under `/__admin/` to set identities and inject faults. Local mode and
 * the integration tests use it in place of the real service. See shared docs identityplus-api.md.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  EXPIRED_INTENT_PAGE,
  NOT_FOUND_PAGE,
  REFUSED_IDENTITY_PAGE,
  type SimulatorPage,
  UNKNOWN_INTENT_PAGE,
  USED_INTENT_PAGE,
} from './simulator-pages';
import { close, listen, readBody } from './server-lifecycle';

/** What the simulator knows about one device certificate serial (admin and seed shape, camelCase). */
export interface SimulatedIdentity {
  /** Full outcome string; `OK 0001` is answered as `OK 0002` when `localUserId` is set. */
  readonly outcome: string;
  /** Roles in our service, answered as `service-roles`. */
  readonly roles: readonly string[];
  readonly organizationalReference?: string;
  readonly organizationalName?: string;
  readonly organizationalEmail?: string;
  readonly localUserId?: string;
  readonly localUserName?: string;
  readonly trustScore?: number;
  readonly sitesFrequented?: number;
  readonly averageIdentityAge?: number;
  readonly maxIdentityAge?: number;
  readonly localTrust?: number;
  readonly localIntrusions?: number;
  readonly trustSponsors?: readonly string[];
  /** Organisation custom fields, answered as extra keys of `Identity-Profile`. */
  readonly customFields?: Readonly<Record<string, unknown>>;
}

/** A fault injected into API answers (`/v1` only; the admin API and sign-on page are never faulted). */
export type SimulatorFault =
  | { readonly mode: 'none' }
  | { readonly mode: 'latency'; readonly latencyMs: number }
  | { readonly mode: 'http500' }
  | { readonly mode: 'drop' }
  | { readonly mode: 'garbage' }
  | { readonly mode: 'outcome'; readonly outcome: string };

/** Requests the simulator received since start or the last reset, including those answered by a fault. */
export interface SimulatorStats {
  /** Every request to the API path, whatever it asked. */
  readonly apiRequests: number;
  /** `Identity-Inquiry` operations (POST or GET). */
  readonly inquiries: number;
  /** `Intent` operations (PUT). */
  readonly intents: number;
  /** Visits to a sign-on page `/<intent-reference>`. */
  readonly signons: number;
}

/** One seeded identity. */
export interface SimulatorSeedEntry {
  /** Certificate serial, decimal or `0x`-hex. */
  readonly serial: string;
  readonly identity: SimulatedIdentity;
}

/** Options of {@link IdentityPlusSimulator}. */
export interface IdentityPlusSimulatorOptions {
  /** Server certificate (leaf + intermediate), its key, and the CA chain client certificates must chain to. */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  /**
   * Our API ("service agent") certificates, PEM: only these may call the API (`/v1`) and the admin API.
   * Device certificates come from the same CA (for the sign-on page) and must not be able to ask about,
   * or rewrite, anyone's identity: they get `ER 1101` on the API and 403 on the admin API.
   */
  readonly apiClients: readonly string[];
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** Identities present at start and after every reset. */
  readonly seed?: ReadonlyArray<SimulatorSeedEntry>;
  /** How long an intent can be used after creation. @default 30000 */
  readonly intentTtlMs?: number;
  /** Intent types accepted by `PUT Intent`; others get an ER answer. @default ['validate', 'discover'] */
  readonly acceptedIntentTypes?: readonly string[];
  /** Request body limit for the API and the admin API. @default 65536 */
  readonly maxBodyBytes?: number;
  /** Clock in epoch milliseconds, for intent expiry. @default Date.now */
  readonly now?: () => number;
  /** One line per request and per refused handshake. @default silent */
  readonly log?: (line: string) => void;
}

/** Outcome strings the simulator answers with (same codes and words as the real service). */
export const SIMULATOR_OUTCOMES = {
  ACKNOWLEDGED: 'OK 0000 Acknowledged',
  VALID: 'OK 0001 Subject anonymous certificate valid',
  VALID_BOUND: 'OK 0002 Subject anonymous certificate valid and user uid associated',
  UNKNOWN: 'PB 0006 Unknown Identity Plus anonymous certificate',
  NO_SUCH_OPERATION: 'ER 0002 No such operation',
  UNKNOWN_API_CERTIFICATE: 'ER 1101 Unknown service agent certificate',
  INVALID_PARAMETER: 'ER 0003 Invalid or missing parameter',
  PARSE_ERROR: 'ER 0008 Parse error',
} as const;

const API_PATHS = new Set(['/', '/v1', '/v1/']);
const ADMIN_PREFIX = '/__admin/';
const INTENT_REFERENCE = /^\/([A-Za-z0-9_-]{8,128})$/;
const OUTCOME_FORMAT = /^(OK|PB|ER) [0-9]{4}( [^\r\n]{1,200})?$/;
// Serials are at most 20 octets (RFC 5280): 40 hex digits, 49 decimal digits. A little slack, no more.
const DECIMAL_SERIAL = /^[0-9]{1,50}$/;
const HEX_SERIAL = /^0[xX][0-9a-fA-F]{1,42}$/;
const MAX_INTENTS = 10_000;
const MAX_LATENCY_MS = 60_000;

/** `Identity-Profile` keys the simulator fills itself; a custom field may not shadow one of them. */
const PROFILE_KEYS = new Set([
  'outcome',
  'service-roles',
  'organizational-reference',
  'organizational-name',
  'organizational-email',
  'local-user-id',
  'local-user-name',
  'trust-score',
  'sites-frequented',
  'average-identity-age',
  'max-identity-age',
  'local-trust',
  'local-intrusions',
  'trust-sponsors',
]);

const IDENTITY_STRING_FIELDS = [
  'organizationalReference',
  'organizationalName',
  'organizationalEmail',
  'localUserId',
  'localUserName',
] as const;
const IDENTITY_NUMBER_FIELDS = [
  'trustScore',
  'sitesFrequented',
  'averageIdentityAge',
  'maxIdentityAge',
  'localTrust',
  'localIntrusions',
] as const;
const IDENTITY_KEYS = new Set<string>([
  'outcome',
  'roles',
  'trustSponsors',
  'customFields',
  ...IDENTITY_STRING_FIELDS,
  ...IDENTITY_NUMBER_FIELDS,
]);

/** Human words for the problem outcomes an identity can carry; the code is what clients classify by. */
const PROBLEM_MESSAGES: Readonly<Record<string, string>> = {
  'PB 0002': 'The certificate has expired and must be renewed and validated by its owner.',
  'PB 0003': 'The certificate must be validated by its owner before it can be used.',
  'PB 0004': 'The certificate was revoked.',
  'PB 0005': 'The certificate was reported as an intruder.',
  'PB 0006': 'The certificate is not known to Identity Plus.',
};

interface StoredIntent {
  readonly returnUrl: string;
  readonly createdAt: number;
  used: boolean;
}

interface MutableStats {
  apiRequests: number;
  inquiries: number;
  intents: number;
  signons: number;
}

type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

class BodyTooLargeError extends Error {}
class ClientGoneError extends Error {}

/** A loopback Identity Plus: API, sign-on page and admin API on one mutual TLS server. */
export class IdentityPlusSimulator {
  private readonly opts: IdentityPlusSimulatorOptions;
  private readonly host: string;
  private readonly seed: ReadonlyArray<{ serial: string; identity: SimulatedIdentity }>;
  private readonly intentTtlMs: number;
  private readonly acceptedIntentTypes: readonly string[];
  private readonly maxBodyBytes: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly identities = new Map<string, SimulatedIdentity>();
  private readonly intents = new Map<string, StoredIntent>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private fault: SimulatorFault = { mode: 'none' };
  private counters: MutableStats = emptyStats();
  private server?: https.Server;
  private boundPort?: number;
  private urlHost?: string;

  private readonly apiClientFingerprints: ReadonlySet<string>;

  constructor(opts: IdentityPlusSimulatorOptions) {
    this.opts = opts;
    this.host = opts.host ?? '127.0.0.1';
    this.intentTtlMs = opts.intentTtlMs ?? 30_000;
    this.acceptedIntentTypes = opts.acceptedIntentTypes ?? ['validate', 'discover'];
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    if (opts.apiClients.length === 0) throw new Error('apiClients must name at least one API certificate');
    this.apiClientFingerprints = new Set(opts.apiClients.map((pem) => new X509Certificate(pem).fingerprint256));
    // Validate the seed now so a bad one fails at construction, not at the first reset.
    this.seed = (opts.seed ?? []).map((entry) => ({
      serial: requireSerial(entry.serial),
      identity: requireIdentity(entry.identity),
    }));
    this.reset();
  }

  /** Listens on the configured host and port. */
  async start(): Promise<void> {
    if (this.server) throw new Error('simulator already started');
    const server = https.createServer(
      {
        cert: this.opts.tls.cert,
        key: this.opts.tls.key,
        ca: this.opts.tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          if (err instanceof ClientGoneError) return;
          this.log(`internal error: ${err instanceof Error ? err.message : String(err)}`);
          sendText(res, 500, 'internal error');
        });
      },
    );
    server.on('tlsClientError', (err) => this.log(`refused TLS client: ${err.message}`));
    await listen(server, this.opts.port ?? 0, this.host);
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.urlHost = await chooseUrlHost(this.host);
  }

  /** Stops listening and closes every connection, keep-alive ones included. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    await close(server);
  }

  /** The API URL, e.g. `https://localhost:PORT/v1`. */
  get apiUrl(): string {
    return `${this.signonUrl}/v1`;
  }

  /** The sign-on origin: the browser is sent to `<signonUrl>/<intent-reference>`. */
  get signonUrl(): string {
    if (this.boundPort === undefined || this.urlHost === undefined) throw new Error('simulator not started');
    return `https://${this.urlHost}:${this.boundPort}`;
  }

  /** The port listened on (useful with port 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('simulator not started');
    return this.boundPort;
  }

  /** Creates or replaces the identity of a serial (decimal or `0x`-hex). Throws on invalid input. */
  setIdentity(serial: string, identity: SimulatedIdentity): void {
    this.identities.set(requireSerial(serial), requireIdentity(identity));
  }

  /** The identity of a serial, if any. */
  getIdentity(serial: string): SimulatedIdentity | undefined {
    const found = this.identities.get(requireSerial(serial));
    return found && structuredClone(found);
  }

  /** Forgets a serial; true if it was known. */
  deleteIdentity(serial: string): boolean {
    return this.identities.delete(requireSerial(serial));
  }

  /** Sets the fault applied to API answers; `{ mode: 'none' }` clears it. Throws on invalid input. */
  setFault(fault: SimulatorFault): void {
    const checked = parseFault(fault);
    if (!checked.ok) throw new Error(checked.message);
    this.fault = checked.value;
  }

  /** Back to the seeded identities, no fault, no intents, zero counters. */
  reset(): void {
    this.identities.clear();
    for (const { serial, identity } of this.seed) this.identities.set(serial, structuredClone(identity));
    this.intents.clear();
    this.fault = { mode: 'none' };
    this.counters = emptyStats();
  }

  /** Counters since start or the last reset. */
  stats(): SimulatorStats {
    return { ...this.counters };
  }

  /** True when the request's client certificate is one of the configured API certificates. */
  private isApiClient(req: IncomingMessage): boolean {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
    return peer !== undefined && this.apiClientFingerprints.has(peer.fingerprint256);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    res.on('finish', () => this.log(`${req.method ?? '?'} ${path} -> ${res.statusCode}`));
    if (API_PATHS.has(path)) {
      if (!this.isApiClient(req)) {
        sendJson(
          res,
          200,
          simpleResponse(
            SIMULATOR_OUTCOMES.UNKNOWN_API_CERTIFICATE,
            'This certificate is not a service agent certificate.',
          ),
        );
        return;
      }
      return this.handleApi(req, res);
    }
    if (path.startsWith(ADMIN_PREFIX)) {
      if (!this.isApiClient(req)) {
        sendJson(res, 403, { error: 'the admin API takes the API (service agent) certificate only' });
        return;
      }
      return this.handleAdmin(req, res, path.slice(ADMIN_PREFIX.length));
    }
    const intent = INTENT_REFERENCE.exec(path);
    // GET only: a HEAD (link preview, prefetch) must not use up a single-use intent.
    if (intent && req.method === 'GET') return this.handleSignon(req, res, intent[1]);
    sendPage(res, NOT_FOUND_PAGE);
  }

  // ---- API (/v1) ---------------------------------------------------------------------------------------

  private async handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.apiRequests++;
    let raw: Buffer;
    try {
      raw = await readBodyOrThrow(req, this.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close');
        sendJson(res, 413, simpleResponse(SIMULATOR_OUTCOMES.PARSE_ERROR, 'The request body is too large.'));
        return;
      }
      throw err;
    }
    const envelope = parseEnvelope(raw);
    const operation = envelope && `${req.method ?? ''} ${envelope.name}`;
    if (operation === 'POST Identity-Inquiry' || operation === 'GET Identity-Inquiry') this.counters.inquiries++;
    if (operation === 'PUT Intent') this.counters.intents++;

    const fault = this.fault;
    switch (fault.mode) {
      case 'latency':
        await this.sleep(fault.latencyMs);
        if (!this.server) return; // stopped while waiting: the connection is gone
        break;
      case 'http500':
        sendText(res, 500, 'Internal Server Error');
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'garbage':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end('<html><body>502 Bad Gateway</body></html>\x00\xff{"Identity-Profile":');
        return;
      default:
        break;
    }

    if (!envelope) {
      sendJson(
        res,
        200,
        simpleResponse(SIMULATOR_OUTCOMES.PARSE_ERROR, 'The body must be a JSON object with exactly one envelope key.'),
      );
      return;
    }
    if (operation === 'POST Identity-Inquiry' || operation === 'GET Identity-Inquiry') {
      if (fault.mode === 'outcome') {
        sendJson(res, 200, simpleResponse(fault.outcome, 'Answer forced by the simulator fault injection.'));
        return;
      }
      sendJson(res, 200, this.inquire(envelope.body));
      return;
    }
    if (operation === 'PUT Intent') {
      sendJson(res, 200, this.createIntent(envelope.body));
      return;
    }
    sendJson(
      res,
      200,
      simpleResponse(
        SIMULATOR_OUTCOMES.NO_SUCH_OPERATION,
        `No operation ${envelope.name} for method ${req.method ?? ''}.`,
      ),
    );
  }

  private inquire(body: Record<string, unknown>): unknown {
    const rawSerial = body['serial-number'];
    if (typeof rawSerial !== 'string') {
      return simpleResponse(SIMULATOR_OUTCOMES.INVALID_PARAMETER, 'serial-number must be a string.');
    }
    const serial = normaliseSerial(rawSerial);
    if (serial === undefined) {
      return simpleResponse(
        SIMULATOR_OUTCOMES.INVALID_PARAMETER,
        'serial-number must be a decimal number or 0x-prefixed hexadecimal.',
      );
    }
    for (const optional of ['service', 'ip-address']) {
      if (body[optional] !== undefined && typeof body[optional] !== 'string') {
        return simpleResponse(SIMULATOR_OUTCOMES.INVALID_PARAMETER, `${optional} must be a string.`);
      }
    }
    const identity = this.identities.get(serial);
    if (!identity) {
      return simpleResponse(SIMULATOR_OUTCOMES.UNKNOWN, PROBLEM_MESSAGES['PB 0006']);
    }
    if (!identity.outcome.startsWith('OK')) {
      const code = identity.outcome.slice(0, 7);
      return simpleResponse(identity.outcome, PROBLEM_MESSAGES[code] ?? 'The certificate cannot be accepted.');
    }
    return { 'Identity-Profile': toWireProfile(identity) };
  }

  private createIntent(body: Record<string, unknown>): unknown {
    const type = body['type'];
    if (typeof type !== 'string' || !this.acceptedIntentTypes.includes(type)) {
      return simpleResponse(
        SIMULATOR_OUTCOMES.INVALID_PARAMETER,
        `type must be one of: ${this.acceptedIntentTypes.join(', ')}.`,
      );
    }
    const returnUrl = body['return-url'];
    if (typeof returnUrl !== 'string' || !isAbsoluteHttpsUrl(returnUrl)) {
      return simpleResponse(SIMULATOR_OUTCOMES.INVALID_PARAMETER, 'return-url must be an absolute https URL.');
    }
    const strict = body['strict-massl'];
    if (strict !== undefined && typeof strict !== 'boolean') {
      return simpleResponse(SIMULATOR_OUTCOMES.INVALID_PARAMETER, 'strict-massl must be true or false.');
    }
    this.pruneIntents();
    const reference = randomBytes(24).toString('base64url');
    this.intents.set(reference, { returnUrl, createdAt: this.now(), used: false });
    return { 'Intent-Reference': { value: reference, outcome: SIMULATOR_OUTCOMES.ACKNOWLEDGED } };
  }

  /** Keeps the intent table bounded: long-expired intents go (a late visit then gets 404, not 410). */
  private pruneIntents(): void {
    const horizon = this.now() - Math.max(this.intentTtlMs * 10, 10 * 60_000);
    for (const [reference, intent] of this.intents) {
      if (intent.createdAt < horizon || this.intents.size >= MAX_INTENTS) this.intents.delete(reference);
      else break; // insertion order is creation order
    }
  }

  // ---- sign-on page (/<intent-reference>) ---------------------------------------------------------------

  private handleSignon(req: IncomingMessage, res: ServerResponse, reference: string): void {
    this.counters.signons++;
    const intent = this.intents.get(reference);
    if (!intent) return sendPage(res, UNKNOWN_INTENT_PAGE);
    if (intent.used) return sendPage(res, USED_INTENT_PAGE);
    if (this.now() - intent.createdAt > this.intentTtlMs) return sendPage(res, EXPIRED_INTENT_PAGE);
    intent.used = true;

    // The intent carries no serial: the device is recognised by the browser's own client certificate.
    const serial = peerSerial(req);
    const identity = serial === undefined ? undefined : this.identities.get(serial);
    if (serial === undefined || !identity) return sendPage(res, REFUSED_IDENTITY_PAGE);
    const code = identity.outcome.slice(0, 7);
    if (code === 'PB 0002' || code === 'PB 0003') {
      this.identities.set(serial, { ...identity, outcome: SIMULATOR_OUTCOMES.VALID });
    } else if (!code.startsWith('OK')) {
      return sendPage(res, REFUSED_IDENTITY_PAGE);
    }
    res.writeHead(302, { Location: intent.returnUrl, 'Cache-Control': 'no-store', 'Content-Length': '0' });
    res.end();
  }

  // ---- admin API (/__admin/) ----------------------------------------------------------------------------

  private async handleAdmin(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const method = req.method ?? '';
    const identityRoute = /^identities\/([^/]+)$/.exec(route);
    if (identityRoute) {
      if (!['GET', 'PUT', 'DELETE'].includes(method)) return methodNotAllowed(res, 'GET, PUT, DELETE');
      const serial = normaliseSerial(decodeSafely(identityRoute[1]));
      if (serial === undefined) {
        return sendJson(res, 400, { error: 'The serial must be a decimal number or 0x-prefixed hexadecimal.' });
      }
      if (method === 'GET') {
        const identity = this.identities.get(serial);
        if (!identity) return sendJson(res, 404, { error: `No identity for serial ${serial}.` });
        return sendJson(res, 200, { serial, identity });
      }
      if (method === 'DELETE') {
        if (!this.identities.delete(serial)) return sendJson(res, 404, { error: `No identity for serial ${serial}.` });
        res.writeHead(204).end();
        return;
      }
      const body = await this.readAdminJson(req, res);
      if (body === undefined) return;
      const identity = parseIdentity(body);
      if (!identity.ok) return sendJson(res, 400, { error: identity.message });
      const existed = this.identities.has(serial);
      this.identities.set(serial, identity.value);
      return sendJson(res, existed ? 200 : 201, { serial, identity: identity.value });
    }
    switch (route) {
      case 'faults': {
        if (method === 'GET') return sendJson(res, 200, { fault: this.fault });
        if (method !== 'POST') return methodNotAllowed(res, 'GET, POST');
        const body = await this.readAdminJson(req, res);
        if (body === undefined) return;
        const fault = parseFault(body);
        if (!fault.ok) return sendJson(res, 400, { error: fault.message });
        this.fault = fault.value;
        return sendJson(res, 200, { fault: this.fault });
      }
      case 'reset':
        if (method !== 'POST') return methodNotAllowed(res, 'POST');
        this.reset();
        return sendJson(res, 200, { reset: true });
      case 'stats':
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        return sendJson(res, 200, this.stats());
      default:
        return sendJson(res, 404, { error: 'No such admin endpoint.' });
    }
  }

  /** The request's JSON body, or undefined after answering 400/413 itself. */
  private async readAdminJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    let raw: Buffer;
    try {
      raw = await readBodyOrThrow(req, this.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      res.setHeader('Connection', 'close');
      sendJson(res, 413, { error: `The body must be at most ${this.maxBodyBytes} bytes.` });
      return undefined;
    }
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      sendJson(res, 400, { error: 'The body must be valid JSON.' });
      return undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingTimers.delete(timer);
        resolve();
      }, ms);
      this.pendingTimers.add(timer);
    });
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

function emptyStats(): MutableStats {
  return { apiRequests: 0, inquiries: 0, intents: 0, signons: 0 };
}

/** `localhost` when it resolves only to the address we listen on (nicer for browsers), else the address. */
async function chooseUrlHost(host: string): Promise<string> {
  if (host === '127.0.0.1' || host === '0.0.0.0') {
    try {
      const addresses = await lookup('localhost', { all: true });
      if (addresses.length > 0 && addresses.every((a) => a.address === '127.0.0.1')) return 'localhost';
    } catch {
      // no resolver answer: fall back to the literal address
    }
    return '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

function decodeSafely(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Decimal string of a serial given as decimal or `0x`-hex; undefined when malformed. */
function normaliseSerial(input: string): string | undefined {
  const trimmed = input.trim();
  if (DECIMAL_SERIAL.test(trimmed) || HEX_SERIAL.test(trimmed)) return BigInt(trimmed).toString(10);
  return undefined;
}

function requireSerial(input: string): string {
  const serial = typeof input === 'string' ? normaliseSerial(input) : undefined;
  if (serial === undefined) throw new Error(`invalid serial ${JSON.stringify(input)}: decimal or 0x-hex expected`);
  return serial;
}

function requireIdentity(input: SimulatedIdentity): SimulatedIdentity {
  const checked = parseIdentity(input);
  if (!checked.ok) throw new Error(`invalid identity: ${checked.message}`);
  return checked.value;
}

/** Serial of the TLS peer's certificate, decimal. */
function peerSerial(req: IncomingMessage): string | undefined {
  const hex = (req.socket as TLSSocket).getPeerCertificate?.()?.serialNumber;
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return BigInt(`0x${hex}`).toString(10);
}

/** The body, or BodyTooLargeError / ClientGoneError (the client left mid-body: nothing to answer). */
async function readBodyOrThrow(req: IncomingMessage, limit: number): Promise<Buffer> {
  const body = await readBody(req, limit);
  if (body === 'too-large') throw new BodyTooLargeError();
  if (body === 'aborted') throw new ClientGoneError();
  return body;
}

/** The single envelope of a request body, or undefined when it is not one JSON object with one object key. */
function parseEnvelope(raw: Buffer): { name: string; body: Record<string, unknown> } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed)) return undefined;
  const keys = Object.keys(parsed);
  if (keys.length !== 1) return undefined;
  const body = parsed[keys[0]];
  if (!isPlainObject(body)) return undefined;
  return { name: keys[0], body };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsoluteHttpsUrl(value: string): boolean {
  if (value.length > 2048) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

function simpleResponse(outcome: string, message: string): unknown {
  return { 'Simple-Response': { outcome, message } };
}

/** The `Identity-Profile` body of an identity whose outcome is OK. */
function toWireProfile(identity: SimulatedIdentity): Record<string, unknown> {
  const outcome =
    identity.localUserId && identity.outcome.startsWith('OK 0001') ? SIMULATOR_OUTCOMES.VALID_BOUND : identity.outcome;
  // Custom fields first so they can never shadow a standard key (validation refuses that anyway).
  const profile: Record<string, unknown> = { ...(identity.customFields ?? {}) };
  profile['outcome'] = outcome;
  profile['service-roles'] = [...identity.roles];
  const optional: ReadonlyArray<[string, string | undefined]> = [
    ['organizational-reference', identity.organizationalReference],
    ['organizational-name', identity.organizationalName],
    ['organizational-email', identity.organizationalEmail],
    ['local-user-id', identity.localUserId],
    ['local-user-name', identity.localUserName],
  ];
  for (const [key, value] of optional) if (value !== undefined) profile[key] = value;
  // Reputation data is always present on the real service; modest defaults for a fresh identity.
  profile['trust-score'] = identity.trustScore ?? 1;
  profile['sites-frequented'] = identity.sitesFrequented ?? 1;
  profile['average-identity-age'] = identity.averageIdentityAge ?? 0;
  profile['max-identity-age'] = identity.maxIdentityAge ?? 0;
  profile['local-trust'] = identity.localTrust ?? 0;
  profile['local-intrusions'] = identity.localIntrusions ?? 0;
  profile['trust-sponsors'] = [...(identity.trustSponsors ?? [])];
  return profile;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Checks an identity from the admin API, a seed or setIdentity; the result is a fresh copy. */
function parseIdentity(input: unknown): Validated<SimulatedIdentity> {
  const fail = (message: string): Validated<SimulatedIdentity> => ({ ok: false, message });
  if (!isPlainObject(input)) return fail('The identity must be a JSON object.');
  const unknownKey = Object.keys(input).find((key) => !IDENTITY_KEYS.has(key));
  if (unknownKey !== undefined) {
    return fail(`Unknown field ${JSON.stringify(unknownKey)}; expected: ${[...IDENTITY_KEYS].join(', ')}.`);
  }
  const { outcome, roles, trustSponsors, customFields } = input;
  if (typeof outcome !== 'string' || !OUTCOME_FORMAT.test(outcome)) {
    return fail('outcome must be a code and words, e.g. "OK 0001 Subject anonymous certificate valid".');
  }
  if (roles !== undefined && !isStringArray(roles)) return fail('roles must be an array of strings.');
  const identity: Record<string, unknown> = { outcome, roles: [...(roles ?? [])] };
  for (const field of IDENTITY_STRING_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') return fail(`${field} must be a string.`);
    identity[field] = value;
  }
  for (const field of IDENTITY_NUMBER_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`${field} must be a number.`);
    identity[field] = value;
  }
  if (trustSponsors !== undefined) {
    if (!isStringArray(trustSponsors)) return fail('trustSponsors must be an array of strings.');
    identity['trustSponsors'] = [...trustSponsors];
  }
  if (customFields !== undefined) {
    if (!isPlainObject(customFields)) return fail('customFields must be a JSON object.');
    const clash = Object.keys(customFields).find((key) => key === '' || PROFILE_KEYS.has(key));
    if (clash !== undefined) {
      return fail(`customFields may not use the key ${JSON.stringify(clash)}: it is empty or a standard field.`);
    }
    identity['customFields'] = structuredClone(customFields);
  }
  return { ok: true, value: identity as unknown as SimulatedIdentity };
}

/** Checks a fault from the admin API or setFault. */
function parseFault(input: unknown): Validated<SimulatorFault> {
  const fail = (message: string): Validated<SimulatorFault> => ({ ok: false, message });
  if (!isPlainObject(input)) return fail('The fault must be a JSON object.');
  const unknownKey = Object.keys(input).find((key) => !['mode', 'latencyMs', 'outcome'].includes(key));
  if (unknownKey !== undefined)
    return fail(`Unknown field ${JSON.stringify(unknownKey)}; expected mode, latencyMs, outcome.`);
  const { mode, latencyMs, outcome } = input;
  switch (mode) {
    case 'none':
    case 'http500':
    case 'drop':
    case 'garbage':
      return { ok: true, value: { mode } };
    case 'latency':
      if (
        typeof latencyMs !== 'number' ||
        !Number.isInteger(latencyMs) ||
        latencyMs < 0 ||
        latencyMs > MAX_LATENCY_MS
      ) {
        return fail(`latencyMs must be an integer from 0 to ${MAX_LATENCY_MS}.`);
      }
      return { ok: true, value: { mode, latencyMs } };
    case 'outcome':
      if (typeof outcome !== 'string' || !OUTCOME_FORMAT.test(outcome)) {
        return fail('outcome must be a code and words, e.g. "ER 1103 Revoked API certificate".');
      }
      return { ok: true, value: { mode, outcome } };
    default:
      return fail('mode must be one of none, latency, http500, drop, garbage, outcome.');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendPage(res: ServerResponse, page: SimulatorPage): void {
  res.writeHead(page.status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(page.html),
    'Cache-Control': 'no-store',
  });
  res.end(page.html);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendJson(res, 405, { error: `Method not allowed; use ${allow}.` });
}
