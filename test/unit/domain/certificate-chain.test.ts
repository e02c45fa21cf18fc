import { X509Certificate } from 'node:crypto';
import { parseCertificatePem } from '../../../functions/domain/certificate';
import { CHAIN_CHECK_CACHE_SIZE, Truststore } from '../../../functions/domain/certificate-chain';
import { InvalidInputError } from '../../../functions/domain/errors';
import { issueCertificate } from '../../../local/dev-pki';
import { defined } from '../../support/only';
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

describe('Truststore: a chain that passed', () => {
  const HOUR = 60 * 60 * 1000;
  const DAY = 24 * HOUR;
  let signatureChecks: jest.SpyInstance;
  beforeEach(() => {
    signatureChecks = jest.spyOn(X509Certificate.prototype, 'verify');
  });
  afterEach(() => signatureChecks.mockRestore());

  it('is not checked again within its validity', async () => {
    const pki = await testPki();
    const store = Truststore.fromPem(pki.caChain);
    const alice = parseCertificatePem(pki.devices.alice.cert);
    const now = Date.now();
    store.verify(alice, new Date(now));
    const firstCheck = signatureChecks.mock.calls.length;
    expect(firstCheck).toBeGreaterThan(0);
    store.verify(alice, new Date(now + HOUR));
    store.verify(alice, new Date(now + 30 * DAY), 'X-Client-Cert');
    expect(signatureChecks).toHaveBeenCalledTimes(firstCheck);
    expect(store.rememberedChains).toBe(1);
  });

  it('is checked again after the leaf expires, and the expired leaf is refused', async () => {
    const pki = await testPki();
    const now = Date.now();
    const shortLived = await issueCertificate(pki.intermediate, {
      subject: 'CN=short-lived',
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + HOUR),
    });
    const store = Truststore.fromPem(pki.caChain);
    const cert = parseCertificatePem(shortLived.cert);
    store.verify(cert, new Date(now));
    expect(() => store.verify(cert, new Date(now + HOUR + 1000))).toThrow(/expired on/);
    expect(() => store.verify(cert, new Date(now + 2 * HOUR))).toThrow(/expired on/);
  });

  it('is valid only while every CA on it is: the window is the intersection of the chain', async () => {
    const pki = await testPki();
    const intermediate = new X509Certificate(pki.intermediate.cert);
    const caFrom = Date.parse(intermediate.validFrom);
    const caTo = Date.parse(intermediate.validTo);
    // A leaf valid longer, on both ends, than the intermediate that issued it.
    const outlives = await issueCertificate(pki.intermediate, {
      subject: 'CN=outlives its CA',
      notBefore: new Date(caFrom - 10 * DAY),
      notAfter: new Date(caTo + 10 * DAY),
    });
    const store = Truststore.fromPem(pki.caChain);
    const cert = parseCertificatePem(outlives.cert);
    store.verify(cert, new Date());
    expect(() => store.verify(cert, new Date(caFrom - DAY))).toThrow(/not valid before/);
    store.verify(cert, new Date());
    expect(() => store.verify(cert, new Date(caTo + DAY))).toThrow(/an issuing CA expired/);
  });

  it('is never served for a different certificate carrying the same serial', async () => {
    const pki = await testPki();
    const store = Truststore.fromPem(pki.caChain);
    const alice = parseCertificatePem(pki.devices.alice.cert);
    store.verify(alice, new Date());
    const foreignTwin = await issueCertificate(pki.foreignCa, { subject: 'CN=twin', serial: pki.devices.alice.serial });
    const forged = await issueCertificate(
      { cert: pki.intermediate.cert, key: pki.foreignCa.key },
      { subject: 'CN=forged twin', serial: pki.devices.alice.serial },
    );
    for (const pem of [foreignTwin.cert, forged.cert]) {
      const twin = parseCertificatePem(pem);
      expect(twin.serial).toBe(alice.serial);
      expect(() => store.verify(twin, new Date())).toThrow(/not issued by a CA/);
    }
    // A genuine certificate with the same serial passes on its own check, not on alice's.
    const genuineTwin = parseCertificatePem(
      (await issueCertificate(pki.intermediate, { subject: 'CN=genuine twin', serial: pki.devices.alice.serial })).cert,
    );
    const before = signatureChecks.mock.calls.length;
    store.verify(genuineTwin, new Date());
    expect(signatureChecks.mock.calls.length).toBeGreaterThan(before);
  });

  it('is looked up by the parsed certificate, not by a fingerprint field a caller filled in', async () => {
    const pki = await testPki();
    const store = Truststore.fromPem(pki.caChain);
    const alice = parseCertificatePem(pki.devices.alice.cert);
    store.verify(alice, new Date());
    const twin = parseCertificatePem(
      (await issueCertificate(pki.foreignCa, { subject: 'CN=twin', serial: pki.devices.alice.serial })).cert,
    );
    expect(() => store.verify({ ...twin, fingerprint256: alice.fingerprint256 }, new Date())).toThrow(
      /not issued by a CA/,
    );
  });

  it('is remembered per truststore', async () => {
    const pki = await testPki();
    const alice = parseCertificatePem(pki.devices.alice.cert);
    Truststore.fromPem(pki.caChain).verify(alice, new Date());
    const before = signatureChecks.mock.calls.length;
    const other = Truststore.fromPem(pki.root.cert);
    expect(() => other.verify(alice, new Date())).toThrow(/not issued by a CA/);
    Truststore.fromPem(pki.caChain).verify(alice, new Date());
    expect(signatureChecks.mock.calls.length).toBeGreaterThan(before);
  });

  it('is the only thing remembered: a failing chain is checked again every time', async () => {
    const pki = await testPki();
    const forged = await issueCertificate(
      { cert: pki.intermediate.cert, key: pki.foreignCa.key },
      { subject: 'CN=forged' },
    );
    const store = Truststore.fromPem(pki.caChain);
    const cert = parseCertificatePem(forged.cert);
    expect(() => store.verify(cert, new Date())).toThrow(/not issued by a CA/);
    const once = signatureChecks.mock.calls.length;
    expect(() => store.verify(cert, new Date())).toThrow(/not issued by a CA/);
    expect(signatureChecks.mock.calls.length).toBe(2 * once);
    expect(store.rememberedChains).toBe(0);
  });

  it('is one of at most the cache size: the N+1st pushes out the least recently used', async () => {
    const pki = await testPki();
    expect(CHAIN_CHECK_CACHE_SIZE).toBe(1000);
    const store = Truststore.fromPem(pki.caChain, { cacheSize: 2 });
    const [alice, erin, bob] = [pki.devices.alice, pki.devices.erin, pki.devices.bob].map((d) =>
      parseCertificatePem(d.cert),
    );
    for (const cert of [alice, erin, bob]) store.verify(defined(cert, 'a device'), new Date());
    expect(store.rememberedChains).toBe(2);
    const before = signatureChecks.mock.calls.length;
    store.verify(defined(bob, 'bob'), new Date());
    expect(signatureChecks.mock.calls.length).toBe(before);
    store.verify(defined(alice, 'alice'), new Date());
    expect(signatureChecks.mock.calls.length).toBeGreaterThan(before);
    expect(store.rememberedChains).toBe(2);
  });
});
