/**
 * `npm start`: local mode. Everything plusgate runs in AWS, on this machine, with no AWS account:
 * see local/local-mode.ts. Prints `plusgate local ready`, the URLs and ready-to-paste curl commands.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ENV } from '../functions/config/names';
import { type EdgeKind, SETTINGS } from '../functions/config/settings';

// Local mode runs on Node 20 by design; the AWS SDK's notice about its future Node 22 floor is noise here.
// Set before the SDK is loaded (local-mode is imported below, after this line runs).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE = `usage: npm start -- [options]
  --data-dir DIR              dev PKI, DynamoDB data and state key (default .plusgate)
  --gateway-port N            mTLS gateway on https://localhost:N (default 8443)
  --edge KIND                 what the gateway stands in for: api-gateway (default; a client certificate is
                              required, REST proxy events) or cloudfront (CloudFront's optional viewer mTLS:
                              no certificate gets the landing page, an untrusted or expired one is refused in
                              the handshake; the edge function gets function URL events)
  --simulator-port N          Identity Plus simulator (default 8444)
  --service-port N            service API (verify, report) on http://127.0.0.1:N, no IAM check (default 8445)
  --forward-auth-port N       also serve the mutual-TLS forward-auth door for proxies (/auth/{dialect}) on
                              https://localhost:N (e.g. 8446; default: no door). It trusts the local proxy
                              CA in DIR/proxy-ca (made on first use; npm run proxy-cert issues more), never a
                              device certificate
  --dynamodb-port N           dynalite (default 8000)
  --dynamodb-endpoint URL     use this DynamoDB endpoint instead of starting dynalite
  --decision-cache-seconds N  how long an allow is cached (default ${SETTINGS.decisionCacheSeconds.default})
  --stale-if-error-seconds N  grace for recently allowed certificates when Identity Plus is down (default ${SETTINGS.staleIfErrorSeconds.default})
  --negative-cache-seconds N  how long a deny or validate is reused per certificate (default ${SETTINGS.negativeCacheSeconds.default})
  --intent-interval-seconds N at most one intent per certificate in N seconds (default ${SETTINGS.intentIntervalSeconds.default})
  --allowed-roles a,b         roles that grant access (default: any cleared certificate)
  --allowed-return-origins o  origins /signin may send people back to, comma-separated (default: the gateway's own)
  --identity-plus-service NAME
                              ask Identity Plus on behalf of the service NAME, one the API certificate manages
                              (delegated inquiry), and record NAME in the ledger (default: the certificate's own;
                              the simulator manages managed.plusgate.local, where alice has the role "org. member")
  --quiet                     no request and decision logs

Against the real Identity Plus instead of the simulator (your service's API certificate):
  --api-cert-p12 FILE         the API certificate as Identity Plus issues it (PKCS#12) ...
  --api-cert-password PW      ... and its password (or set PLUSGATE_P12_PASSWORD)
  --api-cert FILE --api-key FILE   the same as PEM certificate and unencrypted key
  --truststore FILE           the Identity Plus CA chain (PEM) device certificates must chain to
  --identity-plus-api-url URL     default ${SETTINGS.identityPlusApiUrl.default}
  --identity-plus-signon-url URL  default ${SETTINGS.identityPlusSignonUrl.default}
  --identity-plus-ca FILE     an extra CA for the API host (only for a host the system roots do not cover)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    fail(`--${name} must be a port number from 0 to 65535, got "${value}"`);
  return n;
}

function seconds(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`--${name} must be a whole number of seconds, got "${value}"`);
  return value;
}

/** The service of --identity-plus-service, checked and lower-cased by the deployment setting's own parser. */
function serviceId(value: string): string {
  const expected: string[] = [];
  const id = SETTINGS.identityPlusService.parse(value, { strict: false, problem: (_, what) => expected.push(what) });
  if (id === undefined) fail(`--identity-plus-service must be ${expected.join('; ')}, got "${value}"`);
  return id;
}

/** The edge of --edge, checked by the deployment setting's own parser. */
function edgeKind(value: string | undefined): EdgeKind | undefined {
  if (value === undefined) return undefined;
  const expected: string[] = [];
  const kind = SETTINGS.edge.parse(value, { strict: false, problem: (_, what) => expected.push(what) });
  if (kind === undefined) fail(`--edge must be ${expected.join('; ')}, got "${value}"`);
  return kind;
}

/** The command line, as node:util parseArgs reads it; a bad flag ends the process with the usage. */
function parseFlags() {
  try {
    return parseArgs({
      options: {
        'data-dir': { type: 'string' },
        'gateway-port': { type: 'string' },
        edge: { type: 'string' },
        'simulator-port': { type: 'string' },
        'service-port': { type: 'string' },
        'forward-auth-port': { type: 'string' },
        'allowed-return-origins': { type: 'string' },
        'dynamodb-port': { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        'decision-cache-seconds': { type: 'string' },
        'stale-if-error-seconds': { type: 'string' },
        'negative-cache-seconds': { type: 'string' },
        'intent-interval-seconds': { type: 'string' },
        'allowed-roles': { type: 'string' },
        'identity-plus-service': { type: 'string' },
        quiet: { type: 'boolean' },
        'api-cert-p12': { type: 'string' },
        'api-cert-password': { type: 'string' },
        'api-cert': { type: 'string' },
        'api-key': { type: 'string' },
        truststore: { type: 'string' },
        'identity-plus-api-url': { type: 'string' },
        'identity-plus-signon-url': { type: 'string' },
        'identity-plus-ca': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    fail((err as Error).message);
  }
}

async function main(): Promise<void> {
  const v = parseFlags().values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (v['dynamodb-endpoint'] !== undefined && !/^https?:\/\/[^\s]+$/.test(v['dynamodb-endpoint'])) {
    fail(`--dynamodb-endpoint must be an http(s) URL, got "${v['dynamodb-endpoint']}"`);
  }
  const environment: Record<string, string> = {};
  const cacheSeconds = seconds('decision-cache-seconds', v['decision-cache-seconds']);
  const staleSeconds = seconds('stale-if-error-seconds', v['stale-if-error-seconds']);
  if (cacheSeconds) environment[ENV.DECISION_CACHE_SECONDS] = cacheSeconds;
  if (staleSeconds) environment[ENV.STALE_IF_ERROR_SECONDS] = staleSeconds;
  const negativeSeconds = seconds('negative-cache-seconds', v['negative-cache-seconds']);
  const intentSeconds = seconds('intent-interval-seconds', v['intent-interval-seconds']);
  if (negativeSeconds) environment[SETTINGS.negativeCacheSeconds.env] = negativeSeconds;
  if (intentSeconds) environment[SETTINGS.intentIntervalSeconds.env] = intentSeconds;
  if (v['allowed-roles'])
    environment[ENV.ALLOWED_ROLES] = JSON.stringify(
      v['allowed-roles']
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    );
  if (v['allowed-return-origins']) {
    environment[ENV.ALLOWED_RETURN_ORIGINS] = JSON.stringify(
      v['allowed-return-origins']
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    );
  }
  if (v['identity-plus-service'] !== undefined) {
    environment[SETTINGS.identityPlusService.env] = serviceId(v['identity-plus-service']);
  }
  if (v.quiet) environment.POWERTOOLS_LOG_LEVEL = 'WARN';

  const identityPlus = await externalIdentityPlus(v);
  if (v.truststore !== undefined && !identityPlus)
    fail(
      '--truststore goes with an API certificate (--api-cert-p12 or --api-cert/--api-key): the simulator issues its own devices',
    );
  if (v.truststore !== undefined) readableFile('--truststore', v.truststore);

  const edge = edgeKind(v.edge);
  const dataDir = v['data-dir'] ?? '.plusgate';
  const quiet = v.quiet ?? false;
  const { LOCAL_TABLE_NAME, startLocalMode } = await import('../local/local-mode');
  const running = await startLocalMode({
    dataDir,
    gatewayPort: port('gateway-port', v['gateway-port'], 8443),
    edge,
    simulatorPort: port('simulator-port', v['simulator-port'], 8444),
    servicePort: port('service-port', v['service-port'], 8445),
    forwardAuthPort:
      v['forward-auth-port'] === undefined ? undefined : port('forward-auth-port', v['forward-auth-port'], 8446),
    dynamodbPort: port('dynamodb-port', v['dynamodb-port'], 8000),
    dynamodbEndpoint: v['dynamodb-endpoint'],
    identityPlus: identityPlus?.config,
    truststoreFile: v.truststore,
    environment,
    log: quiet ? undefined : (line) => process.stdout.write(`${line}\n`),
  });

  const relative = path.relative(process.cwd(), running.pkiDir);
  const pki = relative.startsWith('..') ? running.pkiDir : relative;
  const curl = (person: string, route = '/signin', extra = '') =>
    `curl ${extra}--cacert ${pki}/ca.pem --cert ${pki}/${person}.pem --key ${pki}/${person}.key ${running.gatewayUrl}${route}`;
  const door = running.forwardAuth;
  const cloudFront = running.edge === 'cloudfront';
  const shown = (file: string) => {
    const relative = path.relative(process.cwd(), file);
    return relative.startsWith('..') ? file : relative;
  };
  const escapedCert = (person: string) =>
    `"X-Client-Cert: $(node -p 'encodeURIComponent(fs.readFileSync("${pki}/${person}.pem", "utf8"))')"`;
  process.stdout.write(
    [
      'plusgate local ready',
      cloudFront
        ? `  gateway (CloudFront)   ${running.gatewayUrl}   routes: /signin?return=URL  /return?state=…  /whoami   (optional mutual TLS, as CloudFront's: no certificate gets the landing page; every path reaches the edge function)`
        : `  gateway (mutual TLS)   ${running.gatewayUrl}   routes: /signin?return=URL  /return?state=…  /whoami`,
      `  service API            ${running.serviceUrl}   routes: POST/GET /verify, ANY /auth/{dialect}, GET /report, GET /metrics   (loopback only; no IAM signature check here)`,
      ...(door
        ? [
            `  forward-auth door      ${door.url}   routes: ANY /auth/{dialect}[/…]   (mutual TLS: proxy certificates of ${shown(door.truststoreFile)} only)`,
            `  proxy certificate      ${shown(door.clientCertFile)}  key ${shown(door.clientKeyFile)}   (npm run proxy-cert -- --out ${shown(door.proxyCaDir)} --name NAME for more)`,
          ]
        : []),
      running.simulator
        ? `  Identity Plus sim      ${running.simulator.apiUrl}   admin: ${running.simulator.signonUrl}/__admin/`
        : `  Identity Plus          ${running.identityPlusApiUrl}   API certificate: ${identityPlus?.summary}`,
      `  device truststore      ${running.truststoreFile}`,
      `  DynamoDB               ${running.dynamodbEndpoint}   table ${LOCAL_TABLE_NAME}`,
      `  dev PKI                ${pki}/   (PKCS#12 files for browsers: password "plusgate")`,
      `  ${running.apiCertificate}`,
      '',
      ...(running.simulator
        ? [
            'Try it:',
            `  alice (cleared):            ${curl('alice')}`,
            `  erin (bound local user):    ${curl('erin', '/whoami')}`,
            `  bob (needs validation):     ${curl('bob', '/signin', '-L ')}`,
            `  carol (revoked, 403):       ${curl('carol')}`,
            `  dave (unknown, 403):        ${curl('dave')}`,
            `  frank (expired: refused in the TLS handshake): ${curl('frank')}`,
            ...(cloudFront
              ? [
                  `  no certificate (landing page): curl --cacert ${pki}/ca.pem ${running.gatewayUrl}/signin`,
                  `  mallory (foreign CA: refused in the TLS handshake): ${curl('mallory')}`,
                ]
              : []),
            `  verify alice from a service: curl -H 'content-type: application/json' --data '{"serial":"${running.pki.devices.alice.serial}"}' ${running.serviceUrl}/verify`,
            ...(door
              ? [
                  `  alice through the door, as nginx would ask: curl -i --cacert ${pki}/ca.pem --cert ${shown(door.clientCertFile)} --key ${shown(door.clientKeyFile)} -H ${escapedCert('alice')} ${door.url}/auth/nginx`,
                ]
              : []),
          ]
        : [
            'Try it with your own Identity Plus device certificate (the gateway itself uses the dev server certificate):',
            `  curl -L --cacert ${pki}/ca.pem --cert YOUR-DEVICE.pem --key YOUR-DEVICE.key ${running.gatewayUrl}/signin`,
            `  or in a browser that has it installed, after trusting ${pki}/ca.pem for localhost: ${running.gatewayUrl}/signin`,
          ]),
      `  this period's report:        curl '${running.serviceUrl}/report?format=json'   (or npm run report)`,
      '',
      `Ctrl-C stops. Records, the PKI and the state key stay in ${dataDir}/.`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping plusgate local\n`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

type Values = Record<string, string | boolean | undefined>;

/** The external Identity Plus from the flags, checked (certificate opens, not expired), or undefined. */
async function externalIdentityPlus(v: Values) {
  const str = (name: string) => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
  const p12 = str('api-cert-p12');
  const cert = str('api-cert');
  const key = str('api-key');
  const given = p12 !== undefined || cert !== undefined || key !== undefined;
  const endpointFlags = ['identity-plus-api-url', 'identity-plus-signon-url', 'identity-plus-ca'].filter(
    (f) => v[f] !== undefined,
  );
  if (!given) {
    if (endpointFlags.length)
      fail(`--${endpointFlags[0]} goes with an API certificate (--api-cert-p12 or --api-cert/--api-key)`);
    return undefined;
  }
  if (p12 !== undefined && (cert !== undefined || key !== undefined))
    fail('give either --api-cert-p12 or --api-cert with --api-key, not both');
  if (p12 === undefined && (cert === undefined || key === undefined)) fail('--api-cert and --api-key go together');
  const password = str('api-cert-password') ?? process.env.PLUSGATE_P12_PASSWORD;
  if (p12 !== undefined && password === undefined)
    fail('--api-cert-p12 needs --api-cert-password (or PLUSGATE_P12_PASSWORD)');
  const httpsUrl = (name: string, fallback: string) => {
    const value = str(name) ?? fallback;
    try {
      if (new URL(value).protocol === 'https:') return value;
    } catch {
      /* below */
    }
    return fail(`--${name} must be an https URL, got "${value}"`);
  };
  const { prepareApiCertSecret, describeApiCert, ApiCertInputError } = await import('../cli/api-cert-input');
  try {
    const prepared = await prepareApiCertSecret(
      p12 !== undefined
        ? { kind: 'p12', file: p12, password: password as string }
        : { kind: 'pem', certFile: cert as string, keyFile: key as string },
    );
    const ca = str('identity-plus-ca');
    return {
      summary: `${prepared.summary.subject}, ${prepared.summary.daysLeft} days left`,
      lines: describeApiCert(prepared.summary),
      config: {
        apiUrl: httpsUrl('identity-plus-api-url', SETTINGS.identityPlusApiUrl.default),
        signonUrl: httpsUrl('identity-plus-signon-url', SETTINGS.identityPlusSignonUrl.default),
        apiCertSecret: prepared.secretString,
        extraCa: ca === undefined ? undefined : readableFile('--identity-plus-ca', ca),
      },
    };
  } catch (err) {
    if (err instanceof ApiCertInputError) fail(`API certificate: ${err.message}`);
    throw err;
  }
}

function readableFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`${flag} ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const hint = /EADDRINUSE/.test(message) ? ' (a port is taken: pick others with the --*-port flags)' : '';
  process.stderr.write(`plusgate local could not start: ${message}${hint}\n`);
  process.exit(1);
});
