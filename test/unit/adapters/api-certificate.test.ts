import forge from 'node-forge';
import { checkRenewedCertificate, commonNameOf, openApiCertificate } from '../../../functions/adapters/api-certificate';
import { RenewalError } from '../../../functions/domain/errors';
import { type DevPki, type IssuedCert, issueCertificate } from '../../../local/dev-pki';
import { testPki } from '../../support/test-pki';

const DAY = 86_400_000;
const SUBJECT = 'O=plusgate dev,OU=Service Agent,CN=plusgate dev service agent';
let pki: DevPki;
const now = new Date();
/** Renewed certificates, each made once (an RSA key takes a while), in parallel. */
let made: Record<'renewed' | 'expired' | 'future' | 'shorter' | 'foreign' | 'impostor', IssuedCert>;
/** A self-made CA bearing the intermediate's name (the foreign CA's key): what a forged chain carries. */
let forgedIntermediate: string;

/** A CA certificate named like `namedLike`, with the key `keyPem`, signed by itself. */
function forgeCa(namedLike: string, keyPem: string): string {
  const real = forge.pki.certificateFromPem(namedLike);
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const ca = forge.pki.createCertificate();
  ca.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  ca.serialNumber = '0badca11';
  ca.validity.notBefore = new Date(now.getTime() - DAY);
  ca.validity.notAfter = new Date(now.getTime() + 800 * DAY);
  ca.setSubject(real.subject.attributes);
  ca.setIssuer(real.subject.attributes);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(ca);
}

beforeAll(async () => {
  pki = await testPki();
  forgedIntermediate = forgeCa(pki.intermediate.cert, pki.foreignCa.key);
  const [renewed, expired, future, shorter, foreign, impostor] = await Promise.all([
    renewedFrom(pki.intermediate),
    renewedFrom(pki.intermediate, 1, now.getTime() - 3 * DAY),
    renewedFrom(pki.intermediate, 400, now.getTime() + 2 * DAY),
    renewedFrom(pki.intermediate, 30),
    renewedFrom(pki.foreignCa),
    // Issued by the forged intermediate: the intermediate's name, another key.
    renewedFrom({ cert: forgedIntermediate, key: pki.foreignCa.key }),
  ]);
  made = { renewed, expired, future, shorter, foreign, impostor };
});

const pem = (c: { cert: string; key: string }) => ({ certificate: c.cert, privateKey: c.key });
const renewedFrom = (issuer: { cert: string; key: string }, days = 400, from = now.getTime() - 60_000) =>
  issueCertificate(issuer, {
    subject: SUBJECT,
    usage: 'client',
    notBefore: new Date(from),
    notAfter: new Date(from + days * DAY),
  });

function unusable(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RenewalError);
    expect((err as RenewalError).kind).toBe('unusable');
    return (err as Error).message;
  }
  throw new Error('expected the check to fail');
}

describe('opening API credentials', () => {
  it('reads the PEM pair and the PKCS#12 alike', () => {
    const fromPem = openApiCertificate(pem(pki.api));
    const fromP12 = openApiCertificate({ p12: pki.api.p12, password: pki.api.p12Password });
    expect(fromPem.serial).toBe(pki.api.serial);
    expect(fromP12.serial).toBe(pki.api.serial);
    expect(commonNameOf(fromPem.leaf)).toBe('plusgate dev service agent');
  });

  it('keeps the CA certificates that come with the leaf apart from it', () => {
    const opened = openApiCertificate({ certificate: pki.api.cert + pki.caChain, privateKey: pki.api.key });
    expect(opened.serial).toBe(pki.api.serial);
    expect(opened.chain).toHaveLength(2);
  });

  it("refuses a key that is not the certificate's", () => {
    expect(() => openApiCertificate({ certificate: pki.api.cert, privateKey: pki.devices.alice.key })).toThrow(/key/i);
  });

  it('refuses a wrong PKCS#12 password', () => {
    expect(() => openApiCertificate({ p12: pki.api.p12, password: 'wrong' })).toThrow();
  });
});

describe('checking a renewed certificate before it is stored', () => {
  it('accepts a fresh certificate from the same CA that expires later', async () => {
    const renewed = made.renewed;
    const next = checkRenewedCertificate(
      { certificate: renewed.cert + pki.intermediate.cert, privateKey: renewed.key },
      openApiCertificate(pem(pki.api)),
      now,
    );
    expect(next.serial).toBe(renewed.serial);
  });

  it('accepts it by issuer name when no CA certificate came with either', async () => {
    const renewed = made.renewed;
    expect(checkRenewedCertificate(pem(renewed), openApiCertificate(pem(pki.api)), now).serial).toBe(renewed.serial);
  });

  it('refuses the current certificate handed back', () => {
    expect(unusable(() => checkRenewedCertificate(pem(pki.api), openApiCertificate(pem(pki.api)), now))).toMatch(
      /is the current one/,
    );
  });

  it('refuses a certificate whose key does not match', async () => {
    const renewed = made.renewed;
    expect(
      unusable(() =>
        checkRenewedCertificate(
          { certificate: renewed.cert, privateKey: pki.api.key },
          openApiCertificate(pem(pki.api)),
          now,
        ),
      ),
    ).toMatch(/does not open/);
  });

  it('refuses an expired certificate and one not valid yet', async () => {
    const expired = made.expired;
    expect(unusable(() => checkRenewedCertificate(pem(expired), openApiCertificate(pem(pki.api)), now))).toMatch(
      /has expired/,
    );
    const future = made.future;
    expect(unusable(() => checkRenewedCertificate(pem(future), openApiCertificate(pem(pki.api)), now))).toMatch(
      /not valid yet/,
    );
  });

  it('refuses one that expires no later than the current one', async () => {
    const shorter = made.shorter;
    expect(unusable(() => checkRenewedCertificate(pem(shorter), openApiCertificate(pem(pki.api)), now))).toMatch(
      /not later than the current one/,
    );
  });

  it('refuses one from another CA', async () => {
    const foreign = made.foreign;
    expect(unusable(() => checkRenewedCertificate(pem(foreign), openApiCertificate(pem(pki.api)), now))).toMatch(
      /is issued by/,
    );
  });

  it('refuses one whose signature does not verify against the CA certificate that came with it', async () => {
    const renewed = made.renewed;
    // The real intermediate is at hand, but the impostor was signed by the foreign CA under its name.
    const { impostor } = made;
    expect(
      checkRenewedCertificate(
        pem(renewed),
        openApiCertificate({ certificate: pki.api.cert + pki.caChain, privateKey: pki.api.key }),
        now,
      ).serial,
    ).toBe(renewed.serial);
    expect(
      unusable(() =>
        checkRenewedCertificate(
          pem(impostor),
          openApiCertificate({ certificate: pki.api.cert + pki.caChain, privateKey: pki.api.key }),
          now,
        ),
      ),
    ).toMatch(/not signed by the CA that issued the current one/);
  });

  it('refuses a CA in the answer that bears the issuer name but did not issue the current certificate', async () => {
    // A self-made CA under the intermediate's name, sent along with the leaf it signed.
    const { impostor } = made;
    const answer = { certificate: impostor.cert + forgedIntermediate, privateKey: impostor.key };
    const withoutChain = openApiCertificate(pem(pki.api));
    expect(unusable(() => checkRenewedCertificate(answer, withoutChain, now))).toMatch(/did not issue the current one/);
    const withChain = openApiCertificate({ certificate: pki.api.cert + pki.caChain, privateKey: pki.api.key });
    expect(unusable(() => checkRenewedCertificate(answer, withChain, now))).toMatch(/not signed by the CA/);
  });

  it('accepts the real intermediate sent along with the renewed certificate', () => {
    const answer = { certificate: made.renewed.cert + pki.intermediate.cert, privateKey: made.renewed.key };
    expect(checkRenewedCertificate(answer, openApiCertificate(pem(pki.api)), now).chain).toHaveLength(1);
  });
});
