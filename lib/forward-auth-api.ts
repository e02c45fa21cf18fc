/**
 * The mutual-TLS door for proxies: a REGIONAL REST API reachable only through its own custom domain, serving
 * only the forward-auth routes `ANY /auth/{dialect}` and `ANY /auth/{dialect}/{path+}` with the verify
 * function. The caller is a proxy (nginx, Traefik, Caddy, Envoy) that presents its own client certificate,
 * issued by the operator's proxy CA: API Gateway refuses any other certificate in the handshake, and the
 * execute-api endpoint is disabled so nobody can go around it. The device certificate the proxy forwards in
 * its dialect's header is checked by the verify function against the Identity Plus truststore, as on the IAM
 * service API.
 *
 * The door's truststore must never trust an Identity Plus CA (lib/config.ts refuses one that shares a
 * certificate or key with the device truststore): otherwise every Identity Plus user could call it.
 */
import { Validations } from 'aws-cdk-lib';
import { type DomainName, EndpointType, ResponseType, RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ARecord, IHostedZone } from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { AUTH_ROUTES } from '../functions/config/names';
import { addUnavailableResponses, stageOptions } from './api-stage';
import { addMtlsDomain, addMtlsGatedMethods } from './mtls-domain';
import type { MtlsTruststore } from './mtls-truststore';
import type { TruststorePem } from './truststore-pem';

/** Props of {@link ForwardAuthApi}. */
export interface ForwardAuthApiProps {
  /** The verify function (the one the service API uses): serves every route. */
  readonly handler: IFunction;
  /** Custom domain of the door, e.g. `forward-auth.example.com`. */
  readonly domainName: string;
  /** ACM certificate for `domainName`, same account and region; a public ACM certificate (no ownership certificate is set). */
  readonly certificate: ICertificate;
  /** The checked truststore of the operator's proxy CA (never an Identity Plus CA). */
  readonly truststore: TruststorePem;
  /** Route 53 zone for an A alias record of the domain. @default - no record; point DNS at `domain.domainNameAliasDomainName` */
  readonly hostedZone?: IHostedZone;
  /**
   * Steady-state requests per second for the stage. A proxy asks once per request it serves (assets
   * included, unless it caches), as on the service API. @default 1000
   */
  readonly throttlingRateLimit?: number;
  /** @default 2000 */
  readonly throttlingBurstLimit?: number;
  /** @default RetentionDays.ONE_YEAR */
  readonly accessLogRetention?: RetentionDays;
}

/** The forward-auth REST API behind mutual TLS with the proxies' CA, its custom domain, truststore and logs. */
export class ForwardAuthApi extends Construct {
  public readonly api: RestApi;
  public readonly domain: DomainName;
  public readonly truststore: MtlsTruststore;
  public readonly accessLogs: LogGroup;
  /** The alias record, when a hosted zone was given. */
  public readonly record?: ARecord;

  constructor(scope: Construct, id: string, props: ForwardAuthApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_YEAR,
    });

    this.api = new RestApi(this, 'Api', {
      restApiName: 'plusgate-forward-auth',
      description:
        'plusgate forward-auth for proxies: /auth/<dialect>, the proxy authenticated by its own client certificate (mutual TLS on the custom domain)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Only the custom domain enforces mutual TLS: the default https://<id>.execute-api... URL must not exist.
      disableExecuteApiEndpoint: true,
      // The account-level CloudWatch role comes from the edge API, or from lib/api-gateway-account.ts when the
      // edge is CloudFront; one per region is enough.
      cloudWatchRole: false,
      deployOptions: stageOptions(this.accessLogs, {
        rateLimit: props.throttlingRateLimit ?? 1000,
        burstLimit: props.throttlingBurstLimit ?? 2000,
      }),
    });
    // RestApi always emits the execute-api URL as an output; that endpoint is disabled, so don't advertise it.
    this.api.node.tryRemoveChild('Endpoint');
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        "The verify function reads each dialect's headers itself and answers what the proxy understands (200/401/403/503, or a 302/page for Traefik, Caddy, Envoy); a request validator would answer a bare 400 that no proxy passes on sensibly.",
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        "Mutual TLS on the custom domain admits only proxies holding a certificate of the operator's proxy CA (refused in the handshake otherwise; execute-api disabled), and the stage is throttled; the callers are the operator's own proxies, so per-IP WAF rules add little.",
    });

    addUnavailableResponses(this.api);
    // With no authorizer, API Gateway answers an unknown path with 403 "Missing Authentication Token", which a
    // proxy would pass on as a denial of the user: a wrongly configured path is a 404 that says what exists.
    this.api.addGatewayResponse('NoRoute', {
      type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      templates: {
        'application/json': JSON.stringify({
          message:
            'no such route: this API serves only /auth/<dialect> and /auth/<dialect>/<path> (nginx, traefik, caddy, envoy)',
        }),
      },
    });

    // Any method, as Envoy forwards the browser's; the dialect and the original path are path parameters.
    // Mutual TLS is the gate (see the file comment); the function decides.
    addMtlsGatedMethods(
      this.api,
      Object.values(AUTH_ROUTES),
      'ANY',
      props.handler,
      "Mutual TLS on the custom domain authenticates every caller as one of the operator's proxies (its own client certificate, issued by the proxy CA that is the only CA in the truststore; the execute-api endpoint is disabled); the verify function then checks the device certificate the proxy forwards.",
    );

    const mtls = addMtlsDomain(this, {
      api: this.api,
      domainName: props.domainName,
      certificate: props.certificate,
      truststore: props.truststore,
      hostedZone: props.hostedZone,
    });
    this.truststore = mtls.truststore;
    this.domain = mtls.domain;
    this.record = mtls.record;
  }
}
