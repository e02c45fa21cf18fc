/**
 * The development PKI for local mode and tests: a dev CA (root + intermediate) standing in for the
 * Identity Plus CA, a localhost server certificate, our Identity Plus API certificate, and device
 * certificates for the demo people. Generated in memory (tests) or once under a git-ignored data folder
 * (local mode). Keys are RSA-2048 because Identity Plus issues RSA and because PKCS#12 files (what
 * Identity Plus hands out, and what browsers import) are written with node-forge, which knows RSA only.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes, X509Certificate } from 'node:crypto';
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import forge from 'node-forge';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The demo people, each with a device certificate that shows one Identity Plus case. */
export const DEMO_PEOPLE = ['alice', 'erin', 'bob', 'carol', 'dave', 'frank', 'mallory'] as const;
export type DemoPerson = (typeof DEMO_PEOPLE)[number];

/** Password of every PKCS#12 file the dev PKI writes (documented in the README). */
export const DEV_P12_PASSWORD = 'plusgate';

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** A leaf certificate with its serial and a PKCS#12 bundle of it. */
export interface IssuedCert extends KeyPair {
  /** Serial number as a decimal string (how Identity Plus names a certificate). */
  readonly serial: string;
  readonly p12: Buffer;
  readonly p12Password: string;
}

/** Everything local mode and the tests need. */
export interface DevPki {
  /** Root + intermediate PEM: the device truststore and what `curl --cacert` uses. */
  readonly caChain: string;
  readonly root: KeyPair;
  readonly intermediate: KeyPair;
  /** Server certificate for localhost/127.0.0.1/::1; `cert` holds leaf + intermediate. */
  readonly server: KeyPair;
  /** Our Identity Plus API ("service agent") certificate. */
  readonly api: IssuedCert;
  readonly devices: Readonly<Record<DemoPerson, IssuedCert>>;
  /** A CA nothing trusts; it issued mallory's certificate. */
  readonly foreignCa: KeyPair;
}

/** What the simulator knows about an identity (see local/identity-plus-simulator.ts). */
export interface DemoIdentity {
  readonly outcome: string;
  readonly roles: string[];
  readonly organizationalReference?: string;
  readonly organizationalName?: string;
  readonly organizationalEmail?: string;
  readonly localUserId?: string;
}

interface PersonSpec {
  readonly deviceName: string;
  readonly deviceType: string;
  /** undefined = Identity Plus does not know this certificate (answers PB 0006). */
  readonly identity?: DemoIdentity;
  readonly expired?: boolean;
  readonly foreign?: boolean;
}

const PEOPLE: Readonly<Record<DemoPerson, PersonSpec>> = {
  alice: {
    deviceName: "Alice's Laptop",
    deviceType: 'Desktop',
    identity: {
      outcome: 'OK 0001 Subject anonymous certificate valid',
      roles: ['member'],
      organizationalReference: 'org-ref-alice-0001',
      organizationalName: 'Alice Archer',
      organizationalEmail: 'alice@example.com',
    },
  },
  erin: {
    deviceName: "Erin's Phone",
    deviceType: 'Mobile',
    identity: {
      outcome: 'OK 0002 Subject anonymous certificate valid and user uid associated',
      roles: ['member', 'org. administrator'],
      organizationalReference: 'org-ref-erin-0002',
      organizationalName: 'Erin Eckhart',
      organizationalEmail: 'erin@example.com',
      localUserId: 'erin-local',
    },
  },
  bob: {
    deviceName: "Bob's Desktop",
    deviceType: 'Desktop',
    identity: {
      outcome: 'PB 0003 Identity Plus anonymous certificate needs validation',
      roles: ['member'],
      organizationalReference: 'org-ref-bob-0003',
      organizationalName: 'Bob Baker',
      organizationalEmail: 'bob@example.com',
    },
  },
  carol: {
    deviceName: "Carol's Tablet",
    deviceType: 'Tablet',
    identity: { outcome: 'PB 0004 Revoked Identity Plus anonymous certificate', roles: [] },
  },
  dave: { deviceName: "Dave's Laptop", deviceType: 'Desktop' },
  frank: {
    deviceName: "Frank's Old Laptop",
    deviceType: 'Desktop',
    expired: true,
    identity: { outcome: 'OK 0001 Subject anonymous certificate valid', roles: ['member'] },
  },
  mallory: { deviceName: "Mallory's Laptop", deviceType: 'Desktop', foreign: true },
};

const RSA: webcrypto.RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};
const DAY_MS = 86_400_000;

interface Authority {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

/** Options for {@link issueCertificate}. */
export interface IssueOptions {
  readonly subject: string;
  /** Serial as decimal or hex string; random when omitted. */
  readonly serial?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly usage?: 'client' | 'server';
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

/** Creates the whole dev PKI in memory (about a second: twelve RSA keys). */
export async function generateDevPki(now: Date = new Date()): Promise<DevPki> {
  const keys = await Promise.all(Array.from({ length: 12 }, () => newKeys()));
  const next = (): CryptoKeyPair => keys.pop() as CryptoKeyPair;

  const root = await selfSignedCa('O=plusgate dev,CN=plusgate dev Identity Plus Root CA', next(), now);
  const intermediate = await subordinateCa(
    root,
    'O=plusgate dev,CN=plusgate dev Identity Plus Intermediate CA',
    next(),
    now,
  );
  const foreign = await selfSignedCa('O=Not Identity Plus,CN=Foreign Root CA', next(), now);

  const serverLeaf = await issueWith(intermediate, next(), {
    subject: 'O=plusgate dev,CN=localhost',
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 825 * DAY_MS),
  });
  const api = await issueWith(intermediate, next(), {
    subject: 'O=plusgate dev,OU=Service Agent,CN=plusgate dev service agent',
    usage: 'client',
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
  });

  const devices = {} as Record<DemoPerson, IssuedCert>;
  for (const person of DEMO_PEOPLE) {
    const spec = PEOPLE[person];
    const issuer = spec.foreign ? foreign : intermediate;
    const validity = spec.expired
      ? { notBefore: new Date(now.getTime() - 60 * DAY_MS), notAfter: new Date(now.getTime() - DAY_MS) }
      : { notBefore: new Date(now.getTime() - DAY_MS), notAfter: new Date(now.getTime() + 365 * DAY_MS) };
    devices[person] = await issueWith(issuer, next(), {
      // Conventional DER order (most general first): shown CN-first in RFC 2253 form, as API Gateway does.
      subject: `O=Identity Plus Device,OU=${spec.deviceType},CN=${escapeRdn(spec.deviceName)}`,
      usage: 'client',
      ...validity,
    });
  }

  return {
    caChain: pemOf(root.cert) + pemOf(intermediate.cert),
    root: { cert: pemOf(root.cert), key: await keyPem(root.keys) },
    intermediate: { cert: pemOf(intermediate.cert), key: await keyPem(intermediate.keys) },
    server: { cert: serverLeaf.cert + pemOf(intermediate.cert), key: serverLeaf.key },
    api,
    devices,
    foreignCa: { cert: pemOf(foreign.cert), key: await keyPem(foreign.keys) },
  };
}

/** Options for {@link createCertificateAuthority}. */
export interface CaOptions {
  readonly subject: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** How many CAs may sit below this one (basicConstraints pathLenConstraint). @default 0 (issues leaves only) */
  readonly pathLength?: number;
}

/**
 * A new self-signed root CA (fresh RSA key) as PEM, made like the dev root: the proxy CA of
 * `npm run proxy-cert` and of local mode's forward-auth door. Issue from it with {@link issueCertificate}.
 */
export async function createCertificateAuthority(options: CaOptions): Promise<KeyPair> {
  const now = new Date();
  const keys = await newKeys();
  const ca = await selfSignedCa(options.subject, keys, now, {
    pathLength: options.pathLength ?? 0,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
  });
  return { cert: pemOf(ca.cert), key: await keyPem(ca.keys) };
}

/** Issues a new leaf certificate (fresh RSA key) from a CA given as PEM: for tests and the proxy CA. */
export async function issueCertificate(ca: KeyPair, options: IssueOptions): Promise<IssuedCert> {
  const authority: Authority = {
    cert: new x509.X509Certificate(ca.cert),
    keys: { privateKey: await importKey(ca.key), publicKey: undefined as unknown as CryptoKey },
  };
  return issueWith(authority, await newKeys(), options);
}

/** The simulator seed for the demo people: serial → identity (dave and mallory are unknown). */
export function demoSeed(pki: DevPki): Array<{ serial: string; identity: DemoIdentity }> {
  return DEMO_PEOPLE.flatMap((person) => {
    const identity = PEOPLE[person].identity;
    return identity
      ? [{ serial: pki.devices[person].serial, identity: { ...identity, roles: [...identity.roles] } }]
      : [];
  });
}

// ---------------------------------------------------------------------------------------------

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return (await webcrypto.subtle.importKey('pkcs8', der, RSA, true, ['sign'])) as CryptoKey;
}

async function selfSignedCa(
  name: string,
  keys: CryptoKeyPair,
  now: Date,
  o: { pathLength?: number; notBefore?: Date; notAfter?: Date } = {},
): Promise<Authority> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name,
    notBefore: o.notBefore ?? new Date(now.getTime() - DAY_MS),
    notAfter: o.notAfter ?? new Date(now.getTime() + 5 * 365 * DAY_MS),
    keys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, o.pathLength ?? 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function subordinateCa(issuer: Authority, subject: string, keys: CryptoKeyPair, now: Date): Promise<Authority> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 5 * 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
  return { cert, keys };
}

async function issueWith(issuer: Authority, keys: CryptoKeyPair, o: IssueOptions): Promise<IssuedCert> {
  const now = Date.now();
  const serialHex = o.serial ? serialToHex(o.serial) : randomSerialHex();
  const san: x509.JsonGeneralName[] = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const server = o.usage === 'server';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: o.subject,
    issuer: issuer.cert.subject,
    notBefore: o.notBefore ?? new Date(now - DAY_MS),
    notAfter: o.notAfter ?? new Date(now + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([
        server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(san.length ? [new x509.SubjectAlternativeNameExtension(san)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
  const certPem = pemOf(cert);
  const keyPemText = await keyPem(keys);
  return {
    cert: certPem,
    key: keyPemText,
    serial: decimalSerialOf(certPem),
    p12: toP12(certPem, keyPemText, o.subject),
    p12Password: DEV_P12_PASSWORD,
  };
}

function toP12(certPem: string, keyPemText: string, friendlyName: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(keyPemText),
    [forge.pki.certificateFromPem(certPem)],
    DEV_P12_PASSWORD,
    {
      algorithm: 'aes256',
      friendlyName,
    },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').replace(/\r\n/g, '\n')}\n`;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

/** A positive 64-bit serial whose first byte is at least 0x10, so hex and decimal forms are stable. */
function randomSerialHex(): string {
  const bytes = randomBytes(8);
  bytes[0] = 0x10 + ((bytes[0] ?? 0) % 0x70);
  return bytes.toString('hex');
}

function serialToHex(serial: string): string {
  const value = /^0x/i.test(serial) ? BigInt(serial) : /^\d+$/.test(serial) ? BigInt(serial) : BigInt(`0x${serial}`);
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  // DER INTEGER is signed: keep it positive.
  return parseInt(hex.slice(0, 2), 16) >= 0x80 ? `00${hex}` : hex;
}

/** The decimal serial of a PEM certificate. */
export function decimalSerialOf(pem: string): string {
  return BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString(10);
}

function escapeRdn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1');
}
