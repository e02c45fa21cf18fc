/**
 * The service API (IAM only), the verify and authorizer functions' least privilege, and the authorizer
 * construct another stack attaches.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { ENV, SERVICE_ROUTES } from '../../functions/config/names';
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

describe('service API', () => {
  test('every method requires IAM (SigV4) authorization', () => {
    const methods = serviceOfType('AWS::ApiGateway::Method');
    expect(methods.map(([, m]) => m.Properties.HttpMethod).sort()).toEqual(['GET', 'GET', 'POST']);
    for (const [, m] of methods) expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  test('serves /verify through the verify function and /report through the report function', () => {
    const resourcePath = (id: string) => `/${resource(id).Properties.PathPart}`;
    const routes = serviceOfType('AWS::ApiGateway::Method').map(([, m]) => ({
      route: `${m.Properties.HttpMethod} ${resourcePath(m.Properties.ResourceId.Ref)}`,
      uri: JSON.stringify(m.Properties.Integration.Uri),
    }));
    expect(routes.map((r) => r.route).sort()).toEqual([
      `GET ${SERVICE_ROUTES.REPORT}`,
      `GET ${SERVICE_ROUTES.VERIFY}`,
      `POST ${SERVICE_ROUTES.VERIFY}`,
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
