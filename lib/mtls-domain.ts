/**
 * A REST API's custom domain with mutual TLS, as the edge API and the forward-auth door both need it: the
 * truststore uploaded to its own bucket (`MtlsTruststore`), a REGIONAL domain with the `TLS_1_2` policy
 * (the only family mTLS domains support) mapping the API at its root, and an A alias record when a hosted
 * zone is given. The constructs are made on the caller's own scope with fixed ids (`Truststore`, `Domain`,
 * `Alias`), so the logical ids of deployed stacks stay what they were.
 */
import type { CfnDomainName, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { DomainName, EndpointType, SecurityPolicy } from 'aws-cdk-lib/aws-apigateway';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ARecord, type IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayDomain } from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';
import { MtlsTruststore } from './mtls-truststore';
import type { TruststorePem } from './truststore-pem';

export interface MtlsDomainProps {
  readonly api: RestApi;
  readonly domainName: string;
  readonly certificate: ICertificate;
  /** The CAs a client certificate must chain to. */
  readonly truststore: TruststorePem;
  /** @default - no record */
  readonly hostedZone?: IHostedZone;
  /** For an imported or private-CA `certificate`. @default - none */
  readonly ownershipVerificationCertificate?: ICertificate;
}

export interface MtlsDomain {
  readonly truststore: MtlsTruststore;
  readonly domain: DomainName;
  readonly record?: ARecord;
}

/** Adds the mTLS custom domain of `props.api` to `scope` (see the file comment). */
export function addMtlsDomain(scope: Construct, props: MtlsDomainProps): MtlsDomain {
  const truststore = new MtlsTruststore(scope, 'Truststore', { truststore: props.truststore });
  const domain = new DomainName(scope, 'Domain', {
    domainName: props.domainName,
    certificate: props.certificate,
    endpointType: EndpointType.REGIONAL,
    // mTLS custom domains support only the TLS_1_2 policy family (not the newer enhanced policies).
    securityPolicy: SecurityPolicy.TLS_1_2,
    mtls: { bucket: truststore.bucket, key: truststore.key, version: truststore.version },
    mapping: props.api,
  });
  if (props.ownershipVerificationCertificate) {
    (domain.node.defaultChild as CfnDomainName).ownershipVerificationCertificateArn =
      props.ownershipVerificationCertificate.certificateArn;
  }
  const record = props.hostedZone
    ? new ARecord(scope, 'Alias', {
        zone: props.hostedZone,
        recordName: props.domainName,
        target: RecordTarget.fromAlias(new ApiGatewayDomain(domain)),
      })
    : undefined;
  return { truststore, domain, ...(record ? { record } : {}) };
}
