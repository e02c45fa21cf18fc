/**
 * A loopback Secrets Manager for local mode: speaks the service's JSON 1.1 protocol (`POST /`,
 * `X-Amz-Target: secretsmanager.<Operation>`) well enough for `@aws-sdk/client-secrets-manager`'s
 * GetSecretValue and DescribeSecret, the two calls `@middy/secrets-manager` makes, and PutSecretValue, the
 * call the API certificate renewal stores a new version with. Handlers then read
 * their secrets through the same code path as in AWS, pointed here with `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 *
 * Listening on loopback is not enough: any process on the machine, and any web page through DNS
 * rebinding, can reach 127.0.0.1, and with a real Identity Plus the secret is the production API
 * certificate. So, like Secrets Manager, it answers only requests signed with SigV4 by the one access key
 * it knows (random per instance unless given; callers read it from {@link SecretsManagerEmulator.credentials}),
 * dated within five minutes, scoped to `secretsmanager`, and addressed to its own `127.0.0.1:<port>`. The
 * signature is checked by signing the request again with `@smithy/signature-v4`, the signer the SDK uses.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { close, headerValues, listen, readBody } from './server-lifecycle';
import { ServiceError, verifySigV4 } from './sigv4-verify';

/** The access key pair requests must be signed with. */
export interface EmulatorCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Options of {@link SecretsManagerEmulator}. */
export interface SecretsManagerEmulatorOptions {
  /** Secret name → SecretString. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Region in the ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** The only key pair accepted. @default a random pair made for this instance */
  readonly credentials?: EmulatorCredentials;
}

interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly value: string;
  readonly versionId: string;
  /** Epoch seconds, the JSON protocol's timestamp form. */
  readonly createdDate: number;
  readonly changedDate: number;
}

const ACCOUNT_ID = '123456789012';
const MAX_REQUEST_BYTES = 1024 * 1024;
const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const SERVICE = 'secretsmanager';
/** A loopback Secrets Manager holding string secrets, for SigV4-signed requests with its one key pair. */
export class SecretsManagerEmulator {
  private readonly region: string;
  private readonly port: number;
  private readonly secrets = new Map<string, StoredSecret>();
  private server?: http.Server;
  // A # field, not a property: an inspected or logged emulator does not show the key.
  readonly #credentials: EmulatorCredentials;

  constructor(options: SecretsManagerEmulatorOptions) {
    this.region = options.region ?? 'us-east-1';
    this.port = options.port ?? 0;
    this.#credentials = options.credentials ?? {
      accessKeyId: `LOCAL${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(32).toString('base64url'),
    };
    for (const [name, value] of Object.entries(options.secrets)) this.setSecret(name, value);
  }

  /** The key pair a client must sign with: the SDK's `credentials`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. */
  get credentials(): EmulatorCredentials {
    return this.#credentials;
  }

  /** Starts listening on 127.0.0.1. */
  async start(): Promise<void> {
    if (this.server) throw new Error('SecretsManagerEmulator is already started');
    const server = http.createServer((req, res) => void this.serve(req, res));
    await listen(server, this.port, '127.0.0.1');
    this.server = server;
  }

  /** Stops listening and closes pooled SDK connections. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await close(server);
  }

  /** Endpoint for the SDK client (`endpoint`) or `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  get endpoint(): string {
    return `http://${this.authority}`;
  }

  /** `127.0.0.1:<port>`: the only Host header answered, as the SDK writes it for {@link endpoint}. */
  private get authority(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('SecretsManagerEmulator is not started');
    return `127.0.0.1:${address.port}`;
  }

  /**
   * The full ARN of a secret, with the 6-character suffix Secrets Manager appends to names. Derived from
   * the name, so it stays the same across restarts of local mode.
   */
  arnOf(name: string): string {
    const suffix = createHash('sha256').update(name).digest('base64url').replace(/[-_]/g, 'x').slice(0, 6);
    return `arn:aws:secretsmanager:${this.region}:${ACCOUNT_ID}:secret:${name}-${suffix}`;
  }

  /** Creates a secret or puts a new current version of it (`versionId`: the caller's token, or a new one). */
  setSecret(name: string, value: string, versionId: string = randomUUID()): void {
    const now = Date.now() / 1000;
    const existing = this.secrets.get(name);
    this.secrets.set(name, {
      name,
      arn: this.arnOf(name),
      value,
      versionId,
      createdDate: existing?.createdDate ?? now,
      changedDate: now,
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-amzn-RequestId', randomUUID());
    try {
      // Before anything else: a page that rebound its own name to 127.0.0.1 sends that name as Host.
      this.checkHost(req);
      if (req.method !== 'POST' || req.url !== '/') {
        throw new ServiceError('UnknownOperationException', 'Only POST / is supported', 404);
      }
      const body = await readBody(req, MAX_REQUEST_BYTES);
      if (body === 'too-large') throw new ServiceError('ValidationException', 'Request is too large');
      if (body === 'aborted') throw new ServiceError('ValidationException', 'Request body was cut off');
      await verifySigV4(req, body, this.#credentials, SERVICE);
      const targets = headerValues(req, 'x-amz-target');
      if (targets.length > 1) throw new ServiceError('SerializationException', 'More than one X-Amz-Target header');
      const target = targets[0] ?? '';
      const input = parseJson(body.toString('utf8'));
      switch (target) {
        case 'secretsmanager.GetSecretValue':
          return send(res, 200, this.getSecretValue(input));
        case 'secretsmanager.DescribeSecret':
          return send(res, 200, this.describeSecret(input));
        case 'secretsmanager.PutSecretValue':
          return send(res, 200, this.putSecretValue(input));
        default:
          throw new ServiceError(
            'UnknownOperationException',
            `Operation ${target || '(none)'} is not supported by the local emulator`,
          );
      }
    } catch (err) {
      const e = err instanceof ServiceError ? err : new ServiceError('InternalServiceError', 'Internal error', 500);
      res.setHeader('x-amzn-ErrorType', e.type);
      send(res, e.status, { __type: e.type, message: e.message });
    }
  }

  /** Only `127.0.0.1:<port>`, once: the address the SDK was pointed at. */
  private checkHost(req: IncomingMessage): void {
    const hosts = headerValues(req, 'host');
    if (hosts.length !== 1) {
      throw new ServiceError(
        'ValidationException',
        hosts.length ? 'More than one Host header' : 'The Host header is required',
      );
    }
    if (hosts[0] !== this.authority) {
      throw new ServiceError(
        'MisdirectedRequestException',
        `The Host header is not this emulator's loopback address (${this.authority}); it answers no other name`,
        421,
      );
    }
  }

  private getSecretValue(input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    if (input.VersionId !== undefined && input.VersionId !== secret.versionId) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${String(input.VersionId)}`,
      );
    }
    if (input.VersionStage !== undefined && input.VersionStage !== 'AWSCURRENT') {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for staging label: ${String(input.VersionStage)}`,
      );
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      SecretString: secret.value,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.changedDate,
    };
  }

  /** A new current version of an existing secret; a retry with the same ClientRequestToken changes nothing. */
  private putSecretValue(input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    if (typeof input.SecretString !== 'string') {
      throw new ServiceError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
    }
    const token = typeof input.ClientRequestToken === 'string' ? input.ClientRequestToken : randomUUID();
    if (token !== secret.versionId) this.setSecret(secret.name, input.SecretString, token);
    return { ARN: secret.arn, Name: secret.name, VersionId: token, VersionStages: ['AWSCURRENT'] };
  }

  private describeSecret(input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    return {
      ARN: secret.arn,
      Name: secret.name,
      CreatedDate: secret.createdDate,
      LastChangedDate: secret.changedDate,
      VersionIdsToStages: { [secret.versionId]: ['AWSCURRENT'] },
    };
  }

  /** By name, full ARN, or partial ARN (without the random suffix), as Secrets Manager accepts. */
  private find(secretId: unknown): StoredSecret {
    if (typeof secretId !== 'string' || secretId === '') {
      throw new ServiceError(
        'ValidationException',
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
      );
    }
    for (const secret of this.secrets.values()) {
      const partialArn = secret.arn.slice(0, -'-xxxxxx'.length);
      if (secretId === secret.name || secretId === secret.arn || secretId === partialArn) return secret;
    }
    throw new ServiceError('ResourceNotFoundException', NOT_FOUND);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/x-amz-json-1.1');
  res.end(JSON.stringify(body));
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text === '' ? '{}' : text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // falls through to the protocol's answer for an unreadable body
  }
  throw new ServiceError('SerializationException', 'Request body is not a JSON object');
}
