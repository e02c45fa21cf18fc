/**
 * The Identity Plus simulator: one loopback HTTPS server with mutual TLS that speaks the wire API of
 * `https://api.identity.plus/v1` (envelopes, outcome codes, intents), serves the browser sign-on page for
 * an intent, the self-authority API that renews API certificates (`POST /api/v1`, renew_certificate), and
 * an admin API under `/__admin/` to set identities and inject faults. Local mode and the integration tests
 * use it in place of the real service. See docs/identityplus-api.md.
 *
 * This file is the server: TLS, routing, faults and the sign-on page. What it remembers is in
 * simulator-state.ts, what it accepts in simulator-input.ts, what it answers in simulator-wire.ts, the API
 * operations in simulator-api.ts, renewals in simulator-self-authority.ts and the admin API in
 * simulator-admin.ts.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { KeyPair } from './dev-pki';
import { close, listen } from './server-lifecycle';
import { SimulatorAdmin } from './simulator-admin';
import { type ApiOperation, apiOperations, operationKey } from './simulator-api';
import {
  ClientGoneError,
  chooseUrlHost,
  pathOf,
  peerSerial,
  readBodyOr413,
  sendJson,
  sendPage,
  sendText,
} from './simulator-http';
import { parseEnvelope, parseFault, requireIdentity, requireSerial } from './simulator-input';
import {
  EXPIRED_INTENT_PAGE,
  NOT_FOUND_PAGE,
  REFUSED_IDENTITY_PAGE,
  type SimulatorPage,
  UNKNOWN_INTENT_PAGE,
  USED_INTENT_PAGE,
} from './simulator-pages';
import {
  type IntentClaim,
  type SimulatedIdentity,
  type SimulatorFault,
  type SimulatorSeedEntry,
  SimulatorState,
  type SimulatorStats,
} from './simulator-state';
import { SimulatorSelfAuthority } from './simulator-self-authority';
import { SIMULATOR_OUTCOMES, forcedOutcome, isOkOutcome, needsValidation, simpleResponse } from './simulator-wire';

// The public API of the simulator, as before the split: importers need only this file.
export type { SimulatedIdentity, SimulatorFault, SimulatorSeedEntry, SimulatorStats } from './simulator-state';
export { SIMULATOR_OUTCOMES } from './simulator-wire';

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
  /**
   * The CA that renewals (`POST /api/v1`, renew_certificate) issue new API certificates from: the one that
   * issued `apiClients`. @default - renewals are answered with an error
   */
  readonly issuer?: KeyPair;
  /** Lifetime of a renewed API certificate. @default 365 */
  readonly renewedLifetimeDays?: number;
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

const API_PATHS = new Set(['/', '/v1', '/v1/']);
const ADMIN_PREFIX = '/__admin/';
/** The self-authority API (the real service has it on its own host; here it shares the server). */
const SELF_AUTHORITY_PATH = '/api/v1';
const INTENT_REFERENCE = /^\/([A-Za-z0-9_-]{8,128})$/;

/** The page a sign-on visit gets when its intent cannot be used. */
const INTENT_PAGES: Readonly<Record<Exclude<IntentClaim['status'], 'claimed'>, SimulatorPage>> = {
  unknown: UNKNOWN_INTENT_PAGE,
  used: USED_INTENT_PAGE,
  expired: EXPIRED_INTENT_PAGE,
};

/** A loopback Identity Plus: API, sign-on page and admin API on one mutual TLS server. */
export class IdentityPlusSimulator {
  private readonly opts: IdentityPlusSimulatorOptions;
  private readonly host: string;
  private readonly maxBodyBytes: number;
  private readonly log: (line: string) => void;
  private readonly state: SimulatorState;
  private readonly admin: SimulatorAdmin;
  private readonly operations: ReadonlyMap<string, ApiOperation>;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private server?: https.Server;
  private boundPort?: number;
  private urlHost?: string;

  /** Fingerprints of the API certificates accepted: the configured ones and every one renewed since. */
  private readonly apiClientFingerprints: Set<string>;
  private readonly selfAuthority: SimulatorSelfAuthority;

  constructor(opts: IdentityPlusSimulatorOptions) {
    this.opts = opts;
    this.host = opts.host ?? '127.0.0.1';
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
    this.log = opts.log ?? (() => undefined);
    if (opts.apiClients.length === 0) throw new Error('apiClients must name at least one API certificate');
    this.apiClientFingerprints = new Set(opts.apiClients.map((pem) => new X509Certificate(pem).fingerprint256));
    // Validate the seed now so a bad one fails at construction, not at the first reset.
    const seed = (opts.seed ?? []).map((entry) => ({
      serial: requireSerial(entry.serial),
      identity: requireIdentity(entry.identity),
    }));
    this.state = new SimulatorState({ seed, intentTtlMs: opts.intentTtlMs ?? 30_000, now: opts.now ?? Date.now });
    this.admin = new SimulatorAdmin(this.state, this.maxBodyBytes);
    this.operations = apiOperations(this.state, opts.acceptedIntentTypes ?? ['validate', 'discover']);
    this.selfAuthority = new SimulatorSelfAuthority({
      issuer: opts.issuer,
      lifetimeDays: opts.renewedLifetimeDays,
      now: opts.now,
    });
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
    this.state.setIdentity(requireSerial(serial), requireIdentity(identity));
  }

  /** The identity of a serial, if any. */
  getIdentity(serial: string): SimulatedIdentity | undefined {
    const found = this.state.identity(requireSerial(serial));
    return found && structuredClone(found);
  }

  /** Forgets a serial; true if it was known. */
  deleteIdentity(serial: string): boolean {
    return this.state.deleteIdentity(requireSerial(serial));
  }

  /** Sets the fault applied to API answers; `{ mode: 'none' }` clears it. Throws on invalid input. */
  setFault(fault: SimulatorFault): void {
    const checked = parseFault(fault);
    if (!checked.ok) throw new Error(checked.message);
    this.state.fault = checked.value;
  }

  /** Back to the seeded identities, no fault, no intents, zero counters. */
  reset(): void {
    this.state.reset();
  }

  /** Accepts another API certificate (PEM) from now on, as after a renewal. */
  acceptApiClient(pem: string): void {
    this.apiClientFingerprints.add(new X509Certificate(pem).fingerprint256);
  }

  /** Counters since start or the last reset. */
  stats(): SimulatorStats {
    return this.state.stats();
  }

  /** The request's client certificate when it is one of the accepted API certificates. */
  private apiClient(req: IncomingMessage): X509Certificate | undefined {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
    return peer !== undefined && this.apiClientFingerprints.has(peer.fingerprint256) ? peer : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    res.on('finish', () => this.log(`${req.method ?? '?'} ${path} -> ${res.statusCode}`));
    if (API_PATHS.has(path)) {
      if (!this.apiClient(req)) {
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
      await this.handleApi(req, res, this.operations);
      return;
    }
    if (path === SELF_AUTHORITY_PATH) {
      await this.handleSelfAuthority(req, res);
      return;
    }
    if (path.startsWith(ADMIN_PREFIX)) {
      if (!this.apiClient(req)) {
        sendJson(res, 403, { error: 'the admin API takes the API (service agent) certificate only' });
        return;
      }
      await this.admin.handle(req, res, path.slice(ADMIN_PREFIX.length));
      return;
    }
    const reference = INTENT_REFERENCE.exec(path)?.[1];
    // GET only: a HEAD (link preview, prefetch) must not use up a single-use intent.
    if (reference !== undefined && req.method === 'GET') {
      this.handleSignon(req, res, reference);
      return;
    }
    sendPage(res, NOT_FOUND_PAGE);
  }

  // ---- API (/v1) ---------------------------------------------------------------------------------------

  /** Answers one API request with one of `operations`, or with the fault injected. */
  private async handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    operations: ReadonlyMap<string, ApiOperation>,
  ): Promise<void> {
    this.state.count('apiRequests');
    const raw = await readBodyOr413(
      req,
      res,
      this.maxBodyBytes,
      simpleResponse(SIMULATOR_OUTCOMES.PARSE_ERROR, 'The request body is too large.'),
    );
    if (raw === undefined) return;
    const envelope = parseEnvelope(raw);
    const operation = envelope && operations.get(operationKey(req.method ?? '', envelope.name));
    // Counted before any fault, so a test can see how many requests a faulted client made.
    if (operation?.counter !== undefined) this.state.count(operation.counter);

    const fault = this.state.fault;
    if (await this.answeredByFault(fault, req, res)) return;

    if (!envelope) {
      sendJson(
        res,
        200,
        simpleResponse(SIMULATOR_OUTCOMES.PARSE_ERROR, 'The body must be a JSON object with exactly one envelope key.'),
      );
      return;
    }
    if (!operation) {
      const message = `No operation ${envelope.name} for method ${req.method ?? ''}.`;
      sendJson(res, 200, simpleResponse(SIMULATOR_OUTCOMES.NO_SUCH_OPERATION, message));
      return;
    }
    const forced = fault.mode === 'outcome' && operation.outcomeFault;
    sendJson(res, 200, forced ? forcedOutcome(fault.outcome) : operation.answer(envelope.body));
  }

  // ---- self-authority API (/api/v1) ---------------------------------------------------------------------

  /** Renews the calling API certificate (see simulator-self-authority.ts); faults apply as on `/v1`. */
  private async handleSelfAuthority(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.state.count('renewals');
    const fault = this.state.fault;
    await this.selfAuthority.serve(req, res, {
      caller: this.apiClient(req),
      maxBodyBytes: this.maxBodyBytes,
      renewalFault: fault.mode === 'renewal' ? fault.renewal : undefined,
      transportFault: () => this.answeredByFault(fault, req, res),
      accept: (pem) => this.acceptApiClient(pem),
    });
  }

  /**
   * Applies the transport side of a fault: true when it answered (or dropped) the request itself. The
   * `outcome` fault changes the answer instead, per operation (see {@link ApiOperation.outcomeFault}).
   */
  private async answeredByFault(fault: SimulatorFault, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    switch (fault.mode) {
      case 'none':
      case 'outcome':
      case 'renewal':
        return false;
      case 'latency':
        await this.sleep(fault.latencyMs);
        return this.server === undefined; // stopped while waiting: the connection is gone
      case 'http500':
        sendText(res, 500, 'Internal Server Error');
        return true;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'garbage':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end('<html><body>502 Bad Gateway</body></html>\x00\xff{"Identity-Profile":');
        return true;
    }
  }

  // ---- sign-on page (/<intent-reference>) ---------------------------------------------------------------

  private handleSignon(req: IncomingMessage, res: ServerResponse, reference: string): void {
    this.state.count('signons');
    const claim = this.state.claimIntent(reference);
    if (claim.status !== 'claimed') {
      sendPage(res, INTENT_PAGES[claim.status]);
      return;
    }

    // The intent carries no serial: the device is recognised by the browser's own client certificate.
    const serial = peerSerial(req);
    const identity = serial === undefined ? undefined : this.state.identity(serial);
    if (serial === undefined || !identity) {
      sendPage(res, REFUSED_IDENTITY_PAGE);
      return;
    }
    if (needsValidation(identity.outcome)) {
      this.state.setIdentity(serial, { ...identity, outcome: SIMULATOR_OUTCOMES.VALID });
    } else if (!isOkOutcome(identity.outcome)) {
      sendPage(res, REFUSED_IDENTITY_PAGE);
      return;
    }
    res.writeHead(302, { Location: claim.returnUrl, 'Cache-Control': 'no-store', 'Content-Length': '0' });
    res.end();
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
