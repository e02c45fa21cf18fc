/**
 * Opening our Identity Plus API certificate (PEM pair or PKCS#12) to read what it is, and checking a renewed
 * one before it replaces the current one. The key and password are only ever handed to OpenSSL (a secure
 * context) and node-forge (to list a PKCS#12's certificates); no message here contains them.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import forge from 'node-forge';
import { RenewalError } from '../domain/errors';
import { normalizeSerial } from '../domain/certificate';
import { type ApiCredentials, buildSecureContext } from './identity-plus-credentials';

/** The certificates of an API credential: ours, and the CA certificates that came with it. */
export interface OpenedApiCertificate {
  readonly leaf: X509Certificate;
  readonly chain: readonly X509Certificate[];
  /** The leaf's serial, decimal. */
  readonly serial: string;
}

/** The PKCS#12 bag type of certificates (RFC 7292), as node-forge names bags. */
const CERT_BAG = forge.pki.oids.certBag as string;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** Clock difference tolerated between Identity Plus and us for a certificate's notBefore. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Opens API credentials: the key must fit the certificate (OpenSSL checks it while building a secure
 * context) and exactly one non-CA certificate must be in it. Throws a ConfigurationError (key or password
 * does not fit, not PEM/PKCS#12) or a RangeError (no single leaf) naming what is wrong.
 */
export function openApiCertificate(credentials: ApiCredentials): OpenedApiCertificate {
  buildSecureContext(credentials, undefined);
  const certificates =
    'p12' in credentials ? pkcs12Certificates(credentials) : pemCertificates(credentials.certificate);
  const leaves = certificates.filter((c) => !c.ca);
  const [leaf] = leaves;
  if (leaves.length !== 1 || leaf === undefined) {
    throw new RangeError(`the credentials hold ${leaves.length} non-CA certificates; expected exactly one`);
  }
  if ('privateKey' in credentials && !leaf.checkPrivateKey(createPrivateKey(credentials.privateKey))) {
    throw new RangeError('the private key is not the key of the certificate');
  }
  return { leaf, chain: certificates.filter((c) => c.ca), serial: normalizeSerial(leaf.serialNumber, 'serial', 'hex') };
}

/**
 * Checks a renewed certificate against the one in use, before anything is stored: it must open with its
 * key (see {@link openApiCertificate}), be a different certificate that is valid now and expires later than
 * the current one, not be a CA, and come from the CA that issued the current one. A CA certificate counts as
 * that CA only when its key verifies the *current* certificate's signature (a CA in the answer is not
 * trusted for its name alone); with such a CA at hand the new certificate must verify against it. With none
 * at hand (neither credential carries the CA certificate) only the issuer name is compared — unless the answer
 * brings a CA that signed the new certificate but not the current one, which is refused. The answer then
 * rests on the mutual TLS call to the self-authority host, whose certificate the system roots verified.
 * Throws RenewalError('unusable') saying which check failed.
 */
export function checkRenewedCertificate(
  renewed: ApiCredentials,
  current: OpenedApiCertificate,
  now: Date,
): OpenedApiCertificate {
  let next: OpenedApiCertificate;
  try {
    next = openApiCertificate(renewed);
  } catch (cause) {
    throw new RenewalError('unusable', `the renewed certificate does not open: ${(cause as Error).message}`, { cause });
  }
  const { leaf } = next;
  const unusable = (why: string) => new RenewalError('unusable', `the renewed certificate ${why}`);
  if (next.serial === current.serial) throw unusable(`is the current one (serial ${next.serial})`);
  if (Date.parse(leaf.validFrom) - CLOCK_SKEW_MS > now.getTime())
    throw unusable(`is not valid yet (${leaf.validFrom})`);
  if (Date.parse(leaf.validTo) <= now.getTime()) throw unusable(`has expired (${leaf.validTo})`);
  if (Date.parse(leaf.validTo) <= Date.parse(current.leaf.validTo)) {
    throw unusable(`expires ${leaf.validTo}, not later than the current one (${current.leaf.validTo})`);
  }
  if (leaf.issuer !== current.leaf.issuer) {
    throw unusable(
      `is issued by "${oneLine(leaf.issuer)}", not by "${oneLine(current.leaf.issuer)}" as the current one`,
    );
  }
  // Only a CA that provably issued the certificate in use vouches for the new one: a CA certificate in the
  // answer is not trusted for its name alone.
  const issuers = [...current.chain, ...next.chain].filter((ca) => issued(current.leaf, ca));
  if (issuers.length > 0 && !issuers.some((ca) => issued(leaf, ca))) {
    throw unusable(`is not signed by the CA that issued the current one ("${oneLine(leaf.issuer)}")`);
  }
  // A CA in the answer that signed the new certificate but not the current one is another key under that name.
  if (issuers.length === 0 && next.chain.some((ca) => issued(leaf, ca))) {
    throw unusable(`is signed by a CA key "${oneLine(leaf.issuer)}" that did not issue the current one`);
  }
  return next;
}

/** True when `ca` issued `certificate`: the names match and `ca`'s key verifies its signature. */
function issued(certificate: X509Certificate, ca: X509Certificate): boolean {
  return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}

/** Validity of an opened certificate, as the renewal plan takes it. */
export function validityOf(opened: OpenedApiCertificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(opened.leaf.validFrom), notAfter: new Date(opened.leaf.validTo) };
}

/** The subject's common name: the agent name Identity Plus knows this certificate by. */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  const line = certificate.subject.split('\n').find((part) => part.startsWith('CN='));
  return line?.slice(3);
}

function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block));
}

/** The certificates in a PKCS#12 (node-forge reads it; the key is left alone). Throws on a wrong password. */
export function pkcs12Certificates(credentials: { p12: Buffer | string; password: string }): X509Certificate[] {
  const der = Buffer.isBuffer(credentials.p12) ? credentials.p12 : Buffer.from(credentials.p12, 'base64');
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der.toString('binary')), credentials.password);
  const bags = p12.getBags({ bagType: CERT_BAG })[CERT_BAG] ?? [];
  // forge parses RSA certificates only; any other kind stays as its ASN.1, which is all Node needs.
  return bags.map(
    (bag) =>
      new X509Certificate(
        Buffer.from(
          forge.asn1.toDer(bag.cert ? forge.pki.certificateToAsn1(bag.cert) : (bag.asn1 as forge.asn1.Asn1)).getBytes(),
          'binary',
        ),
      ),
  );
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}
