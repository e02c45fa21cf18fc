/**
 * The service API: a REST API for other services, every method IAM-authorised (SigV4). `POST /verify`,
 * `GET /verify` (forward-auth, nginx) and `ANY /auth/{dialect}[/{path+}]` (forward-auth per proxy) decide
 * on a certificate; `PUT /bindings`, `DELETE /bindings/{localUserId}`, `POST /intrusions` and
 * `DELETE /intrusions/{reference}` are the identity operations; `GET /report` serves the billing-period report.
 *
 * Optionally a resource policy names who may call which route. Without one, any principal of the account
 * whose identity policy allows `execute-api:Invoke` on it (a broad `execute-api:*` on `*` included) may
 * call, and `/report` answers every user's name and email. With `serviceCallerArns` / `reportReaderArns`,
 * an explicit Deny refuses every other principal, whatever its own policies allow.
 */
import { Validations } from 'aws-cdk-lib';
import { AuthorizationType, EndpointType, LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { AnyPrincipal, ArnPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AUTH_ROUTES, IDENTITY_ROUTES, SERVICE_ROUTES } from '../functions/config/names';

/** `/auth`: the parent of the forward-auth routes. */
const AUTH_PREFIX = AUTH_ROUTES.DIALECT.slice(0, AUTH_ROUTES.DIALECT.indexOf('/{'));
import { addUnavailableResponses, stageOptions } from './api-stage';

/** Props of {@link ServiceApi}. */
export interface ServiceApiProps {
  /** Serves POST and GET /verify. */
  readonly verifyHandler: IFunction;
  /** Serves GET /report. @default - no /report route */
  readonly reportHandler?: IFunction;
  /**
   * Steady-state requests per second for the stage. A forward-auth proxy asks once per request it serves
   * (assets included, unless it caches), so this is sized for a site, not for a few services.
   * @default 1000
   */
  readonly throttlingRateLimit?: number;
  /** @default 2000 */
  readonly throttlingBurstLimit?: number;
  /** @default RetentionDays.ONE_YEAR */
  readonly accessLogRetention?: RetentionDays;
  /**
   * IAM role, user or account root ARNs: the only principals that may call POST and GET /verify, forward-auth
   * and the identity operations (an account root ARN admits that account's principals whose own policies
   * allow it).
   * @default - IAM identity policies alone decide who calls /verify
   */
  readonly serviceCallerArns?: readonly string[];
  /** The same for GET /report. @default - IAM identity policies alone decide who reads /report */
  readonly reportReaderArns?: readonly string[];
}

/** The identity operations' methods (functions/handlers/identity-ops-app.ts), served by the verify function. */
const IDENTITY_METHODS: readonly (readonly [string, string])[] = [
  ['PUT', IDENTITY_ROUTES.BINDINGS],
  ['DELETE', IDENTITY_ROUTES.BINDING],
  ['POST', IDENTITY_ROUTES.INTRUSIONS],
  ['DELETE', IDENTITY_ROUTES.INTRUSION],
];

/** A route as a resource policy names it: a `{parameter}` is any one path segment. */
function policyPath(route: string): string {
  return route.replace(/\{[^}]+\}/g, '*');
}

/** `execute-api:/<stage>/<method><path>`: a resource policy's short form for a method of this API, any stage. */
function methodResource(method: string, route: string): string {
  return `execute-api:/*/${method}${route}`;
}

/**
 * The statements that let `principals` (ARNs) invoke `resources` and deny everyone else: an explicit Deny
 * outranks any Allow in an identity policy. `aws:PrincipalArn` is the role's ARN for a role session, so
 * listing a role covers its sessions; an account root ARN exempts that whole account from the Deny
 * (`aws:PrincipalAccount`), as the same ARN as a principal of the Allow grants the whole account.
 */
function callerStatements(sid: string, principals: readonly string[], resources: string[]): PolicyStatement[] {
  const rootAccounts = principals.flatMap((arn) => /^arn:[^:]+:iam::(\d{12}):root$/.exec(arn)?.[1] ?? []);
  return [
    new PolicyStatement({
      sid: `Allow${sid}`,
      effect: Effect.ALLOW,
      principals: principals.map((arn) => new ArnPrincipal(arn)),
      actions: ['execute-api:Invoke'],
      resources,
    }),
    new PolicyStatement({
      sid: `DenyOther${sid}`,
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['execute-api:Invoke'],
      resources,
      conditions: {
        ArnNotEquals: { 'aws:PrincipalArn': [...principals] },
        ...(rootAccounts.length > 0 ? { StringNotEquals: { 'aws:PrincipalAccount': rootAccounts } } : {}),
      },
    }),
  ];
}

/** IAM-only REST API for services: verify and report. */
export class ServiceApi extends Construct {
  public readonly api: RestApi;
  public readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_YEAR,
    });
    // Part of the RestApi's own properties: a changed policy changes the deployment's logical id (CDK hashes
    // the RestApi into it), so it takes effect with the deploy instead of waiting for the next API change.
    const statements = [
      ...(props.serviceCallerArns?.length
        ? callerStatements('ServiceCallers', props.serviceCallerArns, [
            methodResource('POST', SERVICE_ROUTES.VERIFY),
            methodResource('GET', SERVICE_ROUTES.VERIFY),
            // Forward-auth by dialect: any method, any path below /auth.
            methodResource('*', `${AUTH_PREFIX}/*`),
            // The identity operations: binding local users, reporting intruders.
            ...IDENTITY_METHODS.map(([method, route]) => methodResource(method, policyPath(route))),
          ])
        : []),
      ...(props.reportReaderArns?.length
        ? callerStatements('ReportReaders', props.reportReaderArns, [methodResource('GET', SERVICE_ROUTES.REPORT)])
        : []),
    ];
    this.api = new RestApi(this, 'Api', {
      policy: statements.length > 0 ? new PolicyDocument({ statements }) : undefined,
      restApiName: 'plusgate-service',
      description: 'plusgate service API: verify a certificate, read the billing report (IAM SigV4 only)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // The account-level CloudWatch role comes from the edge API, or from lib/api-gateway-account.ts when the
      // edge is CloudFront; one per region is enough.
      cloudWatchRole: false,
      // Every method requires a SigV4 signature from a principal allowed execute-api:Invoke on it.
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      deployOptions: stageOptions(this.accessLogs, {
        rateLimit: props.throttlingRateLimit ?? 1000,
        burstLimit: props.throttlingBurstLimit ?? 2000,
      }),
    });
    // The stack outputs the URL as ServiceApiUrl; RestApi's automatic output would say it twice.
    this.api.node.tryRemoveChild('Endpoint');
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'The functions validate every field themselves and answer specific messages (413 over 16 KB, which field is wrong); forward-auth callers need 401/403/503, never the bare 400 of a request validator.',
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Only IAM principals granted execute-api:Invoke reach it (SigV4 on every method) and the stage is throttled; attach a WAFv2 web ACL for IP rules if needed.',
    });

    // Forward-auth proxies understand only 200/401/403/503 (nginx turns anything else into a 500): API
    // Gateway's own throttling (429) and integration failures (502/504) become 503 + Retry-After too.
    // A missing or wrong SigV4 signature stays API Gateway's 403.
    addUnavailableResponses(this.api);

    const verify = new LambdaIntegration(props.verifyHandler, { proxy: true, allowTestInvoke: false });
    const verifyResource = this.api.root.resourceForPath(SERVICE_ROUTES.VERIFY);
    const methods = [verifyResource.addMethod('POST', verify), verifyResource.addMethod('GET', verify)];
    // Forward-auth per proxy dialect (functions/adapters/proxy-dialects.ts): any method, as Envoy forwards the
    // browser's; the dialect and the original path are path parameters.
    const dialect = this.api.root.resourceForPath(AUTH_ROUTES.DIALECT);
    methods.push(dialect.addMethod('ANY', verify));
    methods.push(this.api.root.resourceForPath(AUTH_ROUTES.DIALECT_PATH).addMethod('ANY', verify));
    for (const [method, route] of IDENTITY_METHODS) {
      methods.push(this.api.root.resourceForPath(route).addMethod(method, verify));
    }
    if (props.reportHandler) {
      const report = new LambdaIntegration(props.reportHandler, { proxy: true, allowTestInvoke: false });
      methods.push(this.api.root.resourceForPath(SERVICE_ROUTES.REPORT).addMethod('GET', report));
    }
    for (const method of methods) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-COG4',
        reason: 'IAM (SigV4) authorises every method: callers are AWS principals, not Cognito users.',
      });
    }
  }
}
