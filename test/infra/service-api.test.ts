/**
 * The service API (IAM only), the verify and authorizer functions' least privilege, and the authorizer
 * construct another stack attaches.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { AUTH_ROUTES, ENV, IDENTITY_ROUTES, SERVICE_ROUTES } from '../../functions/config/names';
import { PlusgateAuthorizer } from '../../lib/plusgate-authorizer';
import { defined, only } from '../support/only';
import { asList, synthPlusgate } from './plusgate-fixture';

const { template } = synthPlusgate();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
const serviceOfType = (type: string) =>
  Object.entries(resources).filter(([id, r]) => r.Type === type && id.startsWith('ServiceApi'));
/** The logical id of the one resource of `type` whose id starts with `prefix`. */
const idOf = (type: string, prefix: string) =>
  only(
    Object.entries(resources).filter(([id, r]) => r.Type === type && id.startsWith(prefix)),
    `${type} ${prefix}*`,
  )[0];
const functionId = (prefix: string) => idOf('AWS::Lambda::Function', prefix);
const resource = (id: string) => defined(resources[id], `the resource ${id}`);
const resourceExists = (id: string) => resources[id]?.Type === 'AWS::ApiGateway::Resource';

describe('service API', () => {
  test('every method requires IAM (SigV4) authorization', () => {
    const methods = serviceOfType('AWS::ApiGateway::Method');
    expect(methods.map(([, m]) => m.Properties.HttpMethod).sort()).toEqual([
      'ANY',
      'ANY',
      'DELETE',
      'DELETE',
      'GET',
      'GET',
      'POST',
      'POST',
      'PUT',
    ]);
    for (const [, m] of methods) expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  test('serves /verify, forward-auth and the identity operations through the verify function and /report through the report function', () => {
    // The full path: a resource's parents are followed up to the API's root.
    const resourcePath = (id: string): string => {
      const r = resource(id).Properties;
      const parent = r.ParentId?.Ref as string | undefined;
      return `${parent && resourceExists(parent) ? resourcePath(parent) : ''}/${r.PathPart}`;
    };
    const routes = serviceOfType('AWS::ApiGateway::Method').map(([, m]) => ({
      route: `${m.Properties.HttpMethod} ${resourcePath(m.Properties.ResourceId.Ref)}`,
      uri: JSON.stringify(m.Properties.Integration.Uri),
    }));
    expect(routes.map((r) => r.route).sort()).toEqual([
      `ANY ${AUTH_ROUTES.DIALECT}`,
      `ANY ${AUTH_ROUTES.DIALECT_PATH}`,
      `DELETE ${IDENTITY_ROUTES.BINDING}`,
      `DELETE ${IDENTITY_ROUTES.INTRUSION}`,
      `GET ${SERVICE_ROUTES.REPORT}`,
      `GET ${SERVICE_ROUTES.VERIFY}`,
      `POST ${IDENTITY_ROUTES.INTRUSIONS}`,
      `POST ${SERVICE_ROUTES.VERIFY}`,
      `PUT ${IDENTITY_ROUTES.BINDINGS}`,
    ]);
    for (const { route, uri } of routes)
      expect(uri).toContain(functionId(route.endsWith(SERVICE_ROUTES.REPORT) ? 'ReportFunction' : 'VerifyFunction'));
  });

  test('the report function may only Query the table and reads no secret', () => {
    const actions = statementsOf('ReportFunction').flatMap((s) => asList(s.Action as string | string[]));
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:Query']);
    expect(actions.some((a) => a.startsWith('secretsmanager:'))).toBe(false);
  });

  test("turns API Gateway's own throttling and 5xx answers into 503 + Retry-After (all a forward-auth proxy understands)", () => {
    const responses = serviceOfType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties);
    expect(responses.map((r) => r.ResponseType).sort()).toEqual(['DEFAULT_5XX', 'THROTTLED']);
    for (const r of responses) {
      expect(r.StatusCode).toBe('503');
      expect(r.ResponseParameters['gatewayresponse.header.Retry-After']).toBe("'5'");
    }
  });

  test('is REGIONAL, throttled and access-logged', () => {
    const [, api] = only(serviceOfType('AWS::ApiGateway::RestApi'), 'service RestApi');
    expect(api.Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
    const [, stage] = only(serviceOfType('AWS::ApiGateway::Stage'), 'service Stage');
    expect(stage.Properties.AccessLogSetting.DestinationArn).toBeDefined();
    expect(stage.Properties.MethodSettings[0]).toMatchObject({
      ThrottlingRateLimit: 1000,
      ThrottlingBurstLimit: 2000,
      DataTraceEnabled: false,
    });
  });
});

describe('service API resource policy (serviceCallerArns, reportReaderArns)', () => {
  const ORDERS = 'arn:aws:iam::123456789012:role/orders-service';
  const PARTNER_ACCOUNT = 'arn:aws:iam::210987654321:root';
  const ALICE = 'arn:aws:iam::123456789012:user/ops/alice';
  /** The service RestApi and the logical id of its deployment, for a synth with `overrides`. */
  const serviceApiOf = (overrides: Record<string, unknown>) => {
    const all = synthPlusgate(overrides).template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: any }
    >;
    const ofType = (type: string) =>
      Object.entries(all).filter(([id, r]) => r.Type === type && id.startsWith('ServiceApi'));
    return {
      api: only(ofType('AWS::ApiGateway::RestApi'), 'service RestApi')[1],
      deploymentId: only(ofType('AWS::ApiGateway::Deployment'), 'service Deployment')[0],
      edgeApi: only(
        Object.entries(all).filter(([id, r]) => r.Type === 'AWS::ApiGateway::RestApi' && id.startsWith('EdgeApi')),
        'edge RestApi',
      )[1],
    };
  };
  const restricted = serviceApiOf({ serviceCallerArns: [ORDERS, PARTNER_ACCOUNT], reportReaderArns: `["${ALICE}"]` });
  const verify = [
    'execute-api:/*/*/auth/*',
    'execute-api:/*/DELETE/bindings/*',
    'execute-api:/*/DELETE/intrusions/*',
    'execute-api:/*/GET/verify',
    'execute-api:/*/POST/intrusions',
    'execute-api:/*/POST/verify',
    'execute-api:/*/PUT/bindings',
  ];
  const report = 'execute-api:/*/GET/report';

  test('without them there is no resource policy: IAM identity policies alone decide, as before', () => {
    const [, api] = only(serviceOfType('AWS::ApiGateway::RestApi'), 'service RestApi');
    expect(api.Properties.Policy).toBeUndefined();
  });

  test('only the listed callers may invoke /verify: an explicit Deny for every other principal outranks any identity policy', () => {
    const statements = restricted.api.Properties.Policy.Statement as Array<Record<string, any>>;
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes('verify'))).toEqual([
      {
        Sid: 'AllowServiceCallers',
        Effect: 'Allow',
        Principal: { AWS: [ORDERS, PARTNER_ACCOUNT] },
        Action: 'execute-api:Invoke',
        Resource: verify,
      },
      {
        Sid: 'DenyOtherServiceCallers',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: verify,
        // A listed account root admits that account's principals: it is exempt by account, the others by ARN.
        Condition: {
          ArnNotEquals: { 'aws:PrincipalArn': [ORDERS, PARTNER_ACCOUNT] },
          StringNotEquals: { 'aws:PrincipalAccount': ['210987654321'] },
        },
      },
    ]);
  });

  test('only the listed readers may invoke GET /report (names and emails)', () => {
    const statements = restricted.api.Properties.Policy.Statement as Array<Record<string, any>>;
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes('report'))).toEqual([
      {
        Sid: 'AllowReportReaders',
        Effect: 'Allow',
        Principal: { AWS: ALICE },
        Action: 'execute-api:Invoke',
        Resource: report,
      },
      {
        Sid: 'DenyOtherReportReaders',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: report,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': [ALICE] } },
      },
    ]);
    expect(statements).toHaveLength(4);
  });

  test('each list restricts only its own routes', () => {
    const readersOnly = serviceApiOf({ reportReaderArns: [ALICE] }).api.Properties.Policy.Statement;
    expect(JSON.stringify(readersOnly)).not.toContain('verify');
    const callersOnly = serviceApiOf({ serviceCallerArns: [ORDERS] }).api.Properties.Policy.Statement;
    expect(JSON.stringify(callersOnly)).not.toContain('report');
  });

  test('the policy is part of the RestApi, so a change gets a new deployment (its logical id changes)', () => {
    const [unrestrictedDeployment] = only(serviceOfType('AWS::ApiGateway::Deployment'), 'service Deployment');
    // (Deterministic: the same policy gives the same id.)
    expect(serviceApiOf({}).deploymentId).toBe(unrestrictedDeployment);
    const otherCallers = serviceApiOf({ serviceCallerArns: [ORDERS], reportReaderArns: [ALICE] });
    expect(new Set([unrestrictedDeployment, restricted.deploymentId, otherCallers.deploymentId]).size).toBe(3);
  });

  test('the edge API gets no resource policy (mutual TLS is its gate)', () => {
    expect(restricted.edgeApi.Properties.Policy).toBeUndefined();
  });
});

/** The IAM statements attached to one function's role (policies naming that role). */
function statementsOf(prefix: string): Array<Record<string, unknown>> {
  const roleId = idOf('AWS::IAM::Role', prefix);
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((r) => asList(r.Properties.PolicyDocument.Statement));
}

describe('least privilege', () => {
  const actionsOf = (prefix: string) => statementsOf(prefix).flatMap((s) => asList(s.Action as string | string[]));

  test('the verify function may only record (UpdateItem) and read both secrets', () => {
    const actions = actionsOf('VerifyFunction');
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:UpdateItem']);
    const secretResources = statementsOf('VerifyFunction')
      .filter((s) => asList(s.Action as string[]).some((a) => a.startsWith('secretsmanager:')))
      .flatMap((s) => asList(s.Resource as unknown[]));
    expect(secretResources).toEqual([
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:plusgate/identity-plus-api-cert-??????',
      { Ref: expect.stringMatching(/^SecretsStateKey/) },
    ]);
  });

  test('the authorizer function may only record and read the API certificate secret (not the state key)', () => {
    const actions = actionsOf('AuthorizerFunction');
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:UpdateItem']);
    const secretResources = statementsOf('AuthorizerFunction')
      .filter((s) => asList(s.Action as string[]).some((a) => a.startsWith('secretsmanager:')))
      .flatMap((s) => asList(s.Resource as unknown[]));
    expect(secretResources).toEqual([
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:plusgate/identity-plus-api-cert-??????',
    ]);
  });

  test('verify gets its truststore as a bundled file and no secret values in its environment', () => {
    const env = resource(functionId('VerifyFunction')).Properties.Environment.Variables;
    expect(env[ENV.TRUSTSTORE_FILE]).toBe('truststore.pem');
    expect(env[ENV.PUBLIC_ORIGIN]).toBe('https://auth.example.com');
    expect(JSON.stringify(env)).not.toMatch(/BEGIN (CERTIFICATE|PRIVATE KEY)|SecretString/);
  });

  test('outputs the service API URL and the authorizer function ARN', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.ServiceApiUrl).toBeDefined();
    expect(JSON.stringify(outputs.AuthorizerFunctionArn.Value)).toContain(functionId('AuthorizerFunction'));
  });
});

describe('PlusgateAuthorizer in another stack', () => {
  const app = new App();
  const stack = new Stack(app, 'Orders', { env: { account: '123456789012', region: 'eu-west-1' } });
  const api = new RestApi(stack, 'Api');
  const backend = new LambdaFunction(stack, 'Backend', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler=async()=>({statusCode:200})'),
  });
  const guard = new PlusgateAuthorizer(stack, 'Plusgate', {
    functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:plusgate-authorizer',
  });
  api.root.addResource('orders').addMethod('GET', new LambdaIntegration(backend), { authorizer: guard.authorizer });
  const other = Template.fromStack(stack);

  test('is a REQUEST authorizer with result caching off', () => {
    other.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
  });

  test('guards the method it is attached to', () => {
    other.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'GET', AuthorizationType: 'CUSTOM' });
  });

  test('lets API Gateway invoke the plusgate authorizer function', () => {
    other.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: 'arn:aws:lambda:eu-west-1:123456789012:function:plusgate-authorizer',
      Principal: 'apigateway.amazonaws.com',
    });
  });
});
