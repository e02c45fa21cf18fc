/**
 * The Identity Plus API certificate secret in Secrets Manager, for the renewal: read the current value, put
 * a renewed one as a new version. PutSecretValue moves AWSCURRENT to the new version and AWSPREVIOUS to the
 * old one, so the previous certificate stays readable for a roll-back (it also stays valid until it expires).
 */
import { randomUUID } from 'node:crypto';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { ApiCertSecretPort } from '../domain/api-cert-renewal';

export class SecretsManagerApiCertSecret implements ApiCertSecretPort {
  readonly #client: SecretsManagerClient;
  readonly #secretId: string;
  readonly description: string;

  constructor(options: { client: SecretsManagerClient; secretId: string }) {
    this.#client = options.client;
    this.#secretId = options.secretId;
    this.description = `secret ${options.secretId}`;
  }

  async read(): Promise<unknown> {
    const answer = await this.#client.send(new GetSecretValueCommand({ SecretId: this.#secretId }));
    if (answer.SecretString === undefined) throw new Error(`${this.description} has no SecretString`);
    try {
      return JSON.parse(answer.SecretString);
    } catch {
      throw new Error(`${this.description} is not JSON`);
    }
  }

  async write(value: Readonly<Record<string, string>>): Promise<void> {
    await this.#client.send(
      new PutSecretValueCommand({
        SecretId: this.#secretId,
        SecretString: JSON.stringify(value),
        // Idempotent per renewal: a retried request with the same token does not make a second version.
        ClientRequestToken: randomUUID(),
      }),
    );
  }
}
