import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DEMO_PEOPLE, demoSeed, issueCertificate } from '../../local/dev-pki';
import { devPkiPaths, loadOrCreateDevPki, writeDevPki } from '../../local/dev-pki-files';
import { testPki } from '../support/test-pki';

describe('dev PKI', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'plusgate-pki-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('issues every device from the intermediate except mallory, whose CA nothing trusts', async () => {
    const pki = await testPki();
    const root = new X509Certificate(pki.root.cert);
    const intermediate = new X509Certificate(pki.intermediate.cert);
    expect(intermediate.verify(root.publicKey)).toBe(true);
    for (const person of DEMO_PEOPLE.filter((p) => p !== 'mallory')) {
      expect(new X509Certificate(pki.devices[person].cert).verify(intermediate.publicKey)).toBe(true);
    }
    const mallory = new X509Certificate(pki.devices.mallory.cert);
    expect(mallory.verify(intermediate.publicKey)).toBe(false);
    expect(mallory.verify(new X509Certificate(pki.foreignCa.cert).publicKey)).toBe(true);
  });

  it('gives frank an expired certificate and everyone else a current one', async () => {
    const pki = await testPki();
    const now = Date.now();
    for (const person of DEMO_PEOPLE) {
      const notAfter = new Date(new X509Certificate(pki.devices[person].cert).validTo).getTime();
      expect(notAfter < now).toBe(person === 'frank');
    }
  });

  it('makes a server certificate for localhost and 127.0.0.1, sent with its intermediate', async () => {
    const pki = await testPki();
    const leaf = new X509Certificate(pki.server.cert);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(pki.server.cert.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('writes PKCS#12 files that Node TLS loads with the documented password', async () => {
    const pki = await testPki();
    expect(() => createSecureContext({ pfx: pki.api.p12, passphrase: 'plusgate' })).not.toThrow();
    expect(() => createSecureContext({ pfx: pki.devices.alice.p12, passphrase: 'plusgate' })).not.toThrow();
    expect(() => createSecureContext({ pfx: pki.devices.alice.p12, passphrase: 'wrong' })).toThrow();
  });

  it('seeds the simulator with the known people only (dave and mallory are unknown)', async () => {
    const pki = await testPki();
    const seeded = demoSeed(pki).map((s) => s.serial);
    expect(seeded).toContain(pki.devices.alice.serial);
    expect(seeded).not.toContain(pki.devices.dave.serial);
    expect(seeded).not.toContain(pki.devices.mallory.serial);
  });

  it('is created once and then reused from the data folder; keys are readable by the owner only', async () => {
    await writeDevPki(dir, await testPki());
    const again = await loadOrCreateDevPki(dir);
    expect(again.devices.alice.serial).toBe((await testPki()).devices.alice.serial);
    const paths = devPkiPaths(dir);
    expect(statSync(paths.leaf('alice').key).mode & 0o077).toBe(0);
    expect(statSync(paths.leaf('api').p12).mode & 0o077).toBe(0);
    expect(statSync(paths.caChain).mode & 0o777).toBe(0o644);
  });

  it('creates a new PKI when the folder is empty or its server certificate is about to expire', async () => {
    const created = await loadOrCreateDevPki(dir);
    expect(existsSync(devPkiPaths(dir).caChain)).toBe(true);
    const twoYearsOn = new Date(Date.now() + 2 * 365 * 86_400_000);
    const renewed = await loadOrCreateDevPki(dir, twoYearsOn);
    expect(renewed.devices.alice.serial).not.toBe(created.devices.alice.serial);
  });

  it('issues extra certificates with a chosen serial for tests', async () => {
    const pki = await testPki();
    const twin = await issueCertificate(pki.foreignCa, { subject: 'CN=twin', serial: pki.devices.alice.serial });
    expect(twin.serial).toBe(pki.devices.alice.serial);
    expect(new X509Certificate(twin.cert).verify(new X509Certificate(pki.foreignCa.cert).publicKey)).toBe(true);
  });
});
