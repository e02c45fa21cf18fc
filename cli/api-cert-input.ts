/**
 * The local half of `npm run put-api-cert`: parse the flags, open the Identity Plus API certificate the
 * way the Lambda will (Node TLS: `pfx`+`passphrase`, or `cert`+`key`) and build the secret's JSON. Nothing
 * here talks to AWS, and nothing returned for printing contains the key or the password.
 */
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { SECRET_NAME } from '../lib/config';
import { oneLine } from '../lib/truststore-pem';
import { UsageError } from './usage-error';
import { pkcs12Certificates } from '../functions/adapters/api-certificate';

/** Usage text shown by --help and after a bad flag. */
export const PUT_API_CERT_USAGE = `Usage:
  npm run put-api-cert -- --p12 FILE --password PASSWORD --secret-name NAME [--region REGION]
  npm run put-api-cert -- --cert FILE --key FILE --secret-name NAME [--region REGION]

Checks the Identity Plus API certificate locally (it must open with Node TLS exactly as the Lambda will
open it), prints its subject, serial and expiry, then creates the Secrets Manager secret NAME or puts a new
version into it. The private key and the password are never printed.

  --p12 FILE          PKCS#12 file as Identity Plus issues it
  --password PASSWORD its password (or set PLUSGATE_P12_PASSWORD to keep it out of the shell history)
  --cert FILE         PEM certificate (alternative to --p12)
  --key FILE          PEM private key of --cert
  --secret-name NAME  the stack's apiCertSecretName, e.g. plusgate/identity-plus-api-cert
  --region REGION     AWS region of the stack (default: your AWS CLI/SDK configuration)
  --help              show this text`;

/** The files do not hold a usable certificate: print the message, exit 1. */
export class ApiCertInputError extends Error {
  override name = 'ApiCertInputError';
}

/** Where the certificate comes from. */
export type ApiCertSource =
  | { readonly kind: 'p12'; readonly file: string; readonly password: string }
  | { readonly kind: 'pem'; readonly certFile: string; readonly keyFile: string };

/** The parsed command line. */
export interface PutApiCertArgs {
  readonly help: boolean;
  readonly secretName: string;
  readonly region?: string;
  readonly source: ApiCertSource;
}

const FLAGS = ['--p12', '--password', '--cert', '--key', '--secret-name', '--region'] as const;
type Flag = (typeof FLAGS)[number];
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Parses argv (without node and script); throws UsageError. `env` supplies PLUSGATE_P12_PASSWORD. */
export function parsePutApiCertArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): PutApiCertArgs {
  if (argv.includes('--help') || argv.includes('-h')) {
    return { help: true, secretName: '', source: { kind: 'pem', certFile: '', keyFile: '' } };
  }
  const values = new Map<Flag, string>();
  const rest = [...argv];
  for (let arg = rest.shift(); arg !== undefined; arg = rest.shift()) {
    const [name, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (!(FLAGS as readonly string[]).includes(name)) throw new UsageError(`unknown argument "${arg}"`);
    const flag = name as Flag;
    if (values.has(flag)) throw new UsageError(`${flag} given twice`);
    const value = inline ?? rest.shift();
    if (value === undefined || (inline === undefined && value.startsWith('--')))
      throw new UsageError(`${flag} needs a value`);
    if (value === '') throw new UsageError(`${flag} needs a non-empty value`);
    values.set(flag, value);
  }

  const secretName = values.get('--secret-name');
  if (!secretName) throw new UsageError('--secret-name is required');
  if (!SECRET_NAME.test(secretName)) {
    throw new UsageError(
      `--secret-name "${secretName}" is not a Secrets Manager name (1-512 of A-Z a-z 0-9 / _ + = . @ -; a name, not an ARN)`,
    );
  }
  const region = values.get('--region');
  if (region !== undefined && !REGION.test(region))
    throw new UsageError(`--region "${region}" is not an AWS region such as eu-west-1`);

  const p12 = values.get('--p12');
  const cert = values.get('--cert');
  const key = values.get('--key');
  const password = values.get('--password') ?? (env.PLUSGATE_P12_PASSWORD || undefined);
  let source: ApiCertSource;
  if (p12 !== undefined) {
    if (cert !== undefined || key !== undefined)
      throw new UsageError('give either --p12 (with --password) or --cert and --key, not both');
    if (password === undefined)
      throw new UsageError('--p12 needs --password (or PLUSGATE_P12_PASSWORD in the environment)');
    source = { kind: 'p12', file: p12, password };
  } else if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) throw new UsageError('--cert and --key go together');
    if (values.has('--password')) throw new UsageError('--password belongs to --p12; a PEM key must be unencrypted');
    source = { kind: 'pem', certFile: cert, keyFile: key };
  } else {
    throw new UsageError('give the certificate: --p12 FILE --password PASSWORD, or --cert FILE --key FILE');
  }
  return { help: false, secretName, region, source };
}

/** What may be printed about the certificate. */
export interface ApiCertSummary {
  readonly subject: string;
  readonly issuer: string;
  /** Decimal, as Identity Plus names certificates. */
  readonly serial: string;
  readonly notAfter: Date;
  /** Whole days until notAfter (negative once expired). */
  readonly daysLeft: number;
}

/** The secret to store and what to print about it. */
export interface PreparedApiCertSecret {
  /** JSON `{"p12","password"}` or `{"certificate","privateKey"}`: secret, never print it. */
  readonly secretString: string;
  readonly summary: ApiCertSummary;
}

/**
 * Opens the certificate with Node TLS (wrong password, unsupported PKCS#12 encryption or a key that does
 * not match fail here, not at the first sign-in) and builds the secret. Throws ApiCertInputError.
 */
export async function prepareApiCertSecret(
  source: ApiCertSource,
  now: Date = new Date(),
): Promise<PreparedApiCertSecret> {
  let options: tls.SecureContextOptions;
  let secret: Record<string, string>;
  if (source.kind === 'p12') {
    const pfx = readInput(source.file, '--p12');
    options = { pfx, passphrase: source.password };
    secret = { p12: pfx.toString('base64'), password: source.password };
  } else {
    const certificate = readInput(source.certFile, '--cert').toString('utf8');
    const privateKey = readInput(source.keyFile, '--key').toString('utf8');
    if (!certificate.includes('-----BEGIN CERTIFICATE-----'))
      throw new ApiCertInputError(`--cert ${source.certFile}: not a PEM certificate`);
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey))
      throw new ApiCertInputError(`--key ${source.keyFile}: not a PEM private key`);
    if (/ENCRYPTED/.test(privateKey))
      throw new ApiCertInputError(
        `--key ${source.keyFile}: the key is encrypted; store an unencrypted PEM key (Secrets Manager encrypts it) or use --p12`,
      );
    options = { cert: certificate, key: privateKey };
    secret = { certificate, privateKey };
    try {
      const leaf = new X509Certificate(certificate);
      if (!leaf.checkPrivateKey(createPrivateKey(privateKey))) {
        throw new ApiCertInputError(
          `--key ${source.keyFile} is not the private key of the certificate in --cert ${source.certFile}`,
        );
      }
    } catch (err) {
      if (err instanceof ApiCertInputError) throw err;
      throw new ApiCertInputError(`--cert/--key: cannot be read (${(err as Error).message})`);
    }
  }

  const der = checkedCertificate(options, source);
  const cert = new X509Certificate(der);
  const notAfter = new Date(cert.validTo);
  const summary: ApiCertSummary = {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: BigInt(`0x${cert.serialNumber}`).toString(10),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
  };
  if (summary.daysLeft < 0) {
    throw new ApiCertInputError(
      `the certificate (${summary.subject}, serial ${summary.serial}) expired on ${notAfter.toISOString()}; get a new one from Identity Plus`,
    );
  }
  return { secretString: JSON.stringify(secret), summary };
}

/** Human-readable lines about the certificate: never the key or the password. */
export function describeApiCert(summary: ApiCertSummary): string[] {
  return [
    `subject:  ${summary.subject}`,
    `issuer:   ${summary.issuer}`,
    `serial:   ${summary.serial}`,
    `notAfter: ${summary.notAfter.toISOString()} (${summary.daysLeft} days left)${summary.daysLeft < 30 ? '  <- renew soon' : ''}`,
  ];
}

function readInput(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ApiCertInputError(
      `${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(err)})`}`,
    );
  }
}

/**
 * Opens the credentials with Node TLS exactly as the Lambda will (a wrong password, an encryption OpenSSL 3
 * no longer opens, or a key that is not the certificate's fail here) and returns the certificate (DER):
 * the PEM one as given, or the leaf (the one non-CA certificate) read out of the PKCS#12.
 */
function checkedCertificate(options: tls.SecureContextOptions, source: ApiCertSource): Buffer {
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new ApiCertInputError(explainTlsError(err as Error, source));
  }
  if (source.kind === 'pem') return new X509Certificate(String(options.cert)).raw;
  const file = `--p12 ${source.file}`;
  let certificates: X509Certificate[];
  try {
    certificates = pkcs12Certificates({ p12: options.pfx as Buffer, password: source.password });
  } catch (err) {
    throw new ApiCertInputError(
      `${file}: opens with Node TLS, but its certificate cannot be read (${(err as Error).message}); give it as PEM with --cert and --key`,
    );
  }
  const leaves = certificates.filter((certificate) => !certificate.ca);
  const [leaf] = leaves;
  if (leaves.length !== 1 || leaf === undefined)
    throw new ApiCertInputError(
      `${file}: holds ${leaves.length} non-CA certificates; expected exactly one (our API certificate)`,
    );
  return leaf.raw;
}

function explainTlsError(err: Error, source: ApiCertSource): string {
  const msg = err.message;
  if (source.kind === 'p12') {
    if (/mac verify failure|invalid password/i.test(msg))
      return `--p12 ${source.file}: the password does not open it (${msg})`;
    if (/unsupported/i.test(msg)) {
      return `--p12 ${source.file}: uses an encryption Node's OpenSSL 3 no longer opens (${msg}); the Lambda could not open it either. Convert it: openssl pkcs12 -legacy -in ${source.file} -nokeys -out cert.pem && openssl pkcs12 -legacy -in ${source.file} -nocerts -nodes -out key.pem, then use --cert cert.pem --key key.pem`;
    }
    return `--p12 ${source.file}: not a usable PKCS#12 file (${msg})`;
  }
  if (/key values mismatch/i.test(msg))
    return `--key ${source.keyFile} is not the private key of the certificate in --cert ${source.certFile}`;
  return `--cert/--key: not a usable certificate and key (${msg})`;
}
