/**
 * Reads and checks the mutual TLS truststore file at synth time. The truststore must hold only the CA
 * certificates that issue device certificates (Identity Plus root + intermediate): serial numbers are
 * unique per issuer, not globally, so any other CA in it could mint a certificate with a victim's serial.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A checked truststore, normalised to its certificates only. */
export interface TruststorePem {
  /** Absolute path of the file it was read from. */
  readonly path: string;
  /** The CA certificates, PEM, one after the other: exactly what is uploaded for API Gateway. */
  readonly pem: string;
  /** Hex SHA-256 of `pem`: names the uploaded object, so a changed truststore updates the domain. */
  readonly sha256: string;
  /** Subject of each certificate, for messages and outputs. */
  readonly subjects: readonly string[];
}

/** Outcome of reading a truststore: the truststore, or every problem found (each a full sentence). */
export type TruststoreResult =
  | { readonly ok: true; readonly truststore: TruststorePem; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Reads `file` (absolute) and checks it holds only parseable CA certificates forming complete chains. */
export function readTruststore(file: string, now: Date = new Date()): TruststoreResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'the file does not exist'
        : code === 'EISDIR'
          ? 'it is a directory'
          : `it cannot be read (${code ?? String(err)})`;
    return { ok: false, problems: [why] };
  }
  return parseTruststore(text, file, now);
}

/** Checks PEM text; `file` only labels the result. Exported for tests. */
export function parseTruststore(text: string, file: string, now: Date = new Date()): TruststoreResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const certs: X509Certificate[] = [];
  let index = 0;
  for (const match of text.matchAll(PEM_BLOCK)) {
    index += 1;
    const label = match[1] ?? '';
    if (label !== 'CERTIFICATE') {
      problems.push(
        `PEM block #${index} is a "${label}", not a CERTIFICATE; a truststore holds CA certificates only${/PRIVATE KEY/.test(label) ? ' (and a private key must never be committed or uploaded: remove it and consider it leaked)' : ''}`,
      );
      continue;
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(match[0]);
    } catch (err) {
      problems.push(`certificate #${index} cannot be parsed as X.509 (${(err as Error).message})`);
      continue;
    }
    const name = `certificate #${index} (${oneLine(cert.subject)})`;
    if (cert.ca !== true) {
      problems.push(
        `${name} is not a CA certificate (basicConstraints CA:TRUE missing); the truststore must hold only the CA certificates that issue device certificates, never a device or server certificate`,
      );
      continue;
    }
    const key = cert.publicKey;
    if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      problems.push(
        `${name} has a ${key.asymmetricKeyDetails?.modulusLength}-bit RSA key; API Gateway accepts RSA keys of 2048 bits or more`,
      );
    }
    if (Date.parse(cert.validTo) < now.getTime()) {
      warnings.push(`${name} expired on ${cert.validTo}; certificates it issued will be refused`);
    }
    if (certs.some((c) => c.fingerprint256 === cert.fingerprint256)) continue;
    certs.push(cert);
  }
  if (index === 0) problems.push('it contains no PEM certificate (expected "-----BEGIN CERTIFICATE-----" blocks)');

  // API Gateway needs every chain complete up to its root: each certificate's issuer must be in the file.
  for (const cert of certs) {
    if (selfSigned(cert)) continue;
    if (!certs.some((other) => other !== cert && cert.checkIssued(other) && cert.verify(other.publicKey))) {
      problems.push(
        `certificate (${oneLine(cert.subject)}) was issued by "${oneLine(cert.issuer)}", which is not in the file; include the whole chain up to the root`,
      );
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  const pem = `${certs.map((c) => c.toString().trim()).join('\n')}\n`;
  return {
    ok: true,
    warnings,
    truststore: {
      path: file,
      pem,
      sha256: createHash('sha256').update(pem).digest('hex'),
      subjects: certs.map((c) => oneLine(c.subject)),
    },
  };
}

/** Whether `cert` is a root: it names itself as issuer and its own key verifies its signature. */
export function selfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** A multi-line Node DN on one line, for messages. */
export function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

/** A private copy of the checked truststore on disk (for the function bundles) and how to delete it. */
export interface TruststoreFile {
  /** Absolute path of the copy: `<tmpdir>/plusgate-truststore-<random>/truststore.pem`. */
  readonly file: string;
  /** Deletes the copy and its folder. */
  remove(): void;
}

/** Writes `pem` to `file`; tests swap it to simulate a file that changes between writing and checking. */
export type WriteTruststoreFile = (file: string, pem: string) => void;

/** Creates the file, failing if anything is already there (O_EXCL, so never through a planted symlink), mode 0600. */
const writeExclusive: WriteTruststoreFile = (file, pem) => writeFileSync(file, pem, { flag: 'wx', mode: 0o600 });

/** Options of {@link writeTruststoreFile}. */
export interface WriteTruststoreFileOptions {
  /** Where the private folder is created. @default os.tmpdir() */
  readonly parent?: string;
  /** @default create exclusively, mode 0600 */
  readonly write?: WriteTruststoreFile;
}

/**
 * Writes the checked truststore PEM where esbuild's copy hook can read it, then reads it back and checks its
 * SHA-256. The folder is new, has a random name and mode 0700 (mkdtemp), so nobody else on the machine can
 * predict the path, plant a file of their own CAs there first, or change it; the hash check stops the synth
 * if the file holds anything but the checked truststore anyway.
 */
export function writeTruststoreFile(
  truststore: TruststorePem,
  options: WriteTruststoreFileOptions = {},
): TruststoreFile {
  const dir = mkdtempSync(path.join(options.parent ?? os.tmpdir(), 'plusgate-truststore-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const file = path.join(dir, 'truststore.pem');
  try {
    (options.write ?? writeExclusive)(file, truststore.pem);
    checkTruststoreFile(file, truststore);
  } catch (err) {
    remove();
    throw err;
  }
  return { file, remove };
}

/** Throws unless `file` is a regular file (not a link) holding exactly the checked truststore, by SHA-256. */
export function checkTruststoreFile(file: string, truststore: TruststorePem): void {
  let sha256: string;
  try {
    if (!lstatSync(file).isFile()) throw new Error('it is not a regular file');
    sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    throw new Error(`The truststore copy ${file} cannot be checked: ${(err as Error).message}`, { cause: err });
  }
  if (sha256 !== truststore.sha256) {
    throw new Error(
      `The truststore copy ${file} has SHA-256 ${sha256}, not ${truststore.sha256} (the checked truststore from ${truststore.path}): it changed after it was written, so the synth stops instead of bundling CAs nobody checked.`,
    );
  }
}
