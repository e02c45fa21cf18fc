/**
 * Client certificate helpers. Identity comes from the certificate itself (its serial), never from DN
 * strings a proxy or gateway passes along: those are display text.
 */
import { X509Certificate } from 'node:crypto';
import { LruCache } from './certificate-cache';
import { InvalidInputError } from './errors';

/** What plusgate reads from a device certificate. */
export interface ClientCertificate {
  /** Serial number as a decimal string: the name Identity Plus knows the certificate by. */
  readonly serial: string;
  /** Subject DN in RFC 2253 order (most specific first: `CN=…,OU=…,O=…`, as API Gateway shows it), display only. */
  readonly subject: string;
  readonly issuer: string;
  /** Common name: the device name (not unique). */
  readonly commonName?: string;
  /** First organisational unit: the device type. */
  readonly deviceType?: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint256: string;
  /** The parsed certificate, for chain checks. */
  readonly x509: X509Certificate;
}

/** Largest PEM accepted: a device certificate is ~1–2 KB; anything near this is not one. */
export const MAX_CERTIFICATE_PEM_LENGTH = 16 * 1024;
/** RFC 5280: serials are positive and at most 20 octets. */
const MAX_SERIAL = (1n << 160n) - 1n;

const PEM_BLOCK = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;

/** How many parsed certificates a container keeps (a device certificate and its parse: a few KB). */
export const PARSED_CERTIFICATE_CACHE_SIZE = 1000;

/** Options of {@link CertificateParser}. */
export interface CertificateParserOptions {
  /** Most parsed certificates kept. @default PARSED_CERTIFICATE_CACHE_SIZE */
  readonly capacity?: number;
  /** Turns a checked PEM block into an X509Certificate. @default `new X509Certificate(pem)` */
  readonly x509?: (pem: string) => X509Certificate;
}

/**
 * Parses PEM certificates, keeping the results of the last {@link CertificateParserOptions.capacity}
 * by their exact PEM text: the same text is the same certificate, so it is parsed once and the same
 * (frozen) object is returned again. Only results are kept; input that fails is checked again every time.
 * Nothing here depends on the time: validity is for the caller (the TLS handshake, the chain check).
 */
export class CertificateParser {
  readonly #cache: LruCache<string, ClientCertificate>;
  readonly #x509: (pem: string) => X509Certificate;
  #parses = 0;

  constructor(options: CertificateParserOptions = {}) {
    this.#cache = new LruCache(options.capacity ?? PARSED_CERTIFICATE_CACHE_SIZE);
    this.#x509 = options.x509 ?? ((pem) => new X509Certificate(pem));
  }

  /** Parses one PEM certificate, or returns the earlier result for the same text; throws InvalidInputError saying what was wrong. */
  parse(pem: unknown, field = 'certificate'): ClientCertificate {
    if (typeof pem === 'string') {
      const known = this.#cache.get(pem);
      if (known) return known;
    }
    assertPemString(pem, field);
    const text = singlePemBlock(pem, field);
    let x509: X509Certificate;
    try {
      this.#parses++;
      x509 = this.#x509(text);
    } catch (cause) {
      throw new InvalidInputError(`${field} could not be parsed as an X.509 certificate`, { field, cause });
    }
    const cert = Object.freeze(clientCertificateFrom(x509, field));
    this.#cache.set(pem, cert);
    return cert;
  }

  /** X.509 parses made so far: one per PEM text not found in the cache that got as far as the parser. */
  get parses(): number {
    return this.#parses;
  }

  /** Parsed certificates held now (at most {@link capacity}). */
  get size(): number {
    return this.#cache.size;
  }

  get capacity(): number {
    return this.#cache.capacity;
  }
}

/** The container's parser, shared by every handler module (and, in local mode, the gateway) in the process. */
export const certificateParser = new CertificateParser();

/** Parses one PEM certificate (through the container's {@link certificateParser}); throws InvalidInputError saying what was wrong. */
export function parseCertificatePem(pem: unknown, field = 'certificate'): ClientCertificate {
  return certificateParser.parse(pem, field);
}

function assertPemString(pem: unknown, field: string): asserts pem is string {
  if (typeof pem !== 'string' || pem.trim() === '') {
    throw new InvalidInputError(`${field} must be a PEM certificate string`, { field });
  }
}

/** `pem` trimmed and newline-terminated; throws InvalidInputError when it is not one PEM certificate block. */
function singlePemBlock(pem: string, field: string): string {
  if (pem.length > MAX_CERTIFICATE_PEM_LENGTH) {
    throw new InvalidInputError(
      `${field} is ${pem.length} characters; a certificate PEM is at most ${MAX_CERTIFICATE_PEM_LENGTH}`,
      { field },
    );
  }
  const text = `${pem.trim()}\n`;
  if (!PEM_BLOCK.test(text)) {
    throw new InvalidInputError(
      `${field} is not a single PEM certificate (expected one "-----BEGIN CERTIFICATE-----" … "-----END CERTIFICATE-----" block)`,
      { field },
    );
  }
  return text;
}

function clientCertificateFrom(x509: X509Certificate, field: string): ClientCertificate {
  const subjectLines = dnLines(x509.subject);
  return {
    serial: normalizeSerial(x509.serialNumber, field, 'hex'),
    subject: rfc2253(x509.subject),
    issuer: rfc2253(x509.issuer),
    commonName: attribute(subjectLines, 'CN'),
    deviceType: attribute(subjectLines, 'OU'),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    fingerprint256: x509.fingerprint256,
    x509,
  };
}

/**
 * Normalises a serial number to its decimal string. Accepts decimal (`476701752658536845`), `0x`-hex,
 * bare hex with at least one letter (`6a0e…`), and colon-separated hex bytes (`06:a0:e1:…`, the form
 * API Gateway puts in `clientCert.serialNumber`). A string of digits only is read as decimal.
 * `assume: 'hex'` reads an all-digit string as hex (for sources known to give hex, like Node).
 */
export function normalizeSerial(input: unknown, field = 'serial', assume: 'decimal' | 'hex' = 'decimal'): string {
  if (typeof input !== 'string') {
    throw new InvalidInputError(`${field} must be a string (decimal, 0x-hex or colon-separated hex)`, { field });
  }
  const text = input.trim();
  if (text.length === 0) throw new InvalidInputError(`${field} is empty`, { field });
  if (text.length > 120) {
    throw new InvalidInputError(
      `${field} is ${text.length} characters long; a certificate serial has at most 20 bytes`,
      { field },
    );
  }
  let value: bigint;
  if (/^\d+$/.test(text) && assume === 'decimal') {
    value = BigInt(text);
  } else if (/^0x[0-9a-f]+$/i.test(text)) {
    value = BigInt(text);
  } else if (/^[0-9a-f]{1,2}(:[0-9a-f]{1,2})+$/i.test(text)) {
    value = BigInt(
      '0x' +
        text
          .split(':')
          .map((b) => b.padStart(2, '0'))
          .join(''),
    );
  } else if (/^[0-9a-f]+$/i.test(text)) {
    value = BigInt(`0x${text}`);
  } else {
    throw new InvalidInputError(
      `${field} "${printable(text)}" is not a serial number: use decimal digits, 0x-prefixed hex, or colon-separated hex bytes`,
      { field },
    );
  }
  if (value <= 0n) throw new InvalidInputError(`${field} must be a positive number`, { field });
  if (value > MAX_SERIAL)
    throw new InvalidInputError(`${field} is larger than 20 bytes, the most a certificate serial can be`, { field });
  return value.toString(10);
}

/** The serial as colon-separated lower-case hex bytes, the way API Gateway writes it. */
export function serialToColonHex(decimal: string): string {
  let hex = BigInt(decimal).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return (hex.match(/../g) ?? []).join(':');
}

function dnLines(dn: string): string[] {
  return dn.split('\n').filter((line) => line.length > 0);
}

/**
 * A DN from Node's multi-line form (one RDN per line, DER order, values already escaped per RFC 2253,
 * attributes of a multi-valued RDN joined by " + ") to what OpenSSL's `-nameopt RFC2253` prints: every
 * attribute in reverse DER order (inside a multi-valued RDN too), RDNs joined by `,`, attributes by `+`.
 * Non-ASCII stays UTF-8 where OpenSSL would write `\C3\AB`. An unescaped " + " only ever separates.
 */
export function rfc2253(nodeDn: string): string {
  return nodeDn
    .split('\n')
    .filter((rdn) => rdn.length > 0)
    .reverse()
    .map((rdn) => rdn.split(' + ').reverse().join('+'))
    .join(',');
}

function attribute(lines: readonly string[], name: string): string | undefined {
  const prefix = `${name}=`;
  const line = lines.find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length);
}

/** Echo at most a short, single-line, printable excerpt of bad input back in a message. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}
