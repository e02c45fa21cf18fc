/**
 * `npm start`: local mode. Everything plusgate runs in AWS, on this machine, with no AWS account:
 * see local/local-mode.ts. Prints `plusgate local ready`, the URLs and ready-to-paste curl commands.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ENV } from '../functions/config/names';

// Local mode runs on Node 20 by design; the AWS SDK's notice about its future Node 22 floor is noise here.
// Set before the SDK is loaded (local-mode is imported below, after this line runs).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE = `usage: npm start -- [options]
  --data-dir DIR              dev PKI, DynamoDB data and state key (default .plusgate)
  --gateway-port N            mTLS gateway on https://localhost:N (default 8443)
  --simulator-port N          Identity Plus simulator (default 8444)
  --service-port N            service API (verify, report) on http://127.0.0.1:N, no IAM check (default 8445)
  --dynamodb-port N           dynalite (default 8000)
  --dynamodb-endpoint URL     use this DynamoDB endpoint instead of starting dynalite
  --decision-cache-seconds N  how long an allow is cached (default 60)
  --stale-if-error-seconds N  grace for recently allowed certificates when Identity Plus is down (default 0)
  --allowed-roles a,b         roles that grant access (default: any cleared certificate)
  --allowed-return-origins o  origins /signin may send people back to, comma-separated (default: the gateway's own)
  --quiet                     no request and decision logs`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--${name} must be a port number from 0 to 65535, got "${value}"`);
  return n;
}

function seconds(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`--${name} must be a whole number of seconds, got "${value}"`);
  return value;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        'data-dir': { type: 'string' },
        'gateway-port': { type: 'string' },
        'simulator-port': { type: 'string' },
        'service-port': { type: 'string' },
        'allowed-return-origins': { type: 'string' },
        'dynamodb-port': { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        'decision-cache-seconds': { type: 'string' },
        'stale-if-error-seconds': { type: 'string' },
        'allowed-roles': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const v = parsed.values;
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
  if (v['allowed-roles']) environment[ENV.ALLOWED_ROLES] = JSON.stringify(v['allowed-roles'].split(',').map((r) => r.trim()).filter(Boolean));
  if (v['allowed-return-origins']) {
    environment[ENV.ALLOWED_RETURN_ORIGINS] = JSON.stringify(v['allowed-return-origins'].split(',').map((o) => o.trim()).filter(Boolean));
  }
  if (v.quiet) environment.POWERTOOLS_LOG_LEVEL = 'WARN';

  const dataDir = v['data-dir'] ?? '.plusgate';
  const quiet = v.quiet ?? false;
  const { startLocalMode } = await import('../local/local-mode');
  const running = await startLocalMode({
    dataDir,
    gatewayPort: port('gateway-port', v['gateway-port'], 8443),
    simulatorPort: port('simulator-port', v['simulator-port'], 8444),
    servicePort: port('service-port', v['service-port'], 8445),
    dynamodbPort: port('dynamodb-port', v['dynamodb-port'], 8000),
    dynamodbEndpoint: v['dynamodb-endpoint'],
    environment,
    log: quiet ? undefined : (line) => process.stdout.write(`${line}\n`),
  });

  const relative = path.relative(process.cwd(), running.pkiDir);
  const pki = relative.startsWith('..') ? running.pkiDir : relative;
  const curl = (person: string, route = '/signin', extra = '') =>
    `curl ${extra}--cacert ${pki}/ca.pem --cert ${pki}/${person}.pem --key ${pki}/${person}.key ${running.gatewayUrl}${route}`;
  process.stdout.write(
    [
      'plusgate local ready',
      `  gateway (mutual TLS)   ${running.gatewayUrl}   routes: /signin?return=URL  /return?state=…  /whoami`,
      `  service API            ${running.serviceUrl}   routes: POST/GET /verify, GET /report   (loopback only; no IAM signature check here)`,
      `  Identity Plus sim      ${running.simulator.apiUrl}   admin: ${running.simulator.signonUrl}/__admin/`,
      `  DynamoDB               ${running.dynamodbEndpoint}   table plusgate-records`,
      `  dev PKI                ${pki}/   (PKCS#12 files for browsers: password "plusgate")`,
      '',
      'Try it:',
      `  alice (cleared):            ${curl('alice')}`,
      `  erin (bound local user):    ${curl('erin', '/whoami')}`,
      `  bob (needs validation):     ${curl('bob', '/signin', '-L ')}`,
      `  carol (revoked, 403):       ${curl('carol')}`,
      `  dave (unknown, 403):        ${curl('dave')}`,
      `  frank (expired: refused in the TLS handshake): ${curl('frank')}`,
      `  this period's report:        curl '${running.serviceUrl}/report?format=json'   (or npm run report)`,
      `  verify alice from a service: curl -H 'content-type: application/json' --data '{"serial":"${running.pki.devices.alice.serial}"}' ${running.serviceUrl}/verify`,
      '',
      'Ctrl-C stops. Records, the PKI and the state key stay in ' + dataDir + '/.',
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

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const hint = /EADDRINUSE/.test(message) ? ' (a port is taken: pick others with the --*-port flags)' : '';
  process.stderr.write(`plusgate local could not start: ${message}${hint}\n`);
  process.exit(1);
});
