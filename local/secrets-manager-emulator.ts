/**
 * A loopback Secrets Manager for local mode: speaks the service's JSON 1.1 protocol (`POST /`,
 * `X-Amz-Target: secretsmanager.<Operation>`) well enough for `@aws-sdk/client-secrets-manager`'s
 * GetSecretValue and DescribeSecret, the two calls `@middy/secrets-manager` makes, and PutSecretValue, the
 * call the API certificate renewal stores a new version with. Handlers then read
 * their secrets through the same code path as in AWS, pointed here with `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 *
 * It does not check SigV4 signatures: it listens on loopback only and holds development secrets.
 */
import { createHash, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { close, listen, readBody } from './server-lifecycle';

/** Options of {@link SecretsManagerEmulator}. */
export interface SecretsManagerEmulatorOptions {
  /** Secret name → SecretString. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Region in the ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
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

/** Error answer of the JSON protocol: the SDK reads the code from `__type` and the text from `message`. */
class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A loopback Secrets Manager holding string secrets. */
export class SecretsManagerEmulator {
  private readonly region: string;
  private readonly secrets = new Map<string, StoredSecret>();
  private server?: http.Server;

  constructor(private readonly options: SecretsManagerEmulatorOptions) {
    this.region = options.region ?? 'us-east-1';
    for (const [name, value] of Object.entries(options.secrets)) this.setSecret(name, value);
  }

  /** Starts listening on 127.0.0.1. */
  async start(): Promise<void> {
    if (this.server) throw new Error('SecretsManagerEmulator is already started');
    const server = http.createServer((req, res) => void this.serve(req, res));
    await listen(server, this.options.port ?? 0, '127.0.0.1');
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
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('SecretsManagerEmulator is not started');
    return `http://127.0.0.1:${address.port}`;
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
      if (req.method !== 'POST') throw new ServiceError('UnknownOperationException', 'Only POST / is supported', 404);
      const target = String(req.headers['x-amz-target'] ?? '');
      const input = parseJson(await readText(req));
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

async function readText(req: IncomingMessage): Promise<string> {
  const body = await readBody(req, MAX_REQUEST_BYTES);
  if (body === 'too-large') throw new ServiceError('ValidationException', 'Request is too large');
  if (body === 'aborted') throw new ServiceError('ValidationException', 'Request body was cut off');
  return body.toString('utf8');
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
