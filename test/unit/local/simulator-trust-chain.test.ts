import { X509Certificate } from 'node:crypto';
import { orderedTrustChain } from '../../../local/simulator-trust-chain';
import { testPki } from '../../support/test-pki';

const pems = (bundle: string): string[] =>
  bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

describe('orderedTrustChain', () => {
  it('puts the intermediate before the root, whatever the order of the bundle', async () => {
    const pki = await testPki();
    const expected = [new X509Certificate(pki.intermediate.cert), new X509Certificate(pki.root.cert)];
    for (const bundle of [pki.root.cert + pki.intermediate.cert, pki.intermediate.cert + pki.root.cert, pki.caChain]) {
      const chain = pems(orderedTrustChain(bundle)).map((pem) => new X509Certificate(pem));
      expect(chain.map((c) => c.fingerprint256)).toEqual(expected.map((c) => c.fingerprint256));
    }
  });

  it('is exactly what a device certificate chains to', async () => {
    const pki = await testPki();
    const chain = pems(orderedTrustChain(pki.caChain)).map((pem) => new X509Certificate(pem));
    expect(chain).toHaveLength(2);
    const [intermediate, root] = chain as [X509Certificate, X509Certificate];
    const device = new X509Certificate(pki.devices.alice.cert);
    expect(device.checkIssued(intermediate) && device.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.checkIssued(root) && intermediate.verify(root.publicKey)).toBe(true);
    expect(root.checkIssued(root)).toBe(true);
  });

  it('refuses a bundle without a certificate', () => {
    expect(() => orderedTrustChain('nothing here')).toThrow(/no certificate/);
  });
});
