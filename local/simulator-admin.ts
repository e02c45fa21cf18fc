/**
 * The simulator's admin API under `/__admin/`: list and set identities (with their bindings and open
 * intrusion reports), change settings, inject faults, reset, read the counters.
 * JSON in and out, plain HTTP statuses; only the API certificate reaches it (the server checks that) and
 * faults never apply to it. A new endpoint is one more entry in the route table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, methodNotAllowed, readBodyOrThrow, sendJson } from './simulator-http';
import { wireSerial, parseFault, parseIdentity } from './simulator-input';
import { applySettings } from './simulator-settings';
import type { SimulatorState } from './simulator-state';

/** Answers one admin request; `match` is the route pattern's match on the path after `/__admin/`. */
type AdminHandler = (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray) => Promise<void> | void;

interface AdminRoute {
  /** Matched against the whole path after `/__admin/`. */
  readonly pattern: RegExp;
  /** Handlers by HTTP method; any other method gets 405 naming these. */
  readonly methods: Readonly<Record<string, AdminHandler>>;
}

/** The admin API over the simulator's state. */
export class SimulatorAdmin {
  private readonly state: SimulatorState;
  private readonly maxBodyBytes: number;
  private readonly routes: readonly AdminRoute[];

  constructor(state: SimulatorState, maxBodyBytes: number) {
    this.state = state;
    this.maxBodyBytes = maxBodyBytes;
    this.routes = [
      {
        pattern: /^identities$/,
        methods: {
          GET: (_req, res) => {
            const identities = [...this.state.allIdentities().keys()].map((serial) => this.view(serial));
            sendJson(res, 200, { identities });
          },
        },
      },
      {
        pattern: /^identities\/([^/]+)$/,
        methods: {
          GET: (_req, res, match) => this.getIdentity(res, match),
          PUT: (req, res, match) => this.putIdentity(req, res, match),
          DELETE: (_req, res, match) => this.deleteIdentity(res, match),
        },
      },
      {
        pattern: /^faults$/,
        methods: {
          GET: (_req, res) => sendJson(res, 200, { fault: this.state.fault }),
          POST: (req, res) => this.postFault(req, res),
        },
      },
      {
        pattern: /^settings$/,
        methods: {
          GET: (_req, res) => sendJson(res, 200, { settings: this.state.settings }),
          POST: (req, res) => this.postSettings(req, res),
        },
      },
      {
        pattern: /^reset$/,
        methods: {
          POST: (_req, res) => {
            this.state.reset();
            sendJson(res, 200, { reset: true });
          },
        },
      },
      { pattern: /^stats$/, methods: { GET: (_req, res) => sendJson(res, 200, this.state.stats()) } },
    ];
  }

  /** Answers a request for `/__admin/<route>`. */
  async handle(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    for (const { pattern, methods } of this.routes) {
      const match = pattern.exec(route);
      if (!match) continue;
      const method = req.method ?? '';
      const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
      if (handler) await handler(req, res, match);
      else methodNotAllowed(res, Object.keys(methods).join(', '));
      return;
    }
    sendJson(res, 404, { error: 'No such admin endpoint.' });
  }

  private getIdentity(res: ServerResponse, match: RegExpExecArray): void {
    const serial = this.serialOf(res, match);
    if (serial === undefined) return;
    if (this.state.hasIdentity(serial)) sendJson(res, 200, this.view(serial));
    else sendJson(res, 404, { error: `No identity for serial ${serial}.` });
  }

  /** An identity as the admin API shows it: with the intrusion reports on it that were not withdrawn. */
  private view(serial: string): Record<string, unknown> {
    const intrusions = this.state.intrusionsOn(serial).map(({ serial: _serial, ...report }) => report);
    return { serial, identity: this.state.identity(serial), intrusions };
  }

  private deleteIdentity(res: ServerResponse, match: RegExpExecArray): void {
    const serial = this.serialOf(res, match);
    if (serial === undefined) return;
    if (this.state.deleteIdentity(serial)) res.writeHead(204).end();
    else sendJson(res, 404, { error: `No identity for serial ${serial}.` });
  }

  private async putIdentity(req: IncomingMessage, res: ServerResponse, match: RegExpExecArray): Promise<void> {
    const serial = this.serialOf(res, match);
    if (serial === undefined) return;
    const body = await this.readJson(req, res);
    if (body === undefined) return;
    const identity = parseIdentity(body);
    if (!identity.ok) {
      sendJson(res, 400, { error: identity.message });
      return;
    }
    const existed = this.state.hasIdentity(serial);
    this.state.setIdentity(serial, identity.value);
    sendJson(res, existed ? 200 : 201, { serial, identity: identity.value });
  }

  private async postFault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.readJson(req, res);
    if (body === undefined) return;
    const fault = parseFault(body);
    if (!fault.ok) {
      sendJson(res, 400, { error: fault.message });
      return;
    }
    this.state.fault = fault.value;
    sendJson(res, 200, { fault: this.state.fault });
  }

  private async postSettings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.readJson(req, res);
    if (body === undefined) return;
    const settings = applySettings(this.state.settings, body);
    if (!settings.ok) {
      sendJson(res, 400, { error: settings.message });
      return;
    }
    this.state.settings = settings.value;
    sendJson(res, 200, { settings: this.state.settings });
  }

  /** The decimal serial in an identities route, or undefined after answering 400 itself. */
  private serialOf(res: ServerResponse, match: RegExpExecArray): string | undefined {
    const serial = wireSerial(decodeSafely(match[1] ?? ''));
    if (serial === undefined) {
      sendJson(res, 400, { error: 'The serial must be a decimal number or 0x-prefixed hexadecimal.' });
    }
    return serial;
  }

  /** The request's JSON body, or undefined after answering 400/413 itself. */
  private async readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
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
}

function decodeSafely(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
