/**
 * A REST API's custom domain with mutual TLS, as the edge API and the forward-auth door both need it: the
 * truststore uploaded to its own bucket (`MtlsTruststore`), a REGIONAL domain with the `TLS_1_2` policy
 * (the only family mTLS domains support) mapping the API at its root, and an A alias record when a hosted
 * zone is given. The constructs are made on the caller's own scope with fixed ids (`Truststore`, `Domain`,
 * `Alias`), so the logical ids of deployed stacks stay what they were. `addMtlsGatedMethods` adds the routes
 * such a domain guards.
 */
import { Validations } from 'aws-cdk-lib';
import {
  AuthorizationType,
  type CfnDomainName,
  DomainName,
  EndpointType,
  LambdaIntegration,
  type RestApi,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
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

/**
 * `httpMethod` on each of `routes`, proxied to `handler`, without an API Gateway authorizer: mutual TLS on
 * the custom domain is the gate (the execute-api endpoint must be disabled) and the function decides.
 * cdk-nag's authorizer rules are acknowledged on each method with `reason`.
 */
export function addMtlsGatedMethods(
  api: RestApi,
  routes: readonly string[],
  httpMethod: string,
  handler: IFunction,
  reason: string,
): void {
  const integration = new LambdaIntegration(handler, { proxy: true, allowTestInvoke: false });
  for (const route of routes) {
    const method = api.root
      .resourceForPath(route)
      .addMethod(httpMethod, integration, { authorizationType: AuthorizationType.NONE });
    Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason });
  }
}
