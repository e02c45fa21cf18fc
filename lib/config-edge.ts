/**
 * The context keys that depend on what terminates mutual TLS in front of the edge function (the `edge` setting,
 * functions/config/settings.ts), read for lib/config.ts's `loadConfig` with its helpers:
 * - `api-gateway` (the default): `certificateArn` (ACM, in the account and region the stack deploys to) is
 *   required, and names that account and region; `cloudFrontCertificateArn` is refused.
 * - `cloudfront`: `cloudFrontCertificateArn` (ACM in us-east-1, where CloudFront takes viewer certificates
 *   from) is required and names the account; the region is `-c region=...` or the CDK CLI's default region
 *   (`CDK_DEFAULT_REGION`, passed in by bin/plusgate.ts). `certificateArn` is optional and unused. The keys
 *   only API Gateway's edge uses (`ownershipVerificationCertificateArn`, `wafRateLimitPer5Min`) are refused, and
 *   the truststore must fit a CloudFront trust store's limits.
 */
import { X509Certificate } from 'node:crypto';
import { type EdgeKind, show } from '../functions/config/settings';
import { selfSigned, type TruststorePem } from './truststore-pem';

/** How the edge is deployed: API Gateway with its regional certificate, or CloudFront with a us-east-1 one. */
export type EdgeDeployment =
  | {
      readonly edge: 'api-gateway';
      /** ACM certificate for `domainName`, in the account and region the stack deploys to. */
      readonly certificateArn: string;
      readonly cloudFrontCertificateArn?: undefined;
    }
  | {
      readonly edge: 'cloudfront';
      /** ACM certificate for `domainName` in us-east-1, for the distribution (same account as the stack). */
      readonly cloudFrontCertificateArn: string;
      /** Not used with CloudFront; accepted (in the stack's account) so one cdk.json can serve both edges. */
      readonly certificateArn?: string;
    };

/** What loadConfig lends the edge's reading: its value reader, problem list and checks. */
export interface EdgeReadContext {
  readonly raw: (key: string) => unknown;
  readonly problems: string[];
  readonly requiredString: (key: string, pattern: RegExp, expected: string) => string;
  readonly optionalString: (key: string, pattern: RegExp, expected: string) => string | undefined;
  readonly bad: (key: string, value: unknown, expected: string) => void;
}

/** The edge's keys read, and where the stack deploys (undefined where a problem has been reported). */
export interface EdgeTarget {
  readonly deployment: EdgeDeployment;
  readonly account?: string;
  readonly region?: string;
  readonly partition?: string;
  /** How messages about other keys name the stack's region, e.g. "the region of certificateArn where the stack deploys". */
  readonly regionOrigin: string;
  /** The key whose partition principals must be in. */
  readonly partitionKey: 'certificateArn' | 'cloudFrontCertificateArn';
  /** Warnings that don't stop the synth. */
  readonly warnings: readonly string[];
}

/** CloudFront takes ACM viewer certificates from this region only. */
export const CLOUDFRONT_CERTIFICATE_REGION = 'us-east-1';
/** An AWS region name such as eu-west-1. */
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
/** Regions outside the commercial `aws` partition: no CloudFront trust stores there, and a us-east-1 certificate can't serve them. */
const OTHER_PARTITION_REGION = /^(?:cn|us-gov|us-iso[a-z]?|eu-isoe|eusc)-/;
/** A CloudFront trust store's limits (CloudFront quotas, "mTLS and trust stores"): not adjustable but for the size. */
export const CLOUDFRONT_TRUSTSTORE_LIMITS = { certificates: 25, bytes: 64 * 1024, chainDepth: 4 } as const;
/** The CA keys a CloudFront trust store accepts. */
const RSA_BITS = [2048, 3072, 4096];
const EC_CURVES = ['prime256v1', 'secp384r1'];

const CERTIFICATE_EXPECTED =
  'an ACM certificate ARN such as "arn:aws:acm:eu-west-1:123456789012:certificate/<id>" for domainName, in the region you deploy to';
const CLOUDFRONT_CERTIFICATE_EXPECTED = `an ACM certificate ARN in ${CLOUDFRONT_CERTIFICATE_REGION} such as "arn:aws:acm:${CLOUDFRONT_CERTIFICATE_REGION}:123456789012:certificate/<id>" for domainName (CloudFront takes viewer certificates from ${CLOUDFRONT_CERTIFICATE_REGION} only)`;

/** The edge kind the context asks for; a bad `edge` value is reported with the settings and read as the default. */
export function edgeKindOf(raw: (key: string) => unknown): EdgeKind {
  return raw('edge') === 'cloudfront' ? 'cloudfront' : 'api-gateway';
}

/**
 * Reads the certificate keys of the edge and where the stack deploys (see the file comment). `acmArn` matches an
 * ACM certificate ARN, grouping partition, region and account; `defaultRegion` is the CDK CLI's default region
 * (`CDK_DEFAULT_REGION`), the region with edge cloudfront when `-c region` is not given.
 */
export function readEdgeTarget(context: EdgeReadContext, acmArn: RegExp, defaultRegion?: string): EdgeTarget {
  return edgeKindOf(context.raw) === 'cloudfront'
    ? readCloudFront(context, acmArn, defaultRegion)
    : readApiGateway(context, acmArn);
}

function readApiGateway(context: EdgeReadContext, acmArn: RegExp): EdgeTarget {
  const { raw, bad, requiredString } = context;
  const certificateArn = requiredString('certificateArn', acmArn, CERTIFICATE_EXPECTED);
  const [, partition, region, account] = acmArn.exec(certificateArn) ?? [];
  const cloudFrontCertificateArn = raw('cloudFrontCertificateArn');
  if (cloudFrontCertificateArn !== undefined) {
    bad(
      'cloudFrontCertificateArn',
      cloudFrontCertificateArn,
      'nothing with edge "api-gateway" (the default): it is the certificate of the CloudFront distribution that -c edge=cloudfront builds; the API Gateway edge uses certificateArn',
    );
  }
  const givenRegion = raw('region');
  if (givenRegion !== undefined && region !== undefined && givenRegion !== region) {
    bad(
      'region',
      givenRegion,
      `"${region}" or nothing with edge "api-gateway": the stack deploys to the region of certificateArn (a REGIONAL custom domain needs its certificate there)`,
    );
  }
  return {
    deployment: { edge: 'api-gateway', certificateArn },
    account,
    region,
    partition,
    regionOrigin: 'the region of certificateArn where the stack deploys',
    partitionKey: 'certificateArn',
    warnings: [],
  };
}

function readCloudFront(context: EdgeReadContext, acmArn: RegExp, defaultRegion: string | undefined): EdgeTarget {
  const { raw, bad, problems, requiredString, optionalString } = context;
  const warnings: string[] = [];
  const cloudFrontCertificateArn = requiredString(
    'cloudFrontCertificateArn',
    acmArn,
    `${CLOUDFRONT_CERTIFICATE_EXPECTED}, with edge "cloudfront"`,
  );
  const [, partition, certificateRegion, account] = acmArn.exec(cloudFrontCertificateArn) ?? [];
  if (certificateRegion !== undefined && (certificateRegion !== CLOUDFRONT_CERTIFICATE_REGION || partition !== 'aws')) {
    bad(
      'cloudFrontCertificateArn',
      cloudFrontCertificateArn,
      `a certificate in ${CLOUDFRONT_CERTIFICATE_REGION} (N. Virginia, partition "aws"): CloudFront uses ACM certificates from there only, whatever region the stack deploys to; request or import the certificate for domainName in ${CLOUDFRONT_CERTIFICATE_REGION}`,
    );
  }

  const certificateArn = optionalString('certificateArn', acmArn, CERTIFICATE_EXPECTED);
  const certificateAccount = certificateArn === undefined ? undefined : acmArn.exec(certificateArn)?.[3];
  if (certificateAccount !== undefined && account !== undefined && certificateAccount !== account) {
    bad(
      'certificateArn',
      certificateArn,
      `a certificate in account ${account}, that of cloudFrontCertificateArn, or nothing: with edge "cloudfront" it is not used`,
    );
  } else if (certificateArn !== undefined) {
    warnings.push(
      `certificateArn ${show(certificateArn)} is not used with edge "cloudfront": the distribution uses cloudFrontCertificateArn`,
    );
  }

  const region = readRegion();
  return {
    deployment: { edge: 'cloudfront', cloudFrontCertificateArn, ...(certificateArn ? { certificateArn } : {}) },
    account,
    region,
    partition,
    regionOrigin: 'the region the stack deploys to (region)',
    partitionKey: 'cloudFrontCertificateArn',
    warnings,
  };

  /** The stack's region: `-c region=...`, else the CDK CLI's default region. */
  function readRegion(): string | undefined {
    const expected =
      'the AWS region the stack deploys to, such as "eu-west-1", in the partition "aws" (the functions, the ledger and the service API live there; cloudFrontCertificateArn is in us-east-1 for CloudFront and does not choose it)';
    const given = raw('region');
    if (given === undefined && defaultRegion === undefined) {
      problems.push(
        `region: missing; expected ${expected}: with edge "cloudfront" give -c region=..., or let the CDK CLI's default region (CDK_DEFAULT_REGION, from your AWS profile) choose it`,
      );
      return undefined;
    }
    const value = given ?? defaultRegion;
    if (typeof value !== 'string' || !REGION.test(value) || OTHER_PARTITION_REGION.test(value)) {
      bad(given === undefined ? 'region (CDK_DEFAULT_REGION)' : 'region', value, expected);
      return undefined;
    }
    if (given === undefined) {
      // The CLI falls back to us-east-1 when no profile names a region: say where the ledger will live.
      warnings.push(
        `region is not given: the stack deploys to ${value}, the CDK CLI's default region (your AWS profile's, or us-east-1 when none is configured); pin it with -c region=${value} so a later deploy from another profile does not build a second plusgate elsewhere`,
      );
    }
    return value;
  }
}

/**
 * With edge "cloudfront": refuses the keys only API Gateway's edge uses, and a truststore a CloudFront trust
 * store would not take. Nothing with "api-gateway".
 */
export function checkCloudFrontKeys(
  context: EdgeReadContext,
  given: {
    readonly ownershipVerificationCertificateArn?: string;
    readonly wafRateLimitPer5Min?: number;
    readonly truststore?: TruststorePem;
  },
): void {
  const { raw, bad, problems } = context;
  if (edgeKindOf(raw) !== 'cloudfront') return;
  if (given.ownershipVerificationCertificateArn !== undefined) {
    bad(
      'ownershipVerificationCertificateArn',
      given.ownershipVerificationCertificateArn,
      'nothing with edge "cloudfront": it lets API Gateway\'s mutual TLS use an imported or private-CA certificateArn; CloudFront checks viewer certificates against its own trust store and does not use it',
    );
  }
  if (given.wafRateLimitPer5Min !== undefined && given.wafRateLimitPer5Min > 0) {
    bad(
      'wafRateLimitPer5Min',
      raw('wafRateLimitPer5Min'),
      '0 or nothing with edge "cloudfront": its web ACL is REGIONAL, made for the API Gateway edge\'s stage; a CloudFront distribution takes only a CLOUDFRONT-scope web ACL, which must be created in us-east-1, and this stack does not build one',
    );
  }
  if (given.truststore) {
    for (const problem of cloudFrontTruststoreProblems(given.truststore)) {
      problems.push(
        `truststorePath: got ${show(raw('truststorePath'))}, but ${problem}; expected a truststore a CloudFront trust store takes, with edge "cloudfront"`,
      );
    }
  }
}

/** Why a CloudFront trust store would refuse `truststore` (count, size, chain depth, key types); empty when it fits. */
export function cloudFrontTruststoreProblems(truststore: TruststorePem): string[] {
  const { certificates: maxCertificates, bytes: maxBytes, chainDepth: maxDepth } = CLOUDFRONT_TRUSTSTORE_LIMITS;
  const certs = [...truststore.pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => new X509Certificate(m[0]),
  );
  const found: string[] = [];
  if (certs.length > maxCertificates) {
    found.push(
      `it holds ${certs.length} certificates, more than the ${maxCertificates} a CloudFront trust store takes`,
    );
  }
  const bytes = Buffer.byteLength(truststore.pem);
  if (bytes > maxBytes) {
    found.push(`its PEM is ${bytes} bytes, more than the ${maxBytes} (64 KB) a CloudFront trust store takes`);
  }
  /** CAs from `cert` up to its root (1 for a root); the file's chains are complete (readTruststore checked it). */
  const depthOf = (cert: X509Certificate, seen: readonly X509Certificate[] = []): number => {
    if (selfSigned(cert) || seen.length > certs.length) return 1;
    const issuer = certs.find(
      (c) => c !== cert && !seen.includes(c) && cert.checkIssued(c) && cert.verify(c.publicKey),
    );
    return issuer ? 1 + depthOf(issuer, [...seen, cert]) : 1;
  };
  for (const cert of certs) {
    const name = `certificate (${cert.subject.split('\n').filter(Boolean).join(', ')})`;
    // The device certificate is one more link below the deepest CA.
    const depth = depthOf(cert) + 1;
    if (depth > maxDepth) {
      found.push(
        `a device certificate issued by ${name} has a chain ${depth} certificates deep, more than the ${maxDepth} CloudFront verifies`,
      );
    }
    const key = cert.publicKey;
    const details = key.asymmetricKeyDetails;
    const fits =
      key.asymmetricKeyType === 'rsa'
        ? RSA_BITS.includes(details?.modulusLength ?? 0)
        : key.asymmetricKeyType === 'ec' && EC_CURVES.includes(details?.namedCurve ?? '');
    if (!fits) {
      const what =
        key.asymmetricKeyType === 'rsa'
          ? `a ${details?.modulusLength}-bit RSA key`
          : `a ${key.asymmetricKeyType}${details?.namedCurve ? ` ${details.namedCurve}` : ''} key`;
      found.push(
        `${name} has ${what}; a CloudFront trust store takes RSA keys of 2048, 3072 or 4096 bits and ECDSA keys on P-256 or P-384`,
      );
    }
  }
  return found;
}
