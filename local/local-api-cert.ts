/**
 * Local mode's Identity Plus API certificate secret. It starts as the dev PKI's API certificate
 * (`pki/api.p12`); a renewal (`npm run renew-api-cert`) writes the renewed one to `<dataDir>/api-cert.json`,
 * the secret's JSON exactly as Secrets Manager would hold it, and keeps the one it replaced in
 * `api-cert.previous.json`. Local mode serves that file through its Secrets Manager emulator, re-reading it
 * when it changes, and its simulator accepts every API certificate of the data folder that has not expired.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { openApiCertificate, validityOf } from '../functions/adapters/api-certificate';
import { apiCredentialsFromSecret } from '../functions/adapters/secrets';
import { type ApiCertSecretPort, planRenewal } from '../functions/domain/api-cert-renewal';
import type { DevPki } from './dev-pki';

/** Files of the renewed API certificate, in the data folder. */
export function localApiCertFiles(dataDir: string) {
  return {
    current: path.join(dataDir, 'api-cert.json'),
    previous: path.join(dataDir, 'api-cert.previous.json'),
  };
}

/** The dev PKI's API certificate as the secret's JSON (what local mode starts with). */
export function initialApiCertSecret(pki: DevPki): Record<string, string> {
  return { p12: pki.api.p12.toString('base64'), password: pki.api.p12Password };
}

/** The API certificate secret of a data folder: the renewed one when there is one, else the dev PKI's. */
export class LocalApiCertSecret implements ApiCertSecretPort {
  readonly description: string;
  readonly #files: ReturnType<typeof localApiCertFiles>;
  readonly #pki: DevPki;

  constructor(dataDir: string, pki: DevPki) {
    this.#files = localApiCertFiles(dataDir);
    this.#pki = pki;
    this.description = this.#files.current;
  }

  /**
   * The secret's JSON text, as the Secrets Manager emulator serves it: the renewed certificate while it
   * comes from this data folder's CA and has not expired, else the dev PKI's (a PKI made anew, e.g. after
   * the old one neared its expiry, makes earlier renewals useless).
   */
  async text(now: Date = new Date()): Promise<string> {
    const renewed = await this.#renewed(this.#files.current, now);
    return renewed ?? JSON.stringify(initialApiCertSecret(this.#pki));
  }

  async read(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** Writes the new value beside the file and renames it over (never a half-written secret). */
  async write(value: Readonly<Record<string, string>>): Promise<void> {
    const previous = await this.text();
    const next = `${JSON.stringify(value)}\n`;
    await writeAtomically(this.#files.previous, previous);
    await writeAtomically(this.#files.current, next);
  }

  /** Every API certificate of the data folder (PEM) that has not expired: the simulator accepts these. */
  async acceptedCertificates(now: Date = new Date()): Promise<string[]> {
    const pems = [this.#pki.api.cert];
    for (const file of [this.#files.previous, this.#files.current]) {
      const renewed = await this.#renewed(file, now);
      if (renewed !== undefined)
        pems.push(openApiCertificate(apiCredentialsFromSecret(JSON.parse(renewed))).leaf.toString());
    }
    return [...new Set(pems)].filter((pem) => Date.parse(new X509Certificate(pem).validTo) > now.getTime());
  }

  /** The secret JSON in `file` when it holds a certificate of this PKI's CA that has not expired. */
  async #renewed(file: string, now: Date): Promise<string | undefined> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const { leaf } = openApiCertificate(apiCredentialsFromSecret(JSON.parse(text)));
      const ca = new X509Certificate(this.#pki.intermediate.cert);
      const usable = leaf.checkIssued(ca) && leaf.verify(ca.publicKey) && Date.parse(leaf.validTo) > now.getTime();
      return usable ? text : undefined;
    } catch {
      return undefined; // unreadable: ignored, as if never renewed
    }
  }
}

/** One line about the API certificate in use: serial, expiry, days left and when it will be renewed. */
export function describeApiCertificate(secret: unknown, renewAtFraction: number, now: Date = new Date()): string {
  const opened = openApiCertificate(apiCredentialsFromSecret(secret));
  const plan = planRenewal(validityOf(opened), renewAtFraction, now);
  const expires = opened.leaf.validTo && new Date(opened.leaf.validTo).toISOString().slice(0, 10);
  const due = plan.dueAt.toISOString().slice(0, 10);
  return (
    `API certificate ${opened.serial}: expires ${expires} (${plan.daysLeft} days left); ` +
    (plan.renew ? `renewal is due now: npm run renew-api-cert` : `renewal due ${due} (npm run renew-api-cert)`)
  );
}

/**
 * Writes a fresh owner-only file beside `file` (a new random name, refused if it exists) and renames it
 * over: readers see the old or the new secret, never half of one; a failed write leaves no copy behind.
 */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    await fs.writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await fs.rename(temporary, file);
  } catch (err) {
    await fs.rm(temporary, { force: true });
    throw err;
  }
}
