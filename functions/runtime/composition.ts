/**
 * The composition root shared by the Lambda entries: configuration read once per container, the
 * decision cache (per container, survives secret rotation), the Identity Plus client and the ledger,
 * rebuilt only when the API certificate secret changes. Also the middy pieces every entry uses.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { refreshingSecrets } from './secrets-middleware';
import { logger, safeError } from './observability';
import { type AuthenticationEvent, Authenticator } from '../domain/authenticate';
import { DecisionCache } from '../domain/decision-cache';
import { Truststore } from '../domain/certificate-chain';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { IdentityPlusClient } from '../adapters/identity-plus-client';
import { RecordsTable } from '../adapters/records-table';
import { apiCredentialsFromSecret, secretFingerprint, stateKeyFromSecret } from '../adapters/secrets';
import { type RuntimeConfig, readRuntimeConfig } from './runtime-config';
import { ConfigurationError } from '../domain/errors';
import { ENV } from '../config/names';

/** Secret values as @middy/secrets-manager puts them on the context (`stateKey` only where fetched). */
export interface SecretContext {
  readonly apiCert: unknown;
  readonly stateKey?: unknown;
}

let config: RuntimeConfig | undefined;
let cache: DecisionCache | undefined;
let built:
  | {
      fingerprint: string;
      secrets: SecretContext;
      client: IdentityPlusClient;
      authenticator: Authenticator;
      stateKey?: Buffer;
    }
  | undefined;

/** Configuration of this container, read from the environment on first use. */
export function runtimeConfig(): RuntimeConfig {
  config ??= readRuntimeConfig();
  return config;
}

/** The adapters and use case for the current secrets; rebuilt when a secret was rotated. */
export function services(secrets: SecretContext) {
  const cfg = runtimeConfig();
  // The secrets middleware hands over the same values until it refreshes them: no hashing per request.
  if (built && built.secrets.apiCert === secrets.apiCert && built.secrets.stateKey === secrets.stateKey) return built;
  const fingerprint = secretFingerprint([secretFingerprint(secrets.apiCert), secretFingerprint(secrets.stateKey)]);
  if (built?.fingerprint === fingerprint) {
    built.secrets = { apiCert: secrets.apiCert, stateKey: secrets.stateKey };
    return built;
  }

  const previous = built?.client;
  cache ??= new DecisionCache({ ttlMs: cfg.decisionCacheSeconds * 1000, staleMs: cfg.staleIfErrorSeconds * 1000 });
  const client = new IdentityPlusClient({
    apiUrl: cfg.identityPlusApiUrl,
    signonUrl: cfg.identityPlusSignonUrl,
    credentials: apiCredentialsFromSecret(secrets.apiCert),
    extraCa: cfg.identityPlusExtraCa,
    intentType: cfg.intentType,
  });
  const records = new RecordsTable({
    client: dynamo(),
    tableName: cfg.tableName,
    shards: cfg.shards,
    retentionMonths: cfg.retentionMonths,
  });
  const authenticator = new Authenticator({
    identityPlus: client,
    records,
    cache,
    policy: { allowedRoles: cfg.allowedRoles },
    billingAnchorDay: cfg.billingAnchorDay,
    now: Date.now,
    onEvent: reportEvent,
  });
  built = {
    fingerprint,
    secrets: { apiCert: secrets.apiCert, stateKey: secrets.stateKey },
    client,
    authenticator,
    stateKey: secrets.stateKey === undefined ? undefined : stateKeyFromSecret(secrets.stateKey),
  };
  void previous?.close().catch(() => undefined);
  return built;
}

let dynamoClient: DynamoDBClient | undefined;
function dynamo(): DynamoDBClient {
  dynamoClient ??= new DynamoDBClient({});
  return dynamoClient;
}

const METRIC_NAMES: Record<AuthenticationEvent['type'], string> = {
  degraded: 'DegradedAllow',
  'red-flag': 'RedFlag',
  alarm: 'ApiCertificateAlarm',
  unavailable: 'IdentityPlusUnavailable',
};

/** Logs an authentication event with an embedded CloudWatch metric (EMF), so it can be counted and alarmed on. */
export function reportEvent(event: AuthenticationEvent): void {
  const metric = METRIC_NAMES[event.type];
  const emf = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: 'plusgate', Dimensions: [[]], Metrics: [{ Name: metric, Unit: 'Count' }] }],
    },
    [metric]: 1,
  };
  const level = event.type === 'degraded' ? 'warn' : 'error';
  logger[event.type === 'red-flag' ? 'warn' : level](`authentication event: ${event.type}`, { ...event, ...emf });
}

/** The state-signing key of this container; a ConfigurationError where the function was not given one. */
export function requireStateKey(key: Buffer | undefined): Buffer {
  if (!key) throw new ConfigurationError('this function signs validation states but has no state-signing key secret');
  return key;
}

/**
 * Reads the secrets onto the context, refreshed every 15 minutes on request (rotation): the API
 * certificate always, the state-signing key where the function signs states. A failed refresh keeps the
 * previous values (see secrets-middleware.ts).
 */
export function secretsMiddleware(cfg: RuntimeConfig, needs: { stateKey: boolean }) {
  if (needs.stateKey && !cfg.stateKeySecret)
    throw new ConfigurationError(`plusgate configuration: ${ENV.STATE_KEY_SECRET} is not set`);
  return refreshingSecrets({
    fetchData: needs.stateKey
      ? { apiCert: cfg.apiCertSecret, stateKey: cfg.stateKeySecret as string }
      : { apiCert: cfg.apiCertSecret },
    // One cache per set of secrets: in local mode several entries share a process (and middy's cache).
    cacheKey: needs.stateKey ? 'plusgate-secrets-with-state-key' : 'plusgate-secrets-api-cert',
    ttlMs: 15 * 60 * 1000,
    onStale: (err) => logger.warn('secret refresh failed; using the previous values', { error: safeError(err) }),
  });
}

/**
 * The truststore a certificate must chain to (the edge API's Identity Plus CAs), read once per container.
 * A relative path is resolved against `baseDir`: the CDK app copies the file next to the bundled handler.
 */
export function loadTruststore(file: string | undefined, baseDir: string): Truststore {
  if (!file) throw new ConfigurationError(`plusgate configuration: ${ENV.TRUSTSTORE_FILE} is not set`);
  const resolved = path.isAbsolute(file) ? file : path.join(baseDir, file);
  try {
    return Truststore.fromPem(readFileSync(resolved, 'utf8'));
  } catch (cause) {
    throw new ConfigurationError(
      `plusgate configuration: truststore ${resolved} could not be loaded (${(cause as Error).message})`,
      { cause },
    );
  }
}
