/**
 * The Identity Plus simulator: one loopback HTTPS server with mutual TLS that speaks the wire API of
 * `https://api.identity.plus/v1` (envelopes, outcome codes, inquiries, intents, local user bindings,
 * intrusion reports), serves the browser sign-on page for an intent, the self-authority API that renews API
 * certificates (`POST /api/v1`, renew_certificate), the CA trust chain (`GET /download/trust-chain`), and an
 * admin API under `/__admin/` to set identities and settings and inject faults. Local mode and the integration tests
 * use it in place of the real service. See docs/identityplus-api.md.
 *
 * This file is the server: TLS and routing. Its options are in simulator-options.ts, what it remembers in
 * simulator-state.ts (settings in simulator-settings.ts), what it accepts in simulator-requests.ts and
 * simulator-input.ts, what it answers in simulator-wire.ts with the outcomes of simulator-outcomes.ts, the
 * API operations in simulator-api.ts, the sign-on page in simulator-signon.ts, the trust chain in
 * simulator-trust-chain.ts, transport faults in simulator-faults.ts, renewals in simulator-self-authority.ts
 * and the admin API in simulator-admin.ts.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { close, listen } from './server-lifecycle';
import { SimulatorAdmin } from './simulator-admin';
import { type ApiOperation, apiOperations, operationKey } from './simulator-api';
import { TransportFaults } from './simulator-faults';
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
import { parseFault, requireIdentity, requireSerial } from './simulator-input';
import type { IdentityPlusSimulatorOptions } from './simulator-options';
import { NOT_FOUND_PAGE } from './simulator-pages';
import { parseEnvelope } from './simulator-requests';
import { DEFAULT_SETTINGS, type SimulatorSettings, requireSettings } from './simulator-settings';
import { INTENT_REFERENCE, serveSignon } from './simulator-signon';
import { type SimulatedIdentity, type SimulatorFault, SimulatorState, type SimulatorStats } from './simulator-state';
import { SimulatorSelfAuthority } from './simulator-self-authority';
import { TRUST_CHAIN_PATH, orderedTrustChain, serveTrustChain } from './simulator-trust-chain';
import { SIMULATOR_OUTCOMES, forcedOutcome, simpleResponse } from './simulator-wire';

// The public API of the simulator, as before the split: importers need only this file.
export type { IdentityPlusSimulatorOptions } from './simulator-options';
export type { ProblemEnvelope, SimulatorSettings } from './simulator-settings';
export type { SimulatedIdentity, SimulatorFault, SimulatorSeedEntry, SimulatorStats } from './simulator-state';
export { SIMULATOR_OUTCOMES } from './simulator-wire';

const API_PATHS = new Set(['/', '/v1', '/v1/']);
const ADMIN_PREFIX = '/__admin/';
/** The self-authority API (the real service has it on its own host; here it shares the server). */
const SELF_AUTHORITY_PATH = '/api/v1';

/** A loopback Identity Plus: API, sign-on page and admin API on one mutual TLS server. */
export class IdentityPlusSimulator {
  private readonly opts: IdentityPlusSimulatorOptions;
  private readonly host: string;
  private readonly maxBodyBytes: number;
  private readonly log: (line: string) => void;
  private readonly state: SimulatorState;
  private readonly admin: SimulatorAdmin;
  private readonly operations: ReadonlyMap<string, ApiOperation>;
  private readonly faults = new TransportFaults();
  private server?: https.Server;
  private boundPort?: number;
  private urlHost?: string;

  /** Fingerprints of the API certificates accepted: the configured ones and every one renewed since. */
  private readonly apiClientFingerprints: Set<string>;
  private readonly selfAuthority: SimulatorSelfAuthority;
  /** The CA certificates device certificates chain to, intermediate first: the trust chain download. */
  private readonly trustChain: string;

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
    const settings = requireSettings(DEFAULT_SETTINGS, {
      ...(opts.problemEnvelope === undefined ? {} : { problemEnvelope: opts.problemEnvelope }),
      ...(opts.acceptedIntentTypes === undefined ? {} : { acceptedIntentTypes: opts.acceptedIntentTypes }),
      ...(opts.managedServices === undefined ? {} : { managedServices: opts.managedServices }),
    });
    this.trustChain = orderedTrustChain(opts.tls.ca);
    this.state = new SimulatorState({
      seed,
      intentTtlMs: opts.intentTtlMs ?? 30_000,
      now: opts.now ?? Date.now,
      settings,
    });
    this.admin = new SimulatorAdmin(this.state, this.maxBodyBytes);
    this.operations = apiOperations(this.state);
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
    this.faults.start();
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
    this.faults.stop();
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

  /** The settings in force (problem envelope, accepted intent types, managed services). */
  settings(): SimulatorSettings {
    return structuredClone(this.state.settings);
  }

  /** Changes some settings until the next reset. Throws on invalid input, changing nothing. */
  updateSettings(changes: Partial<SimulatorSettings>): void {
    this.state.settings = requireSettings(this.state.settings, changes);
  }

  /** Back to the seeded identities and the first settings: no fault, intents or intrusions, zero counters. */
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
        sendJson(res, 200, this.notAnAgent(req));
        return;
      }
      await this.handleApi(req, res, this.operations);
      return;
    }
    if (path === TRUST_CHAIN_PATH) {
      this.state.count('trustChains');
      const fault = this.state.fault;
      await serveTrustChain(req, res, {
        agent: this.apiClient(req) !== undefined,
        chain: this.trustChain,
        transportFault: () => this.faults.answered(fault, req, res),
      });
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
      serveSignon(this.state, req, res, reference);
      return;
    }
    sendPage(res, NOT_FOUND_PAGE);
  }

  /**
   * The answer to an API request made with another certificate of the CA than an accepted API certificate:
   * ER 0012 for a device Identity Plus knows (a device certificate, not a service agent), ER 1101 otherwise.
   */
  private notAnAgent(req: IncomingMessage): ReturnType<typeof simpleResponse> {
    const serial = peerSerial(req);
    if (serial !== undefined && this.state.hasIdentity(serial)) {
      return simpleResponse(
        SIMULATOR_OUTCOMES.EXPECTING_SERVICE_AGENT,
        'This is a device certificate; the API takes a service agent certificate.',
      );
    }
    return simpleResponse(
      SIMULATOR_OUTCOMES.UNKNOWN_API_CERTIFICATE,
      'This certificate is not a service agent certificate.',
    );
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
    if (await this.faults.answered(fault, req, res)) return;

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
      transportFault: () => this.faults.answered(fault, req, res),
      accept: (pem) => this.acceptApiClient(pem),
    });
  }
}
