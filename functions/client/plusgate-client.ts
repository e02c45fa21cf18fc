/**
 * A typed Node client for services that ask plusgate about a certificate: `new PlusgateClient({ endpoint,
 * region }).verify({ certificate })`. Requests to the IAM-only service API are signed with SigV4 (service
 * `execute-api`) by the AWS SDK's signer, with credentials from the default provider chain (environment,
 * SSO, profile, container or instance role) unless given.
 *
 * Self-contained on purpose: copy this one file into a service. It needs `@smithy/signature-v4`,
 * `@smithy/hash-node`, `@smithy/types` and `@aws-sdk/credential-provider-node`.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** The service API routes (SERVICE_ROUTES, IDENTITY_ROUTES): spelled out so this file can be copied alone. */
const VERIFY_ROUTE = '/verify';
const BINDINGS_ROUTE = '/bindings';
const INTRUSIONS_ROUTE = '/intrusions';

/** A device certificate (PEM) or its serial (decimal or 0x-hex). */
export type DeviceRef = { readonly certificate: string } | { readonly serial: string };

/** The answer of PUT /bindings: who the certificate's owner is now (`local:<localUserId>`). */
export interface BindResult {
  readonly localUserId: string;
  readonly userId: string;
  readonly serial: string;
  readonly outcome: string;
}

/** The answer of POST /intrusions: Identity Plus's reference, to withdraw the report with. */
export interface IntrusionResult {
  readonly reference: string;
  readonly serial: string;
  readonly severity: string;
  readonly outcome: string;
}

/** The decision JSON of POST /verify (see README, "Service API"). */
export interface VerifyResult {
  readonly decision: 'allow' | 'validate' | 'deny' | 'error';
  readonly reason: string;
  readonly outcome: string | null;
  readonly user: {
    readonly id: string | null;
    readonly name: string | null;
    readonly email: string | null;
    readonly organizationalReference: string | null;
    readonly localUserId: string | null;
  };
  readonly roles: readonly string[];
  readonly device: {
    readonly serial: string;
    readonly subject: string | null;
    readonly type: string | null;
    readonly notAfter: string | null;
  };
  readonly cached: boolean;
  readonly degraded: boolean;
  readonly period: string;
  /** Only for `validate`, when asked for; valid for about 30 seconds. */
  readonly validationUrl?: string;
}

export interface PlusgateClientOptions {
  /** The service API URL (stack output `ServiceApiUrl`), e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/prod/ */
  readonly endpoint: string;
  /** Region of the service API (the SigV4 scope). */
  readonly region: string;
  /** @default the AWS SDK's default credential provider chain */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Whole-call limit. @default 10000 */
  readonly timeoutMs?: number;
}

/** plusgate refused the request (4xx: what was wrong) or could not answer (5xx). */
export class PlusgateClientError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'PlusgateClientError';
  }
}

export class PlusgateClient {
  readonly #endpoint: URL;
  readonly #signer: SignatureV4;
  readonly #timeoutMs: number;

  constructor(options: PlusgateClientOptions) {
    let endpoint: URL;
    try {
      endpoint = new URL(options.endpoint);
    } catch {
      throw new TypeError(`endpoint "${options.endpoint}" is not a URL`);
    }
    if (endpoint.protocol !== 'https:' && !isLoopback(endpoint.hostname)) {
      throw new TypeError('endpoint must be https (plain http only for loopback, i.e. local mode)');
    }
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(options.region))
      throw new TypeError(`region "${options.region}" is not an AWS region`);
    this.#endpoint = endpoint;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#signer = new SignatureV4({
      service: 'execute-api',
      region: options.region,
      credentials: options.credentials ?? defaultProvider(),
      // The SDK's own Node SHA-256 / HMAC, bound to the algorithm as the SDK's clients bind it.
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath: true,
    });
  }

  /** Asks plusgate about a certificate (PEM) or a serial (decimal or 0x-hex). */
  async verify(
    subject: DeviceRef,
    options: { readonly ip?: string; readonly validationUrl?: boolean } = {},
  ): Promise<VerifyResult> {
    const body = JSON.stringify({
      ...subject,
      ...(options.ip ? { ip: options.ip } : {}),
      ...(options.validationUrl ? { validationUrl: true } : {}),
    });
    const { status, json } = await this.#send('POST', VERIFY_ROUTE, body);
    // 503 with a decision is an answer (Identity Plus was unreachable: decision "error"), not a failure to call.
    if (status === 200 || (status === 503 && isVerifyResult(json))) return json as VerifyResult;
    throw new PlusgateClientError(messageOf(json) ?? `plusgate answered HTTP ${status}`, status, json);
  }

  /**
   * Binds the certificate's owner to your service's user id at Identity Plus; plusgate then names and bills
   * the person `local:<localUserId>`. 409 when the identity or the id is already bound.
   */
  async bind(device: DeviceRef, localUserId: string): Promise<BindResult> {
    return this.#expect(200, 'PUT', BINDINGS_ROUTE, JSON.stringify({ ...device, localUserId })) as Promise<BindResult>;
  }

  /** Unbinds your user id (404 when it was not bound). */
  async unbind(localUserId: string): Promise<{ readonly localUserId: string; readonly unbound: true }> {
    const route = `${BINDINGS_ROUTE}/${encodeURIComponent(localUserId)}`;
    return this.#expect(200, 'DELETE', route) as Promise<{ localUserId: string; unbound: true }>;
  }

  /** Reports an intruding certificate to Identity Plus; the owner receives `message`. */
  async reportIntrusion(
    device: DeviceRef,
    report: { readonly severity: string; readonly message: string; readonly ip?: string; readonly url?: string },
  ): Promise<IntrusionResult> {
    const body = JSON.stringify({ ...device, ...report });
    return this.#expect(201, 'POST', INTRUSIONS_ROUTE, body) as Promise<IntrusionResult>;
  }

  /** Withdraws an intrusion report by its reference. */
  async withdrawIntrusion(reference: string): Promise<{ readonly reference: string; readonly withdrawn: true }> {
    const route = `${INTRUSIONS_ROUTE}/${encodeURIComponent(reference)}`;
    return this.#expect(200, 'DELETE', route) as Promise<{ reference: string; withdrawn: true }>;
  }

  /** Sends a request and returns its JSON when the status is `status`; otherwise a PlusgateClientError. */
  async #expect(status: number, method: string, route: string, body?: string): Promise<unknown> {
    const answer = await this.#send(method, route, body);
    if (answer.status === status) return answer.json;
    throw new PlusgateClientError(
      messageOf(answer.json) ?? `plusgate answered HTTP ${answer.status}`,
      answer.status,
      answer.json,
    );
  }

  /** Signs and sends one request; returns the status and the parsed JSON body. */
  async #send(method: string, route: string, body?: string): Promise<{ status: number; json: unknown }> {
    const path = `${this.#endpoint.pathname.replace(/\/+$/, '')}${route}`;
    const headers: Record<string, string> = { host: this.#endpoint.host, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signed = await this.#signer.sign({
      method,
      protocol: this.#endpoint.protocol,
      hostname: this.#endpoint.hostname,
      port: this.#endpoint.port ? Number(this.#endpoint.port) : undefined,
      path,
      query: {},
      headers,
      body,
    });
    const response = await fetch(`${this.#endpoint.origin}${path}`, {
      method,
      headers: signed.headers as Record<string, string>,
      body,
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new PlusgateClientError(
        `plusgate answered HTTP ${response.status} with a body that is not JSON`,
        response.status,
      );
    }
    return { status: response.status, json };
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

function isVerifyResult(json: unknown): boolean {
  return typeof json === 'object' && json !== null && typeof (json as { decision?: unknown }).decision === 'string';
}

function messageOf(json: unknown): string | undefined {
  const message = (json as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}
