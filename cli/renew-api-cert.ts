/**
 * `npm run renew-api-cert`: renews the Identity Plus API certificate now (the daily function does it by
 * itself once it is due). Against local mode by default: the data folder's certificate, renewed by the
 * simulator — the running one when local mode is up (it then serves the new certificate at once), else one
 * started here for the call. Against AWS with `--secret-name NAME --region R`: the secret in Secrets Manager,
 * renewed by Identity Plus. Argument parsing and the run live here; bin/renew-api-cert.ts is the entry.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { connect } from 'node:net';
import { SecretsManagerApiCertSecret } from '../functions/adapters/api-cert-secret-store';
import { SelfAuthorityClient } from '../functions/adapters/self-authority-client';
import { SETTINGS, show } from '../functions/config/settings';
import type { ApiCertSecretPort, RenewalOutcome } from '../functions/domain/api-cert-renewal';
import { RenewalError } from '../functions/domain/errors';
import { renewApiCertificate } from '../functions/handlers/renew-api-cert-app';
import { devPkiPaths, loadDevPki } from '../local/dev-pki-files';
import { IdentityPlusSimulator } from '../local/identity-plus-simulator';
import { LocalApiCertSecret } from '../local/local-api-cert';
import { UsageError, parseFlags } from './usage-error';

export const RENEW_USAGE = `usage: npm run renew-api-cert -- [options]
  --force                     renew now, even before ${Math.round(SETTINGS.apiCertRenewAtFraction.default * 100)}% of the lifetime has passed
  --json                      print { "renewed", "oldSerial", "newSerial", "notAfter", "reason" }
  --renew-at-fraction F       the deployment's apiCertRenewAtFraction (default ${SETTINGS.apiCertRenewAtFraction.default})

local mode (default):
  --data-dir DIR              local mode's data folder (default .plusgate)
  --simulator-port N          where a running local mode's simulator listens (default 8444); when nothing
                              listens there, a simulator is started for this call

AWS:
  --secret-name NAME          the API certificate secret (the stack's ApiCertSecretName output)
  --region R                  its region (default: AWS_REGION)
  --self-authority-url URL    default ${SETTINGS.identityPlusSelfAuthorityUrl.default}
  -h, --help                  this text

exit status: 0 renewed or not due, 1 the renewal failed (nothing was stored), 2 a bad command line`;

/** The parsed command line. */
export interface RenewCliArgs {
  readonly help: boolean;
  readonly force: boolean;
  readonly json: boolean;
  readonly renewAtFraction: number;
  readonly target:
    | { readonly kind: 'local'; readonly dataDir: string; readonly simulatorPort: number }
    | { readonly kind: 'aws'; readonly secretName: string; readonly region: string; readonly selfAuthorityUrl: string };
}

/** Parses `argv` (without node and the script); throws UsageError naming the bad flag. */
export function parseRenewArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): RenewCliArgs {
  const values = parseFlags(argv, FLAGS);
  const problems: string[] = [];
  const fraction = SETTINGS.apiCertRenewAtFraction.parse(
    values['renew-at-fraction'] ?? String(SETTINGS.apiCertRenewAtFraction.default),
    {
      strict: true,
      problem: (value, expected) => problems.push(`--renew-at-fraction: got ${show(value)}; expected ${expected}`),
    },
  );
  let target: RenewCliArgs['target'];
  if (values['secret-name'] !== undefined) {
    if (values['secret-name'].trim() === '') problems.push('--secret-name is empty');
    for (const local of ['data-dir', 'simulator-port'] as const) {
      if (values[local] !== undefined) problems.push(`--${local} is for local mode; it does not go with --secret-name`);
    }
    const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) problems.push('--secret-name needs --region (or AWS_REGION)');
    const url = SETTINGS.identityPlusSelfAuthorityUrl.parse(
      values['self-authority-url'] ?? SETTINGS.identityPlusSelfAuthorityUrl.default,
      {
        strict: true,
        problem: (value, expected) => problems.push(`--self-authority-url: got ${show(value)}; expected ${expected}`),
      },
    );
    target = { kind: 'aws', secretName: values['secret-name'], region: region ?? '', selfAuthorityUrl: url ?? '' };
  } else {
    for (const aws of ['region', 'self-authority-url'] as const) {
      if (values[aws] !== undefined) problems.push(`--${aws} goes with --secret-name (AWS)`);
    }
    const rawPort = values['simulator-port'] ?? '8444';
    const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : Number.NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(`--simulator-port: got ${show(values['simulator-port'])}; expected a port number from 1 to 65535`);
    }
    target = { kind: 'local', dataDir: values['data-dir'] ?? '.plusgate', simulatorPort: port };
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return {
    help: values.help ?? false,
    force: values.force ?? false,
    json: values.json ?? false,
    renewAtFraction: fraction ?? SETTINGS.apiCertRenewAtFraction.default,
    target,
  };
}

/** The flags of this CLI (read by parseFlags, cli/usage-error.ts: a bad one is a UsageError). */
const FLAGS = {
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  'renew-at-fraction': { type: 'string' },
  'data-dir': { type: 'string' },
  'simulator-port': { type: 'string' },
  'secret-name': { type: 'string' },
  region: { type: 'string' },
  'self-authority-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where the CLI writes. */
export interface RenewCliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly now: () => Date;
}

/** Runs one renewal as the arguments say; resolves with the exit status. */
export async function runRenewal(args: RenewCliArgs, io: RenewCliIo): Promise<number> {
  let outcome: RenewalOutcome;
  try {
    outcome =
      args.target.kind === 'aws' ? await renewInAws(args, args.target, io) : await renewLocally(args, args.target, io);
  } catch (err) {
    if (!(err instanceof RenewalError) && !(err instanceof LocalSetupError)) throw err;
    if (args.json) io.stdout.write(`${JSON.stringify({ renewed: false, reason: err.message })}\n`);
    io.stderr.write(`renew-api-cert: ${err.message}\nnothing was stored: the current certificate stays in use.\n`);
    return 1;
  }
  if (args.json) {
    io.stdout.write(`${JSON.stringify(outcome)}\n`);
  } else if (outcome.renewed) {
    io.stdout.write(
      `renewed: serial ${outcome.oldSerial} -> ${outcome.newSerial}, valid until ${outcome.notAfter}\n` +
        `(${outcome.reason}). The functions pick up the new certificate on their next secret refresh; the old one stays valid until it expires.\n`,
    );
  } else {
    io.stdout.write(`not renewed: ${outcome.reason}. Use --force to renew now.\n`);
  }
  return 0;
}

/** Local mode is not set up in the data folder (no dev PKI). */
class LocalSetupError extends Error {}

async function renewLocally(
  args: RenewCliArgs,
  target: { dataDir: string; simulatorPort: number },
  io: RenewCliIo,
): Promise<RenewalOutcome> {
  const pkiDir = devPkiPaths(target.dataDir).dir;
  const pki = await loadDevPki(target.dataDir).catch(() => {
    throw new LocalSetupError(`no local mode in ${target.dataDir} (no dev PKI in ${pkiDir}): run npm start once first`);
  });
  const secret = new LocalApiCertSecret(target.dataDir, pki);
  let simulator: IdentityPlusSimulator | undefined;
  let baseUrl = `https://localhost:${target.simulatorPort}`;
  if (!(await listening(target.simulatorPort))) {
    simulator = new IdentityPlusSimulator({
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
      apiClients: await secret.acceptedCertificates(io.now()),
      issuer: pki.intermediate,
    });
    await simulator.start();
    baseUrl = simulator.signonUrl;
  }
  try {
    return await run(args, secret, baseUrl, pki.caChain, io);
  } finally {
    await simulator?.stop();
  }
}

async function renewInAws(
  args: RenewCliArgs,
  target: { secretName: string; region: string; selfAuthorityUrl: string },
  io: RenewCliIo,
): Promise<RenewalOutcome> {
  const secret = new SecretsManagerApiCertSecret({
    client: new SecretsManagerClient({ region: target.region }),
    secretId: target.secretName,
  });
  return run(args, secret, target.selfAuthorityUrl, undefined, io);
}

function run(
  args: RenewCliArgs,
  secret: ApiCertSecretPort,
  baseUrl: string,
  extraCa: string | undefined,
  io: RenewCliIo,
): Promise<RenewalOutcome> {
  return renewApiCertificate(
    {
      secret,
      renew: (credentials, renewArgs) =>
        new SelfAuthorityClient({ baseUrl, credentials, extraCa }).renewCertificate(renewArgs),
      renewAtFraction: args.renewAtFraction,
      now: io.now,
    },
    { force: args.force },
  );
}

/** Whether something accepts TCP connections on the loopback port (a running local mode's simulator). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
