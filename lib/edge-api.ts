/**
 * The edge API: a REGIONAL REST API reachable only through its custom domain, where mutual TLS against
 * the Identity Plus truststore is enforced in the TLS handshake. A browser without an Identity Plus
 * certificate is refused by API Gateway before any Lambda runs; the execute-api endpoint is disabled so
 * nobody can go around the handshake. Every route goes to the one edge function (proxy integration).
 */
import { Validations } from 'aws-cdk-lib';
import { type DomainName, EndpointType, RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ARecord, IHostedZone } from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { EDGE_ROUTES } from '../functions/config/names';
import { addMtlsDomain, addMtlsGatedMethods } from './mtls-domain';
import type { MtlsTruststore } from './mtls-truststore';
import { stageOptions } from './api-stage';
import type { TruststorePem } from './truststore-pem';

/** Props of {@link EdgeApi}. */
export interface EdgeApiProps {
  /** The edge function: serves every route. */
  readonly handler: IFunction;
  /** Custom domain, e.g. `auth.example.com`. */
  readonly domainName: string;
  /** ACM certificate for `domainName`, same account and region. */
  readonly certificate: ICertificate;
  /** The checked truststore: the CAs whose device certificates may connect. */
  readonly truststore: TruststorePem;
  /** Route 53 zone for an A alias record of the domain. @default - no record; point DNS at `domain.domainNameAliasDomainName` */
  readonly hostedZone?: IHostedZone;
  /** Needed for mTLS when the domain's certificate is imported or from a private CA. @default - none */
  readonly ownershipVerificationCertificate?: ICertificate;
  /** Steady-state requests per second for the whole stage. @default 100 */
  readonly throttlingRateLimit?: number;
  /** Burst of requests for the whole stage. @default 200 */
  readonly throttlingBurstLimit?: number;
  /** How long access logs are kept. @default RetentionDays.ONE_YEAR */
  readonly accessLogRetention?: RetentionDays;
}

/** The mutual TLS edge API, its custom domain, truststore, access logs and optional DNS record. */
export class EdgeApi extends Construct {
  public readonly api: RestApi;
  public readonly domain: DomainName;
  public readonly truststore: MtlsTruststore;
  public readonly accessLogs: LogGroup;
  /** The alias record, when a hosted zone was given. */
  public readonly record?: ARecord;

  constructor(scope: Construct, id: string, props: EdgeApiProps) {
    super(scope, id);

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_YEAR,
    });

    this.api = new RestApi(this, 'Api', {
      restApiName: 'plusgate-edge',
      description: 'plusgate edge API: sign-in by Identity Plus device certificate (mutual TLS on the custom domain)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Only the custom domain enforces mutual TLS: the default https://<id>.execute-api... URL must not exist.
      disableExecuteApiEndpoint: true,
      // Stage logging needs API Gateway's account-level CloudWatch role; creating it keeps a fresh account
      // deployable (it is retained on delete, as other APIs in the account may rely on it).
      cloudWatchRole: true,
      deployOptions: stageOptions(this.accessLogs, {
        rateLimit: props.throttlingRateLimit ?? 100,
        burstLimit: props.throttlingBurstLimit ?? 200,
      }),
    });
    // RestApi always emits the execute-api URL as an output; that endpoint is disabled, so don't advertise it.
    this.api.node.tryRemoveChild('Endpoint');
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'GET-only routes without a body; the edge function validates `return` and `state` itself and answers its own readable 4xx page (HTML or JSON), which an API Gateway request validator would replace with a bare JSON 400.',
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Mutual TLS on the custom domain refuses every caller without an Identity Plus device certificate before any integration runs (no certificate: in the handshake), and stage throttling caps the rest; set wafRateLimitPer5Min for a per-IP rate limit (lib/edge-waf.ts associates a WAFv2 web ACL with this stage).',
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's account-level logging role: AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy for it, and API Gateway names its execution log groups at run time, so it cannot be scoped to one log group.",
      });
    }

    // Mutual TLS is the gate (see the file comment); the function decides.
    addMtlsGatedMethods(
      this.api,
      Object.values(EDGE_ROUTES),
      'GET',
      props.handler,
      'Mutual TLS on the custom domain authenticates every caller (the execute-api endpoint is disabled); the Lambda asks Identity Plus about the certificate and decides.',
    );

    const mtls = addMtlsDomain(this, {
      api: this.api,
      domainName: props.domainName,
      certificate: props.certificate,
      truststore: props.truststore,
      hostedZone: props.hostedZone,
      ownershipVerificationCertificate: props.ownershipVerificationCertificate,
    });
    this.truststore = mtls.truststore;
    this.domain = mtls.domain;
    this.record = mtls.record;
  }
}
