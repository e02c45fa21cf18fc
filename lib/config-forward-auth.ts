/**
 * The context keys of the mutual-TLS door for proxies (lib/forward-auth-api.ts), read for lib/config.ts's
 * `loadConfig` with its helpers: all three or none, each checked like its edge counterpart, and a door
 * truststore that trusts anything the device truststore trusts is refused (it would let every Identity
 * Plus user call the door as a proxy).
 */
import { X509Certificate } from 'node:crypto';
import { show } from '../functions/config/settings';
import { oneLine, type TruststorePem } from './truststore-pem';

/**
 * The mutual-TLS door for proxies (lib/forward-auth-api.ts): a third REST API on its own custom domain
 * serving only `/auth/...`, where each proxy authenticates with its own client certificate.
 */
export interface ForwardAuthConfig {
  /** Custom domain of the door, e.g. `forward-auth.example.com`; never `domainName`. */
  readonly domainName: string;
  /** ACM certificate for it, in the account and region the stack deploys to. */
  readonly certificateArn: string;
  /** The checked truststore of the operator's proxy CA: shares no certificate or key with `truststore`. */
  readonly truststore: TruststorePem;
}

/** The context keys of the mutual-TLS door for proxies: all three or none. */
export const FORWARD_AUTH_KEYS = [
  'forwardAuthDomainName',
  'forwardAuthCertificateArn',
  'forwardAuthTruststorePath',
] as const;

/** What loadConfig lends the door's reading: its value reader, problem list and checks, and the edge's values. */
export interface DoorReadContext {
  readonly raw: (key: string) => unknown;
  readonly problems: string[];
  readonly requiredString: (key: string, pattern: RegExp, expected: string) => string;
  readonly bad: (key: string, value: unknown, expected: string) => void;
  readonly truststoreAt: (key: string, expected: string) => TruststorePem | undefined;
  readonly edge: {
    readonly domainName: string;
    readonly account?: string;
    readonly region?: string;
    readonly truststore?: TruststorePem;
  };
  readonly patterns: { readonly hostname: RegExp; readonly acmArn: RegExp };
}

/** The door's three keys (lib/forward-auth-api.ts): all or none, checked like their edge counterparts. */
export function readForwardAuth(context: DoorReadContext): ForwardAuthConfig | undefined {
  const { raw, problems, requiredString, bad, truststoreAt } = context;
  const { domainName, account, region, truststore } = context.edge;
  const { hostname, acmArn } = context.patterns;
  const given = FORWARD_AUTH_KEYS.filter((key) => raw(key) !== undefined);
  if (given.length === 0) return undefined;
  if (given.length < FORWARD_AUTH_KEYS.length) {
    const missing = FORWARD_AUTH_KEYS.filter((key) => !given.includes(key));
    problems.push(
      `${FORWARD_AUTH_KEYS.join(', ')}: got only ${given.join(' and ')}, missing ${missing.join(' and ')}; expected all three (the mutual-TLS door for proxies: its domain, that domain's ACM certificate, and the truststore of your proxies' CA) or none`,
    );
    return undefined;
  }
  const doorDomain = requiredString(
    'forwardAuthDomainName',
    hostname,
    'a lower-case DNS name such as "forward-auth.example.com" (no scheme, no wildcard, no trailing dot) for the mutual-TLS door for proxies',
  );
  if (hostname.test(doorDomain) && doorDomain === domainName) {
    bad(
      'forwardAuthDomainName',
      doorDomain,
      `a domain other than domainName "${domainName}": the door trusts your proxies' CA, the edge the Identity Plus CAs, and one custom domain has one truststore`,
    );
  }
  const doorCertificateArn = requiredString(
    'forwardAuthCertificateArn',
    acmArn,
    'an ACM certificate ARN such as "arn:aws:acm:eu-west-1:123456789012:certificate/<id>" for forwardAuthDomainName, in the region you deploy to',
  );
  const [, , doorRegion, doorAccount] = acmArn.exec(doorCertificateArn) ?? [];
  if (doorRegion !== undefined && region !== undefined && (doorRegion !== region || doorAccount !== account)) {
    bad(
      'forwardAuthCertificateArn',
      doorCertificateArn,
      `a certificate in account ${account} and region ${region}, where the stack deploys (a REGIONAL custom domain needs its certificate there)`,
    );
  }
  const doorTruststore = truststoreAt(
    'forwardAuthTruststorePath',
    "a PEM file holding only the CA certificates of your proxies' client certificates (root and intermediate), none of the Identity Plus CAs of truststorePath",
  );
  if (doorTruststore && truststore) {
    for (const problem of sharedTrust(doorTruststore, truststore)) {
      problems.push(
        `forwardAuthTruststorePath: got ${show(raw('forwardAuthTruststorePath'))}, but ${problem}; expected only your proxies' CA: anything the device truststore (truststorePath) trusts would let every Identity Plus user call the door as a proxy`,
      );
    }
  }
  return doorTruststore && { domainName: doorDomain, certificateArn: doorCertificateArn, truststore: doorTruststore };
}

/**
 * What `door` trusts that `devices` trusts too: a certificate with the same SHA-256 fingerprint of its DER, or
 * a different certificate for the same CA key (re-issued or cross-signed), which verifies the same device
 * certificates in API Gateway's handshake.
 */
function sharedTrust(door: TruststorePem, devices: TruststorePem): string[] {
  const deviceCas = certificatesOf(devices);
  const found: string[] = [];
  for (const cert of certificatesOf(door)) {
    const key = publicKeyDer(cert);
    const same = deviceCas.find((d) => d.fingerprint256 === cert.fingerprint256);
    const sameKey = deviceCas.find((d) => publicKeyDer(d).equals(key));
    if (same) {
      found.push(
        `it contains the certificate (${oneLineSubject(cert)}, SHA-256 ${cert.fingerprint256}) that truststorePath contains too`,
      );
    } else if (sameKey) {
      found.push(
        `its certificate (${oneLineSubject(cert)}, SHA-256 ${cert.fingerprint256}) has the key of a truststorePath certificate (${oneLineSubject(sameKey)})`,
      );
    }
  }
  return found;
}

function certificatesOf(truststore: TruststorePem): X509Certificate[] {
  return [...truststore.pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => new X509Certificate(m[0]),
  );
}

function publicKeyDer(cert: X509Certificate): Buffer {
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

function oneLineSubject(cert: X509Certificate): string {
  return oneLine(cert.subject);
}
