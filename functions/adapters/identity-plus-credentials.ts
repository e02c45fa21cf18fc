/**
 * Our Identity Plus API certificate and the TLS it is used in: the native secure context built from it
 * (Node's default roots, or those plus an extra CA; TLS 1.2 at least) and the undici connector that dials with it.
 * Errors say which form of the credentials is wrong and never show the key, the PKCS#12 or its password.
 */
import tls from 'node:tls';
import { buildConnector, type Connector, errors as undiciErrors } from './undici-parts';
import { ConfigurationError } from '../domain/errors';
import { errorDetail, safeCause } from './identity-plus-transport-errors';
import { isPlainObject } from '../domain/json';

/** Our Identity Plus API ("service agent") certificate: PEM certificate + key, or PKCS#12 + password. */
export type ApiCredentials =
  | { certificate: string; privateKey: string }
  | { p12: Buffer | string /* base64 */; password: string };

/**
 * The native secure context for calling Identity Plus with our API certificate. Throws a
 * ConfigurationError when the credentials are malformed, or the key or password does not fit.
 */
export function buildSecureContext(credentials: ApiCredentials, extraCa: string | undefined): tls.SecureContext {
  // Without `ca` Node verifies against its default store (its bundled roots, plus NODE_EXTRA_CA_CERTS when
  // set), built once per process; passing `ca` makes every context parse all ~140 roots again (tens of ms
  // per build, see bench/cold-start.ts). `ca` replaces the defaults, so an extra CA comes with the roots.
  const trust: Pick<tls.SecureContextOptions, 'ca'> =
    extraCa === undefined ? {} : { ca: [...tls.rootCertificates, extraCa] };
  if (!isPlainObject(credentials)) {
    throw new ConfigurationError('credentials must be {certificate, privateKey} (PEM) or {p12, password}.');
  }
  let options: tls.SecureContextOptions;
  let form: string;
  if ('p12' in credentials) {
    const { p12, password } = credentials;
    if (typeof password !== 'string') throw new ConfigurationError('credentials.password must be a string.');
    let pfx: Buffer;
    if (Buffer.isBuffer(p12)) pfx = p12;
    else if (typeof p12 === 'string') pfx = Buffer.from(p12, 'base64');
    else throw new ConfigurationError('credentials.p12 must be a Buffer or base64 text.');
    if (pfx.length === 0) throw new ConfigurationError('credentials.p12 is empty.');
    options = { ...trust, pfx, passphrase: password };
    form = 'PKCS#12';
  } else if ('certificate' in credentials && 'privateKey' in credentials) {
    const { certificate, privateKey } = credentials;
    if (typeof certificate !== 'string' || !certificate.includes('-----BEGIN')) {
      throw new ConfigurationError('credentials.certificate must be PEM text.');
    }
    if (typeof privateKey !== 'string' || !privateKey.includes('-----BEGIN')) {
      throw new ConfigurationError('credentials.privateKey must be PEM text.');
    }
    options = { ...trust, cert: certificate, key: privateKey };
    form = 'PEM';
  } else {
    throw new ConfigurationError('credentials must be {certificate, privateKey} (PEM) or {p12, password}.');
  }
  try {
    return tls.createSecureContext({ ...options, minVersion: 'TLSv1.2' });
  } catch (error) {
    // OpenSSL's messages name the failure, never the input; the cause is reduced to name/code/message anyway.
    const cause = safeCause(error);
    throw new ConfigurationError(
      `The Identity Plus API certificate (${form}) could not be loaded: ${errorDetail(error)}. ` +
        (form === 'PKCS#12' ? 'Check the file and its password.' : 'Check that the key matches the certificate.'),
      cause === undefined ? {} : { cause },
    );
  }
}

/**
 * undici's connector over the secure context, verifying the server, with a precise connect timer
 * (undici's is coarse and runs as a safety net after `undiciTimeoutMs`) and a hook per connection opened.
 */
export function buildApiConnector(
  secureContext: tls.SecureContext,
  limits: { connectTimeoutMs: number; undiciTimeoutMs: number },
  onConnectionOpened: () => void,
): Connector {
  const base = buildConnector({ secureContext, rejectUnauthorized: true, timeout: limits.undiciTimeoutMs });
  const { connectTimeoutMs } = limits;
  return (options, callback) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      callback(new undiciErrors.ConnectTimeoutError(`connect timeout after ${connectTimeoutMs} ms`), null);
    }, connectTimeoutMs);
    base(options, (...args) => {
      clearTimeout(timer);
      const [error, socket] = args;
      if (done) {
        // We already reported a timeout; a late socket must not leak.
        socket?.destroy();
        return;
      }
      done = true;
      if (error === null) onConnectionOpened();
      callback(...args);
    });
  };
}
