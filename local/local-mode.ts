/**
 * Local mode: the whole of plusgate on one machine with no AWS account. The dev PKI, the Identity Plus
 * simulator, dynalite as DynamoDB, a Secrets Manager emulator, and the loopback mTLS gateway calling the
 * very handler module the Lambda runs (configured through the same environment variables, reading its
 * secrets through the same middleware and SDK).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, unwatchFile, watchFile } from 'node:fs';
import * as path from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { AUTH_ROUTES, EDGE_ROUTES, ENV, IDENTITY_ROUTES, SERVICE_ROUTES } from '../functions/config/names';
import { type EdgeKind, SETTINGS } from '../functions/config/settings';
import type { DevPki } from './dev-pki';
import { demoSimulatorSeed } from './simulator-seed';
import { devPkiPaths, loadOrCreateDevPki } from './dev-pki-files';
import { ensureRecordsTable, localDynamoClient, startDynalite } from './dynamodb-local';
import type { FunctionUrlHandler } from './cloudfront-viewer';
import { type GatewayRoute, LocalGateway, type ProxyHandler } from './gateway';
import { IdentityPlusSimulator } from './identity-plus-simulator';
import { LocalApiCertSecret, describeApiCertificate, localApiCertFiles } from './local-api-cert';
import { certificatesIn, ensureLocalProxyCa } from './proxy-ca';
import { SecretsManagerEmulator } from './secrets-manager-emulator';

/** Table local mode uses (and creates when missing). */
export const LOCAL_TABLE_NAME = 'plusgate-records';
const API_CERT_SECRET = 'plusgate/local/identity-plus-api-cert';
const STATE_KEY_SECRET = 'plusgate/local/state-key';

export interface LocalModeOptions {
  /** Where the PKI, the DynamoDB data and the state key live. @default '.plusgate' */
  readonly dataDir: string;
  /** @default 8443 */
  readonly gatewayPort?: number;
  /**
   * What stands in front of the edge function on `gatewayPort`: API Gateway (mutual TLS required, REST
   * proxy events) or CloudFront (optional viewer mTLS, function URL events; local/cloudfront-viewer.ts).
   * Sets the edge function's `edge` setting to match. @default 'api-gateway'
   */
  readonly edge?: EdgeKind;
  /** @default 8444 */
  readonly simulatorPort?: number;
  /** Service API (verify, report) on plain HTTP, loopback only, no IAM check. @default 8445 */
  readonly servicePort?: number;
  /**
   * The mutual-TLS forward-auth door for proxies (`/auth/{dialect}` only) on this port; its truststore is
   * the local proxy CA (`<dataDir>/proxy-ca/truststore.pem`), never a device CA. @default - no door
   */
  readonly forwardAuthPort?: number;
  /** Port for dynalite. @default 8000 */
  readonly dynamodbPort?: number;
  /** Use this DynamoDB-compatible endpoint instead of starting dynalite. */
  readonly dynamodbEndpoint?: string;
  /**
   * Talk to this Identity Plus (the real service, with our real API certificate) instead of starting the
   * simulator. `apiCertSecret` is the secret's JSON exactly as Secrets Manager would hold it.
   */
  readonly identityPlus?: {
    readonly apiUrl: string;
    readonly signonUrl: string;
    readonly apiCertSecret: string;
    /** An extra CA for the API host; only for a host the system roots do not cover. */
    readonly extraCa?: string;
  };
  /** Device CA chain (PEM file) the gateway and /verify trust instead of the dev CA: the Identity Plus CA. */
  readonly truststoreFile?: string;
  /** Extra function configuration (names from ENV), e.g. staleIfErrorSeconds for a demo. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface RunningLocalMode {
  readonly pki: DevPki;
  readonly pkiDir: string;
  readonly gatewayUrl: string;
  /** What the gateway stands in for (see {@link LocalModeOptions.edge}). */
  readonly edge: EdgeKind;
  readonly serviceUrl: string;
  /** The simulator, unless an external Identity Plus was configured. */
  readonly simulator?: IdentityPlusSimulator;
  /** The Identity Plus API the handlers ask (the simulator's or the configured one). */
  readonly identityPlusApiUrl: string;
  /** The device truststore file the gateway and /verify use. */
  readonly truststoreFile: string;
  /** One line on the API certificate in use: serial, expiry, days left and when it is renewed. */
  readonly apiCertificate: string;
  readonly dynamodbEndpoint: string;
  /** The forward-auth door, when `forwardAuthPort` was given. */
  readonly forwardAuth?: {
    readonly url: string;
    /** The proxy CA's folder and the door's truststore file in it. */
    readonly proxyCaDir: string;
    readonly truststoreFile: string;
    /** A client certificate from the local proxy CA, for a proxy (or curl) to present at the door. */
    readonly clientCertFile: string;
    readonly clientKeyFile: string;
  };
  stop(): Promise<void>;
}

/** Starts everything; resolves once every server listens. */
export async function startLocalMode(options: LocalModeOptions): Promise<RunningLocalMode> {
  const log = options.log ?? (() => undefined);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const pki = await loadOrCreateDevPki(options.dataDir);

    const truststoreFile = path.resolve(options.truststoreFile ?? devPkiPaths(options.dataDir).caChain);
    const truststore = await fs.readFile(truststoreFile, 'utf8');

    let simulator: IdentityPlusSimulator | undefined;
    let identityPlus: {
      apiUrl: string;
      signonUrl: string;
      apiCertSecret: string;
      extraCa?: string;
    };
    // The simulator's API certificate: the dev PKI's, or the one `npm run renew-api-cert` renewed it to.
    let localApiCert: LocalApiCertSecret | undefined;
    if (options.identityPlus) {
      identityPlus = options.identityPlus;
    } else {
      localApiCert = new LocalApiCertSecret(options.dataDir, pki);
      simulator = new IdentityPlusSimulator({
        tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
        apiClients: await localApiCert.acceptedCertificates(),
        issuer: pki.intermediate,
        port: options.simulatorPort ?? 8444,
        seed: demoSimulatorSeed(pki),
      });
      await simulator.start();
      const started = simulator;
      stops.push(() => started.stop());
      identityPlus = {
        apiUrl: simulator.apiUrl,
        signonUrl: simulator.signonUrl,
        apiCertSecret: await localApiCert.text(),
        extraCa: pki.caChain,
      };
    }

    let dynamodbEndpoint: string;
    if (options.dynamodbEndpoint) {
      dynamodbEndpoint = options.dynamodbEndpoint;
    } else {
      const dynalite = await startDynalite({
        path: path.join(options.dataDir, 'dynamodb'),
        port: options.dynamodbPort ?? 8000,
      });
      stops.push(() => dynalite.stop());
      dynamodbEndpoint = dynalite.endpoint;
    }
    const table = await ensureRecordsTable(localDynamoClient(dynamodbEndpoint), LOCAL_TABLE_NAME);
    log(`records table ${LOCAL_TABLE_NAME} ${table} at ${dynamodbEndpoint}`);

    const secrets = new SecretsManagerEmulator({
      secrets: {
        [API_CERT_SECRET]: identityPlus.apiCertSecret,
        [STATE_KEY_SECRET]: await stateKey(options.dataDir),
      },
    });
    await secrets.start();
    stops.push(() => secrets.stop());
    if (localApiCert && simulator) {
      // A renewal from another process (npm run renew-api-cert) lands in the data folder: serve it as the
      // secret's new version (the functions pick it up on their next refresh) and accept it at the simulator.
      const file = localApiCertFiles(options.dataDir).current;
      const sim = simulator;
      const reload = () => {
        void (async () => {
          const text = await localApiCert.text();
          secrets.setSecret(API_CERT_SECRET, text);
          for (const pem of await localApiCert.acceptedCertificates()) sim.acceptApiClient(pem);
          log(describeApiCertificate(JSON.parse(text), SETTINGS.apiCertRenewAtFraction.default));
        })().catch((err: unknown) => log(`could not reload the renewed API certificate: ${(err as Error).message}`));
      };
      watchFile(file, { interval: 1000 }, (now, before) => {
        if (now.mtimeMs !== before.mtimeMs && now.size > 0) reload();
      });
      stops.push(async () => unwatchFile(file));
    }

    const gatewayPort = options.gatewayPort ?? 8443;
    const edgeKind = options.edge ?? 'api-gateway';
    // The in-process handlers sign with this run's random key pair, the only one the emulator accepts; never
    // with the developer's own AWS credentials: a profile would win over these (the SDK skips the
    // environment's keys when AWS_PROFILE is set), and a session token does not belong to them.
    for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION']) delete process.env[name];
    // The handler module reads these at import, exactly as in Lambda.
    Object.assign(process.env, {
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: secrets.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secrets.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      [ENV.TABLE_NAME]: LOCAL_TABLE_NAME,
      [ENV.API_CERT_SECRET]: API_CERT_SECRET,
      [ENV.STATE_KEY_SECRET]: STATE_KEY_SECRET,
      [ENV.IDENTITY_PLUS_API_URL]: identityPlus.apiUrl,
      [ENV.IDENTITY_PLUS_SIGNON_URL]: identityPlus.signonUrl,
      [ENV.IDENTITY_PLUS_EXTRA_CA]: identityPlus.extraCa ?? '',
      [ENV.PUBLIC_ORIGIN]: `https://localhost:${gatewayPort}`,
      [ENV.TRUSTSTORE_FILE]: truststoreFile,
      // No EMF on stdout here: local mode serves the same numbers at the service API's GET /metrics.
      POWERTOOLS_METRICS_DISABLED: 'true',
      ...options.environment,
      // The edge function must expect the events this gateway sends, whatever the shell has set.
      [SETTINGS.edge.env]: edgeKind,
    });
    const edge = (await import('../functions/handlers/edge')).handler as unknown as (
      event: unknown,
      context: Context,
    ) => Promise<unknown>;
    const handler: ProxyHandler = (event, context) => edge(event, context) as Promise<APIGatewayProxyResult>;
    const routes: GatewayRoute[] = Object.values(EDGE_ROUTES).map((route) => ({ method: 'GET', path: route, handler }));
    // CloudFront sends every path to its one origin, the edge function's URL.
    const functionUrl: FunctionUrlHandler = (event, context) => edge(event, context);

    const gateway = new LocalGateway({
      ...(edgeKind === 'cloudfront' ? { routes: [], cloudFront: { handler: functionUrl } } : { routes }),
      port: gatewayPort,
      tls: { cert: pki.server.cert, key: pki.server.key, truststore },
      publicHostname: 'localhost',
      log,
    });
    await gateway.start();
    stops.push(() => gateway.stop());

    // The IAM-authorised service API of AWS, here on loopback without a signature check.
    const verify = (await import('../functions/handlers/verify')).handler as unknown as ProxyHandler;
    const report = (await import('../functions/handlers/report')).handler as unknown as ProxyHandler;
    const { prometheusText } = await import('../functions/runtime/metrics');
    const service = new LocalGateway({
      routes: [
        { method: 'GET', path: SERVICE_ROUTES.VERIFY, handler: (event, context) => verify(event, context) },
        { method: 'POST', path: SERVICE_ROUTES.VERIFY, handler: (event, context) => verify(event, context) },
        { method: 'GET', path: SERVICE_ROUTES.REPORT, handler: (event, context) => report(event, context) },
        // Forward-auth by proxy dialect, any method, as the service API declares it.
        { method: 'ANY', path: AUTH_ROUTES.DIALECT, handler: (event, context) => verify(event, context) },
        { method: 'ANY', path: AUTH_ROUTES.DIALECT_PATH, handler: (event, context) => verify(event, context) },
        // The identity operations: binding local users, reporting intruders.
        { method: 'PUT', path: IDENTITY_ROUTES.BINDINGS, handler: (event, context) => verify(event, context) },
        { method: 'DELETE', path: IDENTITY_ROUTES.BINDING, handler: (event, context) => verify(event, context) },
        { method: 'POST', path: IDENTITY_ROUTES.INTRUSIONS, handler: (event, context) => verify(event, context) },
        { method: 'DELETE', path: IDENTITY_ROUTES.INTRUSION, handler: (event, context) => verify(event, context) },
        {
          method: 'GET',
          path: '/metrics',
          handler: async () => ({
            statusCode: 200,
            headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' },
            body: prometheusText(),
          }),
        },
      ],
      host: '127.0.0.1',
      port: options.servicePort ?? 8445,
      log,
    });
    await service.start();
    stops.push(() => service.stop());

    let forwardAuth: RunningLocalMode['forwardAuth'];
    if (options.forwardAuthPort !== undefined) {
      // The door for proxies, as the AWS one: mutual TLS against the proxy CA only (a device certificate,
      // an untrusted or missing one ends in the handshake), the forward-auth routes only, no IAM check.
      const proxyCa = await ensureLocalProxyCa(options.dataDir);
      for (const warning of proxyCa.warnings) log(`forward-auth door: ${warning}`);
      checkProxyTruststore(proxyCa.truststore, proxyCa.truststoreFile, truststore);
      const forward = (event: APIGatewayProxyEvent, context: Context) => verify(event, context);
      const door = new LocalGateway({
        routes: [
          { method: 'ANY', path: AUTH_ROUTES.DIALECT, handler: forward },
          { method: 'ANY', path: AUTH_ROUTES.DIALECT_PATH, handler: forward },
        ],
        port: options.forwardAuthPort,
        tls: { cert: pki.server.cert, key: pki.server.key, truststore: proxyCa.truststore },
        publicHostname: 'localhost',
        log: (line) => log(`forward-auth door: ${line}`),
      });
      await door.start();
      stops.push(() => door.stop());
      forwardAuth = {
        url: door.url,
        proxyCaDir: path.resolve(proxyCa.dir),
        truststoreFile: path.resolve(proxyCa.truststoreFile),
        clientCertFile: path.resolve(proxyCa.client.certFile),
        clientKeyFile: path.resolve(proxyCa.client.keyFile),
      };
    }

    return {
      pki,
      serviceUrl: service.url,
      pkiDir: devPkiPaths(options.dataDir).dir,
      gatewayUrl: gateway.url,
      edge: edgeKind,
      simulator,
      identityPlusApiUrl: identityPlus.apiUrl,
      truststoreFile,
      dynamodbEndpoint,
      forwardAuth,
      apiCertificate: describeApiCertificate(
        JSON.parse(identityPlus.apiCertSecret),
        SETTINGS.apiCertRenewAtFraction.default,
      ),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The door's truststore must hold a CA and none of the device truststore's: a proxy CA shared with the
 * devices would let any device certificate in as a proxy and vouch for any other certificate.
 */
function checkProxyTruststore(proxyTruststore: string, file: string, deviceTruststore: string): void {
  const proxies = certificatesIn(proxyTruststore);
  if (proxies.length === 0) throw new Error(`the forward-auth door's truststore ${file} holds no certificate`);
  const devices = new Set(certificatesIn(deviceTruststore).map((cert) => cert.fingerprint256));
  const shared = proxies.find((cert) => devices.has(cert.fingerprint256));
  if (shared) {
    throw new Error(
      `the forward-auth door's truststore ${file} holds a device CA (${shared.subject.replace(/\n/g, ', ')}): it must hold proxy CAs only`,
    );
  }
}

/** The state-signing key, generated once per data folder so a restart keeps issued links valid. */
async function stateKey(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'state-key');
  try {
    const existing = (await fs.readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    /* created below */
  }
  const key = randomBytes(48).toString('base64url');
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, key, { mode: 0o600 });
  return key;
}
