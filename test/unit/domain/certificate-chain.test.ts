import { parseCertificatePem } from '../../../functions/domain/certificate';
import { Truststore } from '../../../functions/domain/certificate-chain';
import { InvalidInputError } from '../../../functions/domain/errors';
import { issueCertificate } from '../../../local/dev-pki';
import { testPki } from '../../support/test-pki';

describe('Truststore', () => {
  it('accepts a device certificate issued through the intermediate to the root', async () => {
    const pki = await testPki();
    const store = Truststore.fromPem(pki.caChain);
    expect(store.size).toBe(2);
    expect(() => store.verify(parseCertificatePem(pki.devices.alice.cert), new Date())).not.toThrow();
  });

  it('refuses a certificate from a foreign CA', async () => {
    const pki = await testPki();
    const store = Truststore.fromPem(pki.caChain);
    expect(() => store.verify(parseCertificatePem(pki.devices.mallory.cert), new Date())).toThrow(
      /not issued by a CA in plusgate's truststore/,
    );
  });

  it("refuses a self-made certificate carrying someone else's serial", async () => {
    const pki = await testPki();
    const twin = await issueCertificate(pki.foreignCa, { subject: 'CN=twin', serial: pki.devices.alice.serial });
    const parsed = parseCertificatePem(twin.cert);
    expect(parsed.serial).toBe(pki.devices.alice.serial);
    expect(() => Truststore.fromPem(pki.caChain).verify(parsed, new Date())).toThrow(InvalidInputError);
  });

  it('refuses a certificate whose issuer name matches but whose signature does not', async () => {
    const pki = await testPki();
    // Same issuer DN as the real intermediate, signed by another key.
    const fakeIntermediate = { cert: pki.intermediate.cert, key: pki.foreignCa.key };
    const forged = await issueCertificate(fakeIntermediate, { subject: 'CN=forged' });
    expect(() => Truststore.fromPem(pki.caChain).verify(parseCertificatePem(forged.cert), new Date())).toThrow(
      /not issued by a CA/,
    );
  });

  it('refuses an expired certificate, naming when it expired', async () => {
    const pki = await testPki();
    expect(() =>
      Truststore.fromPem(pki.caChain).verify(parseCertificatePem(pki.devices.frank.cert), new Date()),
    ).toThrow(/expired on \d{4}-/);
  });

  it('refuses a CA certificate posing as a device', async () => {
    const pki = await testPki();
    expect(() =>
      Truststore.fromPem(pki.caChain).verify(parseCertificatePem(pki.intermediate.cert), new Date()),
    ).toThrow(/is a CA certificate/);
  });

  it('refuses a truststore holding a leaf or nothing', async () => {
    const pki = await testPki();
    expect(() => Truststore.fromPem(pki.devices.alice.cert)).toThrow(/not a CA certificate/);
    expect(() => Truststore.fromPem('nothing here')).toThrow(/no PEM certificate/);
  });
});
