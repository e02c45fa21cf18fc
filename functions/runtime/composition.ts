/**
 * The composition root shared by the Lambda entries: configuration read once per container, the
 * decision cache (per container, survives secret rotation), the Identity Plus client and the ledger,
 * rebuilt only when the API certificate secret changes. Also the middy pieces every entry uses.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { refreshingSecrets } from './secrets-middleware';
import { logger, safeError } from './observability';
import {
  type AuthenticationEvent,
  Authenticator,
  type IdentityPlusPort,
  type InquiryOptions,
} from '../domain/authenticate';
import {
  type InquiryAnswer,
  type IntentPort,
  type IntentReference,
  type IntentRequest,
  outcomeCode,
} from '../domain/identity-plus';
import { IntentLimiter } from '../domain/intent-limiter';
import type { UsedStatesPort } from '../domain/state-token';
import { METRIC } from '../config/metrics';
import { emitMetric } from './metrics';
import { DecisionCache } from '../domain/decision-cache';
import { Truststore } from '../domain/certificate-chain';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { IdentityPlusClient } from '../adapters/identity-plus-client';
import { RecordsTable } from '../adapters/records-table';
import { RecordsMover } from '../adapters/records-move';
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
      /** The client's intents, counted and timed: what the edge and verify apps create intents with. */
      intents: IntentPort;
      authenticator: Authenticator;
      /** This container's decision cache (the identity operations drop what a binding changes). */
      cache: DecisionCache;
      /** Moves a person's ledger item when a binding changes their key (the identity operations). */
      ledgerMoves: RecordsMover;
      /** Where the edge claims used state tokens: the ledger table. */
      usedStates: UsedStatesPort;
      stateKey?: Buffer;
    }
  | undefined;

/** Configuration of this container, read from the environment on first use. */
export function runtimeConfig(): RuntimeConfig {
  config ??= readRuntimeConfig();
  return config;
}

/** What `services` hands out: the adapters and use case built for one set of secrets. */
export type Services = ReturnType<typeof services>;

/**
 * `build` memoised per {@link services} result: a handler entry builds its app (routes, closures) once per
 * set of secrets instead of on every request, and a rotated secret gets a new app with the new services.
 */
export function perServices<T>(build: (built: Services) => T): (built: Services) => T {
  const apps = new WeakMap<Services, T>();
  return (current) => {
    let app = apps.get(current);
    if (app === undefined) {
      app = build(current);
      apps.set(current, app);
    }
    return app;
  };
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
  cache ??= new DecisionCache({
    ttlMs: cfg.decisionCacheSeconds * 1000,
    staleMs: cfg.staleIfErrorSeconds * 1000,
    negativeTtlMs: cfg.negativeCacheSeconds * 1000,
  });
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
  const measured = measuredIdentityPlus(client, () => performance.now());
  const authenticator = new Authenticator({
    identityPlus: measured,
    records,
    cache,
    policy: { allowedRoles: cfg.allowedRoles },
    billingAnchorDay: cfg.billingAnchorDay,
    now: Date.now,
    onEvent: reportEvent,
    // Every inquiry, whichever entry point asks, goes on behalf of the configured service (if any).
    service: cfg.identityPlusService,
  });
  built = {
    fingerprint,
    secrets: { apiCert: secrets.apiCert, stateKey: secrets.stateKey },
    client,
    // Reused intents are not Identity Plus calls: the limiter sits outside the measuring.
    intents: new IntentLimiter(measured, { intervalMs: cfg.intentIntervalSeconds * 1000, now: Date.now }),
    authenticator,
    cache,
    ledgerMoves: new RecordsMover({ client: dynamo(), tableName: cfg.tableName, shards: cfg.shards }),
    usedStates: records,
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

/**
 * Turns an authentication event into its metrics and, for what an operator must see (degraded, red flag,
 * API certificate alarm, Identity Plus unavailable), a structured log line.
 */
export function reportEvent(event: AuthenticationEvent): void {
  switch (event.type) {
    case 'decision':
      emitMetric(METRIC.DECISIONS, 1, { dimensions: { decision: event.decision, reason: event.reason } });
      if (event.cached) emitMetric(METRIC.CACHE_HITS, 1);
      return;
    case 'new-billable-user':
      emitMetric(METRIC.NEW_BILLABLE_USERS, 1);
      return;
    case 'ledger-write-failed':
      emitMetric(METRIC.LEDGER_WRITE_FAILURES, 1);
      return;
    case 'degraded':
      emitMetric(METRIC.DEGRADED_ALLOWS, 1);
      logger.warn(`authentication event: ${event.type}`, { ...event });
      return;
    case 'red-flag':
      logger.warn(`authentication event: ${event.type}`, { ...event });
      return;
    case 'alarm':
    case 'unavailable':
      logger.error(`authentication event: ${event.type}`, { ...event });
      return;
  }
}

/**
 * Identity Plus with every call timed and counted: `IdentityPlusLatency` for each inquiry and intent,
 * answered or not; `IdentityPlusFailures` when a call gets no usable answer (it throws) or an ER code;
 * `IntentsCreated` for each intent Identity Plus created. `clock` is in milliseconds.
 */
export function measuredIdentityPlus(
  identityPlus: IdentityPlusPort & IntentPort,
  clock: () => number,
): IdentityPlusPort & IntentPort {
  async function timed<T>(call: () => Promise<T>, failed: (answer: T) => boolean): Promise<T> {
    const started = clock();
    let ok = false;
    try {
      const answer = await call();
      ok = !failed(answer);
      return answer;
    } finally {
      emitMetric(METRIC.IDENTITY_PLUS_LATENCY, clock() - started, { unit: 'Milliseconds' });
      if (!ok) emitMetric(METRIC.IDENTITY_PLUS_FAILURES, 1);
    }
  }
  return {
    inquire: (serial: string, options?: InquiryOptions): Promise<InquiryAnswer> =>
      timed(
        () => identityPlus.inquire(serial, options),
        (answer) => answer.kind === 'problem' && outcomeCode(answer.outcome).startsWith('ER'),
      ),
    createIntent: async (request: IntentRequest): Promise<IntentReference> => {
      const intent = await timed(
        // The client sends Identity Plus only the return URL; the serial is for the limiter and logs.
        () => identityPlus.createIntent(request),
        () => false,
      );
      emitMetric(METRIC.INTENTS_CREATED, 1);
      return intent;
    },
  };
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
