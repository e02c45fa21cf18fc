/**
 * Chain verification for certificates that reach plusgate *outside* a TLS handshake (POST /verify,
 * forward-auth). Serial numbers are unique per issuer only, so a caller must not be able to ask about a
 * self-made certificate carrying someone else's serial: the chain must end in the configured truststore.
 */
import { X509Certificate } from 'node:crypto';
import type { ClientCertificate } from './certificate';
import { LruCache } from './certificate-cache';
import { InvalidInputError } from './errors';

/** Longest chain followed (Identity Plus uses root + intermediate). */
const MAX_DEPTH = 5;

/** How many checked chains a truststore remembers. */
export const CHAIN_CHECK_CACHE_SIZE = 1000;

/** Options of {@link Truststore.fromPem}. */
export interface TruststoreOptions {
  /** Most checked chains remembered. @default CHAIN_CHECK_CACHE_SIZE */
  readonly cacheSize?: number;
}

/** When a chain that passed is valid: every certificate on it is valid from `from` to `to` (ms, both included). */
interface ValidityWindow {
  readonly from: number;
  readonly to: number;
}

/**
 * The parsed CA certificates of a truststore PEM bundle. A chain that passed is remembered per truststore
 * by the leaf's SHA-256 fingerprint (the same fingerprint is the same DER, so the same signatures and
 * the same CAs found for them) together with the time all of it is valid, the intersection of the
 * notBefore..notAfter of the leaf and of every CA used: inside that window the same leaf passes without
 * another signature check, outside it the chain is checked again (and an expired one fails). Failures are
 * never remembered.
 */
export class Truststore {
  readonly #cas: readonly X509Certificate[];
  readonly #passed: LruCache<string, ValidityWindow>;

  private constructor(cas: readonly X509Certificate[], options: TruststoreOptions) {
    this.#cas = cas;
    this.#passed = new LruCache(options.cacheSize ?? CHAIN_CHECK_CACHE_SIZE);
  }

  /** Parses a PEM bundle of CA certificates; throws naming what is wrong. */
  static fromPem(bundle: string, options: TruststoreOptions = {}): Truststore {
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
    return new Truststore(cas, options);
  }

  /** CA certificates held. */
  get size(): number {
    return this.#cas.length;
  }

  /** Chains remembered as passed now (at most the cache size). */
  get rememberedChains(): number {
    return this.#passed.size;
  }

  /**
   * Checks that `cert` was issued, through CA certificates of this truststore, and that every certificate
   * on the way is valid at `now`. Throws InvalidInputError (400) saying what failed. A leaf that passed
   * before passes again without another check while `now` is inside its chain's validity window.
   */
  verify(cert: ClientCertificate, now: Date, field = 'certificate'): void {
    const at = now.getTime();
    // From the X509Certificate itself, never from a field a caller could have filled differently.
    const key = cert.x509.fingerprint256;
    const passed = this.#passed.get(key);
    if (passed && passed.from <= at && at <= passed.to) return;
    if (passed) this.#passed.delete(key);
    const window = this.#check(cert.x509, at, field);
    this.#passed.set(key, window);
  }

  /** Walks the chain up to a root of this truststore; returns when all of it is valid, or throws. */
  #check(leaf: X509Certificate, at: number, field: string): ValidityWindow {
    let from = Number.NEGATIVE_INFINITY;
    let to = Number.POSITIVE_INFINITY;
    const within = (cert: X509Certificate) => {
      from = Math.max(from, Date.parse(cert.validFrom));
      to = Math.min(to, Date.parse(cert.validTo));
    };
    let current = leaf;
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
      within(current);
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
        within(issuer);
        return { from, to };
      }
      current = issuer;
    }
    throw new InvalidInputError(`${field} chain is longer than ${MAX_DEPTH} certificates`, { field });
  }
}
