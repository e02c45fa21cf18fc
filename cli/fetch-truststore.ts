/**
 * `npm run fetch-truststore`: downloads the Identity Plus CA chain (the truststore `truststorePath` points at)
 * from `GET https://platform.identity.plus/download/trust-chain?format=pem` over mutual TLS with our API
 * certificate, checks it as the synth does (lib/truststore-pem.ts) and writes it atomically. Without a
 * credential flag it works against local mode: the data folder's API certificate and its simulator. Argument
 * parsing and the run live here; bin/fetch-truststore.ts is the entry. docs/identityplus-api.md, "Hosts".
 */
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type ApiCredentials, buildSecureContext } from '../functions/adapters/identity-plus-credentials';
import { apiCredentialsFromSecret } from '../functions/adapters/secrets';
import { ConfigurationError } from '../functions/domain/errors';
import { terminalSafe } from '../functions/domain/report-formats';
import { loadDevPki } from '../local/dev-pki-files';
import { IdentityPlusSimulator } from '../local/identity-plus-simulator';
import { LocalApiCertSecret } from '../local/local-api-cert';
import { oneLine, parseTruststore, selfSigned, type TruststorePem } from '../lib/truststore-pem';
import { ApiCertInputError, type ApiCertSource, prepareApiCertSecret } from './api-cert-input';
import {
  FETCH_LIMITS,
  FetchTruststoreError,
  RefusedError,
  checkTarget,
  downloadTrustChain,
  writeAtomically,
} from './fetch-truststore-io';
import { UsageError, parseFlags } from './usage-error';

export { FETCH_LIMITS, FetchTruststoreError, downloadTrustChain, readPasswordLine } from './fetch-truststore-io';

/** Where Identity Plus serves its CA chain (IdentityPlus/cli `get_trust_chain`, mtls-gateway `Get_trust_chain`). */
export const TRUST_CHAIN_URL = 'https://platform.identity.plus/download/trust-chain?format=pem';
/** The same route on local mode's simulator. */
export const LOCAL_TRUST_CHAIN_URL = 'https://localhost:8444/download/trust-chain?format=pem';
/** The file written in the data folder in local mode without `--out`. */
export const LOCAL_TRUSTSTORE_FILE = 'identity-plus-truststore.pem';

export const FETCH_TRUSTSTORE_USAGE = `usage: npm run fetch-truststore -- [options]
Downloads the Identity Plus CA chain over mutual TLS with the API certificate, checks it as the synth checks
truststorePath (CA certificates only, complete chains, a root) and writes it (mode 0644, atomically).

the API certificate (none of these: local mode):
  --p12 FILE            PKCS#12 file as Identity Plus issues it; the password comes from --password-env,
                        else PLUSGATE_P12_PASSWORD, else a prompt (or the first line of stdin when piped)
  --password-env VAR    the environment variable holding the PKCS#12 password
  --cert FILE --key FILE  PEM certificate and its unencrypted private key

  --out PATH            the file to write (required unless local mode: <data dir>/${LOCAL_TRUSTSTORE_FILE})
  --force               replace an existing file (never through a symlink)
  --url URL             https, no credentials (default ${TRUST_CHAIN_URL};
                        local mode: ${LOCAL_TRUST_CHAIN_URL}, a simulator is started when none runs)
  --extra-ca FILE       PEM CA trusted for the server IN ADDITION to the system roots (local mode: the dev CA)
  --data-dir DIR        local mode's data folder (default .plusgate)
  -h, --help            this text

exit status: 0 written, 1 the download or its checks failed (nothing was written), 2 a bad command line`;

/** Where the API certificate comes from. */
export type TruststoreCredentials =
  | { readonly kind: 'local'; readonly dataDir: string }
  | { readonly kind: 'p12'; readonly file: string; readonly passwordEnv?: string }
  | { readonly kind: 'pem'; readonly certFile: string; readonly keyFile: string };

/** The parsed command line. */
export interface FetchTruststoreArgs {
  readonly help: boolean;
  readonly force: boolean;
  readonly credentials: TruststoreCredentials;
  /** Undefined: the mode's default. */
  readonly url?: string;
  /** Undefined only in local mode: `<data dir>/identity-plus-truststore.pem`. */
  readonly out?: string;
  readonly extraCa?: string;
}

/** Parses `argv` (without node and the script); throws UsageError naming every bad flag. */
export function parseFetchTruststoreArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): FetchTruststoreArgs {
  if (argv.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw new UsageError(
      '--password is not taken (it would show in the process list): use --password-env VAR or the prompt',
    );
  }
  const values = parseFlags(argv, FLAGS);
  const help = values.help ?? false;
  if (help) return { help, force: false, credentials: { kind: 'local', dataDir: '.plusgate' } };
  const problems: string[] = [];
  for (const flag of ['p12', 'password-env', 'cert', 'key', 'out', 'url', 'extra-ca', 'data-dir'] as const) {
    if (values[flag] !== undefined && values[flag].trim() === '') problems.push(`--${flag} is empty`);
  }
  const { p12, cert, key } = values;
  let credentials: TruststoreCredentials;
  if (p12 !== undefined) {
    if (cert !== undefined || key !== undefined) problems.push('give either --p12 or --cert and --key, not both');
    const name = values['password-env'] ?? (env.PLUSGATE_P12_PASSWORD ? 'PLUSGATE_P12_PASSWORD' : undefined);
    if (values['password-env'] !== undefined && !env[values['password-env']]) {
      problems.push(`--password-env ${values['password-env']}: that environment variable is not set or is empty`);
    }
    credentials = { kind: 'p12', file: p12, ...(name === undefined ? {} : { passwordEnv: name }) };
  } else if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) problems.push('--cert and --key go together');
    credentials = { kind: 'pem', certFile: cert ?? '', keyFile: key ?? '' };
  } else {
    credentials = { kind: 'local', dataDir: values['data-dir'] ?? '.plusgate' };
  }
  if (credentials.kind !== 'p12' && values['password-env'] !== undefined) {
    problems.push('--password-env belongs to --p12 (a PEM key must be unencrypted)');
  }
  if (credentials.kind !== 'local') {
    if (values['data-dir'] !== undefined)
      problems.push('--data-dir is for local mode; it does not go with --p12 or --cert');
    if (values.out === undefined)
      problems.push('--out PATH is required with --p12 or --cert: where to write the truststore');
  }
  if (values.url !== undefined) {
    const problem = urlProblem(values.url);
    if (problem) problems.push(`--url: ${problem}`);
  }
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return {
    help,
    force: values.force ?? false,
    credentials,
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(values.out === undefined ? {} : { out: values.out }),
    ...(values['extra-ca'] === undefined ? {} : { extraCa: values['extra-ca'] }),
  };
}

/** The flags of this CLI (read by parseFlags, cli/usage-error.ts: a bad one is a UsageError). */
const FLAGS = {
  p12: { type: 'string' },
  'password-env': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  out: { type: 'string' },
  url: { type: 'string' },
  'extra-ca': { type: 'string' },
  'data-dir': { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function urlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `got ${JSON.stringify(terminalSafe(raw.slice(0, 80)))}; expected an absolute https URL`;
  }
  if (url.protocol !== 'https:') return `only https is allowed, got ${url.protocol.replace(/:$/, '')}:`;
  if (url.username || url.password) return 'the URL carries credentials; the API certificate is the only credential';
  return undefined;
}

/** What the CLI reads and writes. */
export interface FetchTruststoreIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly now: () => Date;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Asks for the PKCS#12 password (prompt without echo, or stdin when piped). */
  readonly readPassword: () => Promise<string>;
  /** Paths are printed relative to this when inside it. @default process.cwd() */
  readonly cwd?: string;
  /** @default FETCH_LIMITS */
  readonly limits?: typeof FETCH_LIMITS;
  /** Local mode's default URL. @default LOCAL_TRUST_CHAIN_URL */
  readonly localUrl?: string;
}

/** Downloads, checks, writes and describes the truststore; resolves with the exit status. */
export async function runFetchTruststore(args: FetchTruststoreArgs, io: FetchTruststoreIo): Promise<number> {
  const now = io.now();
  const limits = io.limits ?? FETCH_LIMITS;
  let simulator: IdentityPlusSimulator | undefined;
  try {
    const out =
      args.out ?? path.join(args.credentials.kind === 'local' ? args.credentials.dataDir : '.', LOCAL_TRUSTSTORE_FILE);
    // Before a password is asked for, and (local mode) once the data folder is known to be one.
    if (args.credentials.kind !== 'local') await checkTarget(out, args.force);
    const trust = await credentialsOf(args.credentials, io, now);
    if (args.credentials.kind === 'local') await checkTarget(out, args.force);
    const extraCa = [trust.extraCa, args.extraCa === undefined ? undefined : await readExtraCa(args.extraCa)]
      .filter((ca) => ca !== undefined)
      .join('\n');
    let context: ReturnType<typeof buildSecureContext>;
    try {
      context = buildSecureContext(trust.credentials, extraCa === '' ? undefined : extraCa);
    } catch (err) {
      if (err instanceof ConfigurationError) throw new FetchTruststoreError(err.message);
      throw err;
    }
    let url = args.url ?? trust.defaultUrl;
    let text: string;
    try {
      text = await downloadTrustChain(new URL(url), context, limits);
    } catch (err) {
      // Local mode with nothing on 8444: a simulator for this call, as npm run renew-api-cert does.
      if (!(err instanceof RefusedError) || args.url !== undefined || trust.startSimulator === undefined) throw err;
      simulator = await trust.startSimulator();
      url = `${simulator.signonUrl}/download/trust-chain?format=pem`;
      text = await downloadTrustChain(new URL(url), context, limits);
    }
    const truststore = checkedTruststore(text, url, now);
    await writeAtomically(out, truststore.truststore, args.force);
    io.stdout.write(summary(truststore, url, out, io.cwd ?? process.cwd()));
    return 0;
  } catch (err) {
    if (!(err instanceof FetchTruststoreError)) throw err;
    io.stderr.write(`fetch-truststore: ${terminalSafe(err.message)}\n`);
    return 1;
  } finally {
    await simulator?.stop();
  }
}

interface Trust {
  readonly credentials: ApiCredentials;
  readonly defaultUrl: string;
  readonly extraCa?: string;
  readonly startSimulator?: () => Promise<IdentityPlusSimulator>;
}

async function credentialsOf(source: TruststoreCredentials, io: FetchTruststoreIo, now: Date): Promise<Trust> {
  if (source.kind === 'local') {
    const pki = await loadDevPki(source.dataDir).catch(() => {
      throw new FetchTruststoreError(`no local mode in ${source.dataDir} (no dev PKI): run npm start once first`);
    });
    const secret = new LocalApiCertSecret(source.dataDir, pki);
    return {
      credentials: apiCredentialsFromSecret(JSON.parse(await secret.text(now))),
      defaultUrl: io.localUrl ?? LOCAL_TRUST_CHAIN_URL,
      extraCa: pki.caChain,
      startSimulator: async () => {
        const simulator = new IdentityPlusSimulator({
          tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
          apiClients: await secret.acceptedCertificates(now),
        });
        await simulator.start();
        return simulator;
      },
    };
  }
  let input: ApiCertSource;
  if (source.kind === 'pem') input = { kind: 'pem', certFile: source.certFile, keyFile: source.keyFile };
  else {
    const password = source.passwordEnv === undefined ? await io.readPassword() : (io.env[source.passwordEnv] ?? '');
    if (password === '') throw new FetchTruststoreError(`--p12 ${source.file}: no password given`);
    input = { kind: 'p12', file: source.file, password };
  }
  try {
    // Opens the certificate as put-api-cert does (wrong password, legacy PKCS#12, mismatched key, expired).
    const prepared = await prepareApiCertSecret(input, now);
    return { credentials: apiCredentialsFromSecret(JSON.parse(prepared.secretString)), defaultUrl: TRUST_CHAIN_URL };
  } catch (err) {
    if (err instanceof ApiCertInputError) throw new FetchTruststoreError(err.message);
    throw err;
  }
}

async function readExtraCa(file: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new FetchTruststoreError(`--extra-ca ${file}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "-----BEGIN CERTIFICATE-----" block');
    new X509Certificate(text);
  } catch (err) {
    throw new FetchTruststoreError(`--extra-ca ${file}: not a PEM certificate (${(err as Error).message})`);
  }
  return text;
}

interface Checked {
  readonly truststore: TruststorePem;
  readonly certificates: readonly X509Certificate[];
  readonly warnings: readonly string[];
}

/** The synth's truststore checks (lib/truststore-pem.ts), and at least one root. */
function checkedTruststore(text: string, url: string, now: Date): Checked {
  const result = parseTruststore(text, url, now);
  if (!result.ok) {
    throw new FetchTruststoreError(
      `the answer from ${url} is not a usable truststore: ${result.problems.join('; ')}; nothing was written`,
    );
  }
  const certificates = result.truststore.pem
    .split(/(?<=-----END CERTIFICATE-----)\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => new X509Certificate(block));
  if (!certificates.some(selfSigned)) {
    throw new FetchTruststoreError(
      `the answer from ${url} holds no root (self-signed) CA certificate; a truststore needs its chains up to the root; nothing was written`,
    );
  }
  return { truststore: result.truststore, certificates, warnings: result.warnings };
}

function summary(checked: Checked, url: string, out: string, cwd: string): string {
  const relative = path.relative(cwd, path.resolve(out));
  const shown =
    relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(out) : relative;
  const n = checked.certificates.length;
  const lines = [
    `Identity Plus CA chain from ${url}: ${n} CA certificate${n === 1 ? '' : 's'}, complete chains (the synth's truststore checks)`,
    ...checked.certificates.flatMap((cert, i) => [
      `  ${i + 1}. subject:   ${terminalSafe(oneLine(cert.subject))}${selfSigned(cert) ? '  (root)' : ''}`,
      `     issuer:    ${terminalSafe(oneLine(cert.issuer))}`,
      `     not after: ${new Date(cert.validTo).toISOString()}`,
      `     SHA-256:   ${cert.fingerprint256}`,
    ]),
    ...checked.warnings.map((w) => `warning: ${terminalSafe(w)}`),
    `wrote ${shown} (mode 0644)`,
    '',
    'In cdk.json, under "context":',
    `  "truststorePath": ${JSON.stringify(shown)}`,
    '',
  ];
  return lines.join('\n');
}
