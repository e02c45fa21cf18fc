/**
 * The proxy CA: the operator's own CA for the reverse proxies that ask plusgate through its mutual-TLS
 * forward-auth door, and the client certificates it issues them. `npm run proxy-cert` (cli/proxy-cert.ts)
 * and local mode's door (`--forward-auth-port`, the folder `<data dir>/proxy-ca`) both use this module;
 * the certificates come from the dev PKI's issuing code (local/dev-pki.ts).
 *
 * On disk, in one folder (0700 when created here), every file 0600 and created exclusively (O_EXCL, so
 * never through a symlink planted there):
 *   proxy-ca.pem, proxy-ca.key   the CA; never replaced here (a new CA means a new truststore everywhere)
 *   truststore.pem               the CA alone: the door's truststore (AWS: `forwardAuthTruststorePath`);
 *                                written when missing, never rewritten (an operator may append a second CA
 *                                while rotating)
 *   <name>.pem, <name>.key       a proxy's client certificate (extended key usage clientAuth) and its key;
 *                                replaced only when asked (`--force`), atomically (new file, then rename)
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type IssuedCert, type KeyPair, createCertificateAuthority, issueCertificate } from './dev-pki';

const DAY_MS = 86_400_000;

/** Longest client certificate `npm run proxy-cert` issues, in days (the public-web ceiling, 398). */
export const MAX_PROXY_CERT_DAYS = 398;
/** Validity of a proxy client certificate when none is asked for, in days. */
export const DEFAULT_PROXY_CERT_DAYS = 365;
/** Validity of a new proxy CA, in days (ten years: renewing it means a new truststore everywhere). */
export const PROXY_CA_DAYS = 3650;
/** The client certificate local mode issues itself for its door. */
export const LOCAL_PROXY_NAME = 'local-proxy';
/** A local mode client certificate closer than this to its end is issued anew at start. */
const RENEW_LOCAL_BEFORE_MS = 7 * DAY_MS;

/** Names whose files would be the CA's own. */
const RESERVED_NAMES = ['proxy-ca', 'truststore'];
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$/;

/** A problem with the proxy CA folder or its files (not with the command line): exit status 1. */
export class ProxyCaError extends Error {
  override name = 'ProxyCaError';
}

/** Where each file of a proxy CA folder goes. */
export function proxyCaPaths(dir: string) {
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caCert: file('proxy-ca.pem'),
    caKey: file('proxy-ca.key'),
    truststore: file('truststore.pem'),
    client: (name: string) => ({ cert: file(`${name}.pem`), key: file(`${name}.key`) }),
  };
}

/**
 * Why `name` cannot name a proxy (it becomes a file name and the certificate's CN), or undefined when it
 * can: 1 to 64 letters, digits, '.', '_' and '-', starting and ending with a letter or digit, and not
 * `proxy-ca` or `truststore` (the CA's own files; compared case-insensitively, as some file systems do).
 */
export function proxyNameProblem(name: string): string | undefined {
  if (name === '') return 'the proxy name is empty';
  if (!NAME.test(name)) {
    return `proxy name ${JSON.stringify(name.slice(0, 80))} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit (it names the files and the certificate's CN)`;
  }
  if (RESERVED_NAMES.includes(name.toLowerCase()))
    return `proxy name "${name}" is taken by the CA's own files (${RESERVED_NAMES.join(', ')})`;
  return undefined;
}

/** The proxy CA of a folder, and what was done to get it. */
export interface ProxyCa extends KeyPair {
  readonly notAfter: Date;
  /** Files this call wrote (a new CA, or a missing truststore). */
  readonly written: readonly string[];
  /** True when the CA was made by this call. */
  readonly created: boolean;
  /** Things worth telling the operator (a key others can read). */
  readonly warnings: readonly string[];
}

/**
 * The proxy CA in `dir`: read and checked (a CA, its key, not expired) when both its files are there,
 * made there when neither is; anything in between is an error, never overwritten.
 */
export async function loadOrCreateProxyCa(dir: string, now: Date = new Date()): Promise<ProxyCa> {
  const p = proxyCaPaths(dir);
  const [hasCert, hasKey] = await Promise.all([exists(p.caCert), exists(p.caKey)]);
  const written: string[] = [];
  const warnings: string[] = [];
  let ca: KeyPair;
  let created = false;
  if (hasCert && hasKey) {
    ca = { cert: await fs.readFile(p.caCert, 'utf8'), key: await fs.readFile(p.caKey, 'utf8') };
    checkCa(ca, p, now);
    const loose = await looseMode(p.caKey);
    if (loose) warnings.push(`${p.caKey} is readable by others (mode ${loose}): chmod 600 it`);
  } else if (hasCert || hasKey) {
    const [there, missing] = hasCert ? [p.caCert, p.caKey] : [p.caKey, p.caCert];
    throw new ProxyCaError(
      `${there} is there but ${missing} is not: restore it, or move the folder away to make a new proxy CA (then every door's truststore must change)`,
    );
  } else {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const stamp = `${now.toISOString().slice(0, 10)} ${randomBytes(3).toString('hex')}`;
    ca = await createCertificateAuthority({
      subject: `O=plusgate proxy,CN=plusgate proxy CA ${stamp}`,
      notBefore: new Date(now.getTime() - DAY_MS),
      notAfter: new Date(now.getTime() + PROXY_CA_DAYS * DAY_MS),
    });
    // The key first: a crash in between leaves a key without a certificate, which the next run reports.
    await writeNew(p.caKey, ca.key);
    await writeNew(p.caCert, ca.cert);
    written.push(p.caCert, p.caKey);
    created = true;
  }
  if (!(await exists(p.truststore))) {
    await writeNew(p.truststore, ca.cert);
    written.push(p.truststore);
  }
  return { ...ca, notAfter: new Date(new X509Certificate(ca.cert).validTo), written, created, warnings };
}

/** Options of {@link issueProxyCertificate}. */
export interface IssueProxyOptions {
  /** @default DEFAULT_PROXY_CERT_DAYS */
  readonly days?: number;
  /** Replace the proxy's certificate and key when they exist. @default false (refuse) */
  readonly force?: boolean;
  readonly now?: Date;
}

/** A proxy client certificate written to disk. */
export interface IssuedProxyCert {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: IssuedCert;
  readonly notAfter: Date;
  /** True when an existing certificate and key were replaced (`force`). */
  readonly replaced: boolean;
}

/**
 * Issues proxy `name` a client certificate (clientAuth) from `ca` and writes it and its key into `dir`.
 * An existing key or certificate of that name is an error unless `force`.
 */
export async function issueProxyCertificate(
  dir: string,
  ca: KeyPair,
  name: string,
  options: IssueProxyOptions = {},
): Promise<IssuedProxyCert> {
  const problem = proxyNameProblem(name);
  if (problem) throw new ProxyCaError(problem);
  const days = options.days ?? DEFAULT_PROXY_CERT_DAYS;
  const now = options.now ?? new Date();
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  const caNotAfter = new Date(new X509Certificate(ca.cert).validTo);
  if (notAfter > caNotAfter) {
    throw new ProxyCaError(
      `the proxy CA expires ${caNotAfter.toISOString()}, before a ${days}-day certificate would (${notAfter.toISOString()}): ask for fewer days, or make a new proxy CA in another folder`,
    );
  }
  const files = proxyCaPaths(dir).client(name);
  const present = (await Promise.all([exists(files.cert), exists(files.key)])).some(Boolean);
  if (present && !options.force) {
    throw new ProxyCaError(
      `${files.key} or ${files.cert} exists already: pick another --name, or add --force to replace both`,
    );
  }
  let cert: IssuedCert;
  try {
    cert = await issueCertificate(ca, {
      subject: `O=plusgate proxy,CN=${name}`,
      usage: 'client',
      notBefore: new Date(now.getTime() - 60 * 60 * 1000),
      notAfter,
    });
  } catch (err) {
    throw new ProxyCaError(`the proxy CA could not issue a certificate: ${(err as Error).message}`);
  }
  if (present) {
    await replaceFile(files.key, cert.key);
    await replaceFile(files.cert, cert.cert);
  } else {
    await writeNew(files.key, cert.key);
    await writeNew(files.cert, cert.cert);
  }
  return { name, certFile: files.cert, keyFile: files.key, cert, notAfter, replaced: present };
}

/** Local mode's proxy CA and the client certificate it hands its own examples. */
export interface LocalProxyCa {
  readonly dir: string;
  /** The door's truststore file and its text. */
  readonly truststoreFile: string;
  readonly truststore: string;
  readonly caCertFile: string;
  readonly client: { readonly certFile: string; readonly keyFile: string };
  /** Files written at this start (first start, or a renewed local-proxy certificate). */
  readonly written: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * The proxy CA of local mode's door, `<dataDir>/proxy-ca` (made on first start, as `npm run proxy-cert`
 * makes it), and a current `local-proxy` client certificate from it (issued anew when missing, not from
 * this CA, or within a week of its end).
 */
export async function ensureLocalProxyCa(dataDir: string, now: Date = new Date()): Promise<LocalProxyCa> {
  const dir = path.join(dataDir, 'proxy-ca');
  const p = proxyCaPaths(dir);
  const ca = await loadOrCreateProxyCa(dir, now);
  const written = [...ca.written];
  const files = p.client(LOCAL_PROXY_NAME);
  if (!(await usableClient(files, ca, now))) {
    const issued = await issueProxyCertificate(dir, ca, LOCAL_PROXY_NAME, { force: true, now });
    written.push(issued.certFile, issued.keyFile);
  }
  return {
    dir,
    truststoreFile: p.truststore,
    truststore: await fs.readFile(p.truststore, 'utf8'),
    caCertFile: p.caCert,
    client: { certFile: files.cert, keyFile: files.key },
    written,
    warnings: ca.warnings,
  };
}

/** Every certificate in a PEM text (a truststore), in order. */
export function certificatesIn(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

// ---------------------------------------------------------------------------------------------

function checkCa(ca: KeyPair, p: ReturnType<typeof proxyCaPaths>, now: Date): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(ca.cert);
  } catch {
    throw new ProxyCaError(`${p.caCert} is not a PEM certificate`);
  }
  if (!cert.ca) throw new ProxyCaError(`${p.caCert} is not a CA certificate (basicConstraints CA:FALSE)`);
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(ca.key));
  } catch {
    throw new ProxyCaError(`${p.caKey} is not a readable unencrypted private key (PEM)`);
  }
  if (!matches) throw new ProxyCaError(`${p.caKey} is not the key of ${p.caCert}`);
  if (new Date(cert.validTo).getTime() <= now.getTime()) {
    throw new ProxyCaError(
      `the proxy CA ${p.caCert} expired ${new Date(cert.validTo).toISOString()}: move the folder away to make a new one`,
    );
  }
}

async function usableClient(files: { cert: string; key: string }, ca: KeyPair, now: Date): Promise<boolean> {
  try {
    const cert = new X509Certificate(await fs.readFile(files.cert, 'utf8'));
    const key = createPrivateKey(await fs.readFile(files.key, 'utf8'));
    return (
      cert.verify(new X509Certificate(ca.cert).publicKey) &&
      cert.checkPrivateKey(key) &&
      new Date(cert.validTo).getTime() - now.getTime() > RENEW_LOCAL_BEFORE_MS
    );
  } catch {
    return false;
  }
}

/** Creates `file` with mode 0600; an existing file (or symlink) of that name is an error. */
async function writeNew(file: string, data: string): Promise<void> {
  try {
    await fs.writeFile(file, data, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new ProxyCaError(`${file} exists already; nothing was overwritten`);
    throw err;
  }
}

/** Replaces `file` atomically with a new 0600 file (a rename replaces a symlink itself, never its target). */
async function replaceFile(file: string, data: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeNew(temp, data);
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The octal mode of a file others may read or write, or undefined when only its owner may. */
async function looseMode(file: string): Promise<string | undefined> {
  const mode = (await fs.stat(file)).mode & 0o777;
  return mode & 0o077 ? `0${mode.toString(8)}` : undefined;
}
