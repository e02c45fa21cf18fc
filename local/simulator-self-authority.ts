/**
 * The simulator's self-authority API: `POST /api/v1` with `{"operation":"renew_certificate","args":{...}}`,
 * as the public Identity Plus tools call it to renew their agent certificates (docs/identityplus-api.md,
 * "Self-authority API"). It issues a fresh certificate from the simulator's CA for the calling API
 * certificate (same subject, new key, new serial) and answers it as the real service does: base64 PKCS#12
 * and password, and the PEM pair as base64 of PEM text. The server then accepts both certificates until
 * the old one expires (the TLS handshake refuses an expired one).
 *
 * Written from the request and answer shapes only; it shares no code with plusgate's client
 * (functions/adapters/self-authority-client.ts), which it is the oracle for.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type KeyPair, issueCertificate } from './dev-pki';
import { readBodyOr413, sendJson } from './simulator-http';

/** What a renewal can be told to do wrong (the `renewal` fault mode). */
export type RenewalFault =
  | 'refuse' // answers an error: nothing issued
  | 'not-renewed' // answers an outcome other than "renewed"
  | 'garbage' // answers 200 with a body that is not JSON
  | 'mismatched-key' // issues a certificate but answers another certificate's key with it (PEM pair only)
  | 'expired'; // issues a certificate that has already expired

export const RENEWAL_FAULTS: readonly RenewalFault[] = [
  'refuse',
  'not-renewed',
  'garbage',
  'mismatched-key',
  'expired',
];

/** One answer: status and body text. `issued` is the PEM of a certificate the caller may now use. */
export interface SelfAuthorityAnswer {
  readonly status: number;
  readonly body: string;
  readonly issued?: string;
}

const DAY_MS = 86_400_000;

export interface SimulatorSelfAuthorityOptions {
  /** The CA renewed certificates are issued from; without one, renewals are answered with an error. */
  readonly issuer?: KeyPair;
  /** Lifetime of a renewed certificate. @default 365 */
  readonly lifetimeDays?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export class SimulatorSelfAuthority {
  readonly #issuer?: KeyPair;
  readonly #lifetimeMs: number;
  readonly #now: () => number;

  constructor(options: SimulatorSelfAuthorityOptions) {
    this.#issuer = options.issuer;
    this.#lifetimeMs = (options.lifetimeDays ?? 365) * DAY_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Serves one `/api/v1` request: only an accepted API certificate (`caller`) may renew itself, by POST;
   * `transportFault` answers for a latency/http500/drop/garbage fault, `accept` is told of a new certificate.
   */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: {
      readonly caller: X509Certificate | undefined;
      readonly maxBodyBytes: number;
      readonly renewalFault: RenewalFault | undefined;
      readonly transportFault: () => Promise<boolean>;
      readonly accept: (pem: string) => void;
    },
  ): Promise<void> {
    if (!ctx.caller) {
      sendJson(res, 403, { error: 'only a service agent certificate may renew itself', result: null });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendJson(res, 405, { error: 'the self-authority API takes POST', result: null });
      return;
    }
    const raw = await readBodyOr413(req, res, ctx.maxBodyBytes, {
      error: 'the request body is too large',
      result: null,
    });
    if (raw === undefined || (await ctx.transportFault())) return;
    const answer = await this.answer(ctx.caller, raw, ctx.renewalFault);
    if (answer.issued !== undefined) ctx.accept(answer.issued);
    res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(answer.body);
  }

  /** Answers one self-authority request from the API certificate `caller`. */
  async answer(caller: X509Certificate, raw: Buffer, fault: RenewalFault | undefined): Promise<SelfAuthorityAnswer> {
    const request = parseRequest(raw);
    if (typeof request === 'string') return error(400, request);
    if (fault === 'refuse') return error(200, 'simulated refusal: this agent may not renew its certificate');
    if (fault === 'garbage') return { status: 200, body: '<html>502 Bad Gateway</html>\u0000{"result":' };
    if (!this.#issuer) return error(200, 'this simulator has no CA to issue certificates from');

    const now = this.#now();
    const from = new Date(caller.validFrom).getTime();
    const due = from + 0.75 * (new Date(caller.validTo).getTime() - from);
    if (fault === 'not-renewed' || (request.tentative && now < due)) {
      return ok({ outcome: 'not due', name: request.device });
    }
    const subject = caller.subject.split('\n').join(',');
    const validity =
      fault === 'expired'
        ? { notBefore: new Date(now - 2 * DAY_MS), notAfter: new Date(now - DAY_MS) }
        : { notBefore: new Date(now - 60_000), notAfter: new Date(now + this.#lifetimeMs) };
    const issued = await issueCertificate(this.#issuer, { subject, usage: 'client', ...validity });
    const key =
      fault === 'mismatched-key'
        ? (await issueCertificate(this.#issuer, { subject, usage: 'client' })).key
        : issued.key;
    return {
      ...ok({
        outcome: 'renewed',
        name: request.device,
        // A mismatched key comes as the PEM pair alone: a PKCS#12 holds a certificate with its own key.
        ...(fault === 'mismatched-key' ? {} : { p12: issued.p12.toString('base64'), password: issued.p12Password }),
        certificate: base64(issued.cert + this.#issuer.cert),
        'private-key': base64(key),
      }),
      // A certificate with the wrong key is never usable; an expired one is refused in the handshake anyway.
      ...(fault === 'mismatched-key' ? {} : { issued: issued.cert }),
    };
  }
}

function parseRequest(raw: Buffer): { device: string; tentative: boolean } | string {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'the body must be JSON';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const { operation, args } = body as Record<string, unknown>;
  if (operation !== 'renew_certificate') {
    return `unknown operation ${JSON.stringify(operation)}; this simulator knows renew_certificate`;
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return 'args must be a JSON object';
  const { device, tentative } = args as Record<string, unknown>;
  if (typeof device !== 'string' || device.trim() === '' || device.length > 256) {
    return 'args.device must be the agent name (1 to 256 characters)';
  }
  if (tentative !== undefined && typeof tentative !== 'boolean') return 'args.tentative must be true or false';
  return { device, tentative: tentative === true };
}

function ok(result: Record<string, string>): SelfAuthorityAnswer {
  return { status: 200, body: JSON.stringify({ error: '', result }) };
}

function error(status: number, message: string): SelfAuthorityAnswer {
  return { status, body: JSON.stringify({ error: message, result: null }) };
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
