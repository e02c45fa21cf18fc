/**
 * The CloudFront edge (`edge: "cloudfront"`): a distribution on the custom domain terminates TLS and viewer
 * mutual TLS in **optional** mode against a CloudFront trust store built from the same checked truststore
 * the API Gateway edge uses. A valid device certificate is verified in the handshake and reaches the edge
 * function in the `CloudFront-Viewer-Cert-*` headers; a visitor without one gets through without a
 * certificate (`CloudFront-Viewer-Cert-Present: 0`) and the function answers its landing page; an invalid or
 * expired one is refused in the handshake. The origin is the edge function's URL (auth type AWS_IAM) behind
 * an Origin Access Control: only this distribution may invoke it, so the certificate headers the function
 * reads cannot be sent by anyone calling the function URL directly (it answers them 403).
 *
 * aws-cdk-lib 2.276 has no L2 for viewer mTLS: the trust store is the L1 `CfnTrustStore` and the mTLS
 * configuration an override of the distribution's properties. cfn-lint checks their shape only, so the
 * rules viewer mTLS sets (HTTP/3 off, HTTPS only, `Mode` stated) are tested in test/infra/cloudfront-edge.test.ts.
 */
import { ArnFormat, CfnOutput, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachedMethods,
  CachePolicy,
  type CfnDistribution,
  CfnTrustStore,
  Distribution,
  FunctionUrlOriginAccessControl,
  HttpVersion,
  OriginRequestCookieBehavior,
  OriginRequestHeaderBehavior,
  OriginRequestPolicy,
  OriginRequestQueryStringBehavior,
  SecurityPolicyProtocol,
  Signing,
  SSLMethod,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { FunctionUrl, FunctionUrlAuthType, type IFunction, InvokeMode } from 'aws-cdk-lib/aws-lambda';
import { AaaaRecord, ARecord, type IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { CloudFrontTarget } from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { CLOUDFRONT_ORIGIN_HEADERS } from '../functions/config/names';
import { CLOUDFRONT_CERTIFICATE_REGION } from './config-edge';
import { MtlsTruststore } from './mtls-truststore';
import type { TruststorePem } from './truststore-pem';

/** What the origin request policy forwards to the edge function, besides every query string (see the list's comment). */
export const FORWARDED_HEADERS = CLOUDFRONT_ORIGIN_HEADERS;

/** Headers an origin request policy may name (CloudFront's default quota). */
const MAX_FORWARDED_HEADERS = 10;

/** Props of {@link CloudFrontEdge}. */
export interface CloudFrontEdgeProps {
  /** The edge function: serves every path, through its function URL. */
  readonly handler: IFunction;
  /** Custom domain, e.g. `auth.example.com`: the distribution's alternate domain name. */
  readonly domainName: string;
  /** ACM certificate for `domainName` in us-east-1 (CloudFront takes viewer certificates from there only). */
  readonly certificate: ICertificate;
  /** The checked truststore: the CAs whose device certificates the handshake accepts. */
  readonly truststore: TruststorePem;
  /** Route 53 zone for A and AAAA alias records of the domain. @default - no records; point DNS at `distribution.domainName` */
  readonly hostedZone?: IHostedZone;
  /** How long CloudFront waits for the function's answer (1-120 s). @default 30 seconds (the function times out at 25) */
  readonly originReadTimeout?: Duration;
}

/** The distribution, its trust store, the function URL and the optional DNS records. */
export class CloudFrontEdge extends Construct {
  /** The custom domain (the distribution's alternate domain name). */
  public readonly domainName: string;
  public readonly distribution: Distribution;
  /** The edge function's URL: answers 403 to anyone but this distribution. */
  public readonly functionUrl: FunctionUrl;
  /** The uploaded truststore object (content-addressed key, pinned version) the trust store is built from. */
  public readonly truststore: MtlsTruststore;
  public readonly trustStore: CfnTrustStore;
  public readonly originRequestPolicy: OriginRequestPolicy;
  /** The alias records, when a hosted zone was given. */
  public readonly records?: { readonly ipv4: ARecord; readonly ipv6: AaaaRecord };

  constructor(scope: Construct, id: string, props: CloudFrontEdgeProps) {
    super(scope, id);
    this.domainName = props.domainName;
    const stack = Stack.of(this);
    const certificateRegion = stack.splitArn(props.certificate.certificateArn, ArnFormat.SLASH_RESOURCE_NAME).region;
    if (!Token.isUnresolved(certificateRegion) && certificateRegion !== CLOUDFRONT_CERTIFICATE_REGION) {
      throw new Error(
        `CloudFrontEdge: the certificate ${props.certificate.certificateArn} is in ${certificateRegion}; CloudFront takes viewer certificates from ACM in ${CLOUDFRONT_CERTIFICATE_REGION} only (cloudFrontCertificateArn)`,
      );
    }
    if (Token.isUnresolved(stack.region)) {
      throw new Error('CloudFrontEdge: the stack needs a concrete region: the trust store names the S3 bucket region');
    }

    // Only CloudFront, signing with SigV4 for this distribution, may invoke it (the OAC below).
    this.functionUrl = new FunctionUrl(this, 'FunctionUrl', {
      function: props.handler,
      authType: FunctionUrlAuthType.AWS_IAM,
      invokeMode: InvokeMode.BUFFERED,
    });

    // The same checked PEM as the API Gateway edge, under truststore/<sha256>.pem, version pinned: a new
    // truststore is a new key and version, so CloudFormation updates the trust store (CloudFront reads the
    // bundle once, when the trust store is created or changed). Which principal reads it is not documented
    // (research Q3): the bucket policy grants CloudFront nothing, as for API Gateway, which reads the
    // truststore with the deploying credentials; Terraform's acceptance tests build trust stores from a
    // bucket without any policy. If a deployment fails with an S3 access error on the trust store, grant
    // cloudfront.amazonaws.com s3:GetObject on this one key with aws:SourceAccount = this account.
    this.truststore = new MtlsTruststore(this, 'Truststore', { truststore: props.truststore });
    this.trustStore = new CfnTrustStore(this, 'TrustStore', {
      // createOnly: a changed name replaces the trust store.
      name: `${stack.stackName}-devices`,
      caCertificatesBundleSource: {
        caCertificatesBundleS3Location: {
          bucket: this.truststore.bucket.bucketName,
          key: this.truststore.key,
          region: stack.region,
          version: this.truststore.version,
        },
      },
      // Identity Plus decides on revocation (the function asks it about every certificate), not OCSP.
      useClientCertificateOcspEndpoint: false,
    });

    if (FORWARDED_HEADERS.length > MAX_FORWARDED_HEADERS) {
      throw new Error(
        `CloudFrontEdge: ${FORWARDED_HEADERS.length} forwarded headers, more than the ${MAX_FORWARDED_HEADERS} an origin request policy may name`,
      );
    }
    this.originRequestPolicy = new OriginRequestPolicy(this, 'OriginRequestPolicy', {
      comment: 'plusgate edge: the viewer certificate headers, the viewer address and Accept; never Host',
      headerBehavior: OriginRequestHeaderBehavior.allowList(...FORWARDED_HEADERS),
      // `return` and `state` are query strings; the edge reads no cookies.
      queryStringBehavior: OriginRequestQueryStringBehavior.all(),
      cookieBehavior: OriginRequestCookieBehavior.none(),
    });

    const originAccessControl = new FunctionUrlOriginAccessControl(this, 'OriginAccessControl', {
      description: 'plusgate edge: CloudFront signs every request to the edge function URL (SigV4)',
      signing: Signing.SIGV4_ALWAYS,
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: `plusgate edge for ${props.domainName}`,
      domainNames: [props.domainName],
      certificate: props.certificate,
      sslSupportMethod: SSLMethod.SNI,
      // Not TLSv1.3_2025 (1.3 only): older browsers and OS certificate stores still speak only TLS 1.2, and a
      // person locked out by the protocol gets no page at all. TLS 1.3 is negotiated whenever both sides can.
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      // Viewer mTLS does not work over HTTP/3.
      httpVersion: HttpVersion.HTTP2,
      defaultBehavior: {
        // Adds the OAC's two Lambda permissions (InvokeFunctionUrl, InvokeFunction), both scoped to this distribution.
        origin: FunctionUrlOrigin.withOriginAccessControl(this.functionUrl, {
          originAccessControl,
          readTimeout: props.originReadTimeout ?? Duration.seconds(30),
        }),
        // Viewer mTLS needs every behaviour HTTPS only; and a sign-in never starts on plain HTTP.
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        // The edge routes are GET; through OAC a body would need the client's x-amz-content-sha256.
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        // Every answer depends on the certificate and Identity Plus: nothing is cached.
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: this.originRequestPolicy,
      },
    });
    // Viewer mTLS (no L2 prop in aws-cdk-lib 2.276). `Mode` is stated: left out, it means `required`, and a
    // visitor without a certificate would get a failed handshake instead of the landing page.
    (this.distribution.node.defaultChild as CfnDistribution).addPropertyOverride(
      'DistributionConfig.ViewerMtlsConfig',
      {
        Mode: 'optional',
        TrustStoreConfig: {
          TrustStoreId: this.trustStore.attrId,
          // Browsers offer only certificates of the advertised CAs: people with an Identity Plus certificate among
          // others get it proposed, and the page for those without one is not hidden behind a certificate prompt.
          AdvertiseTrustStoreCaNames: true,
          // An expired certificate is refused in the handshake, as on the API Gateway edge.
          IgnoreCertificateExpiry: false,
        },
      },
    );

    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'Sign-in is open to Identity Plus users wherever they are; who may sign in is decided per certificate (allowedRoles), not per country.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'A distribution takes only a CLOUDFRONT-scope web ACL, which must be created in us-east-1; this stack deploys elsewhere and does not build one. Invalid certificates are refused in the handshake and the function limits what one certificate can ask of Identity Plus (negative cache, one intent per interval).',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          "Standard logging (legacy) writes with S3 ACLs, which plusgate's buckets disable (bucket owner enforced); standard logging v2 needs its delivery resources in us-east-1. The edge function logs every request it answers, with the decision and the certificate's serial.",
      },
    );

    if (props.hostedZone) {
      const target = RecordTarget.fromAlias(new CloudFrontTarget(this.distribution));
      this.records = {
        ipv4: new ARecord(this, 'Alias', { zone: props.hostedZone, recordName: props.domainName, target }),
        ipv6: new AaaaRecord(this, 'AliasIpv6', { zone: props.hostedZone, recordName: props.domainName, target }),
      };
    }
  }
}

/**
 * The CloudFront edge's stack outputs (made on `stack`, as the stack's other outputs): where DNS points, the
 * distribution, and the function URL nobody else may call. `hostedZoneName` when the alias records were made.
 */
export function addCloudFrontEdgeOutputs(stack: Stack, edge: CloudFrontEdge, hostedZoneName?: string): void {
  const { domainName } = edge;
  new CfnOutput(stack, 'DistributionDomainName', {
    description: hostedZoneName
      ? `Target of the A and AAAA alias records created in ${hostedZoneName}`
      : `Point DNS for ${domainName} here (CNAME, or Route 53 A and AAAA aliases to the distribution)`,
    value: edge.distribution.distributionDomainName,
  });
  new CfnOutput(stack, 'DistributionId', { value: edge.distribution.distributionId });
  new CfnOutput(stack, 'EdgeFunctionUrl', {
    description: 'The origin CloudFront signs its requests to (OAC); it answers 403 to anyone else',
    value: edge.functionUrl.url,
  });
}
