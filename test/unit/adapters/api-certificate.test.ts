import { checkRenewedCertificate, commonNameOf, openApiCertificate } from '../../../functions/adapters/api-certificate';
import { RenewalError } from '../../../functions/domain/errors';
import { type DevPki, issueCertificate } from '../../../local/dev-pki';
import { testPki } from '../../support/test-pki';

const DAY = 86_400_000;
const SUBJECT = 'O=plusgate dev,OU=Service Agent,CN=plusgate dev service agent';
let pki: DevPki;
const now = new Date();

beforeAll(async () => {
  pki = await testPki();
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
    const renewed = await renewedFrom(pki.intermediate);
    const next = checkRenewedCertificate(
      { certificate: renewed.cert + pki.intermediate.cert, privateKey: renewed.key },
      openApiCertificate(pem(pki.api)),
      now,
    );
    expect(next.serial).toBe(renewed.serial);
  });

  it('accepts it by issuer name when no CA certificate came with either', async () => {
    const renewed = await renewedFrom(pki.intermediate);
    expect(checkRenewedCertificate(pem(renewed), openApiCertificate(pem(pki.api)), now).serial).toBe(renewed.serial);
  });

  it('refuses the current certificate handed back', () => {
    expect(unusable(() => checkRenewedCertificate(pem(pki.api), openApiCertificate(pem(pki.api)), now))).toMatch(
      /is the current one/,
    );
  });

  it('refuses a certificate whose key does not match', async () => {
    const renewed = await renewedFrom(pki.intermediate);
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
    const expired = await renewedFrom(pki.intermediate, 1, now.getTime() - 3 * DAY);
    expect(unusable(() => checkRenewedCertificate(pem(expired), openApiCertificate(pem(pki.api)), now))).toMatch(
      /has expired/,
    );
    const future = await renewedFrom(pki.intermediate, 400, now.getTime() + 2 * DAY);
    expect(unusable(() => checkRenewedCertificate(pem(future), openApiCertificate(pem(pki.api)), now))).toMatch(
      /not valid yet/,
    );
  });

  it('refuses one that expires no later than the current one', async () => {
    const shorter = await renewedFrom(pki.intermediate, 30);
    expect(unusable(() => checkRenewedCertificate(pem(shorter), openApiCertificate(pem(pki.api)), now))).toMatch(
      /not later than the current one/,
    );
  });

  it('refuses one from another CA', async () => {
    const foreign = await renewedFrom(pki.foreignCa);
    expect(unusable(() => checkRenewedCertificate(pem(foreign), openApiCertificate(pem(pki.api)), now))).toMatch(
      /is issued by/,
    );
  });

  it('refuses one whose signature does not verify against the CA certificate that came with it', async () => {
    const renewed = await renewedFrom(pki.intermediate);
    // The foreign CA presented under the intermediate's name is what a forged chain would look like: here
    // the real intermediate is given, but the leaf was signed by the foreign CA re-labelled as it.
    const impostor = await issueCertificate(
      { cert: pki.intermediate.cert, key: pki.foreignCa.key },
      {
        subject: SUBJECT,
        usage: 'client',
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 400 * DAY),
      },
    );
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
    ).toMatch(/not signed by its issuer/);
  });
});
