/**
 * Chain verification for certificates that reach plusgate *outside* a TLS handshake (POST /verify,
 * forward-auth). Serial numbers are unique per issuer only, so a caller must not be able to ask about a
 * self-made certificate carrying someone else's serial: the chain must end in the configured truststore.
 */
import { X509Certificate } from 'node:crypto';
import type { ClientCertificate } from './certificate';
import { InvalidInputError } from './errors';

/** Longest chain followed (Identity Plus uses root + intermediate). */
const MAX_DEPTH = 5;

/** The parsed CA certificates of a truststore PEM bundle. */
export class Truststore {
  readonly #cas: readonly X509Certificate[];

  private constructor(cas: readonly X509Certificate[]) {
    this.#cas = cas;
  }

  /** Parses a PEM bundle of CA certificates; throws naming what is wrong. */
  static fromPem(bundle: string): Truststore {
    const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error('truststore holds no PEM certificate');
    const cas = blocks.map((pem, i) => {
      const cert = new X509Certificate(pem);
      if (!cert.ca)
        throw new Error(
          `truststore certificate ${i + 1} (${cert.subject.replace(/\n/g, ',')}) is not a CA certificate`,
        );
      return cert;
    });
    return new Truststore(cas);
  }

  get size(): number {
    return this.#cas.length;
  }

  /**
   * Checks that `cert` was issued, through CA certificates of this truststore, and that every certificate
   * on the way is valid at `now`. Throws InvalidInputError (400) saying what failed.
   */
  verify(cert: ClientCertificate, now: Date, field = 'certificate'): void {
    const at = now.getTime();
    let current = cert.x509;
    if (current.ca) throw new InvalidInputError(`${field} is a CA certificate, not a device certificate`, { field });
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (at < Date.parse(current.validFrom))
        throw new InvalidInputError(`${field} chain: a certificate is not valid before ${current.validFrom}`, {
          field,
        });
      if (at > Date.parse(current.validTo)) {
        const which = depth === 0 ? `${field} expired` : `${field} chain: an issuing CA expired`;
        throw new InvalidInputError(`${which} on ${new Date(current.validTo).toISOString()}`, { field });
      }
      const issuer = this.#cas.find((ca) => current.checkIssued(ca) && current.verify(ca.publicKey));
      if (!issuer) {
        throw new InvalidInputError(
          `${field} was not issued by a CA in plusgate's truststore (Identity Plus certificates only)`,
          { field },
        );
      }
      if (issuer.fingerprint256 === current.fingerprint256 || issuer.checkIssued(issuer)) {
        // Reached a self-signed root of the truststore; check its own validity too.
        if (at > Date.parse(issuer.validTo) || at < Date.parse(issuer.validFrom)) {
          throw new InvalidInputError(`${field} chain: the root CA is not valid now`, { field });
        }
        return;
      }
      current = issuer;
    }
    throw new InvalidInputError(`${field} chain is longer than ${MAX_DEPTH} certificates`, { field });
  }
}
