/**
 * The optional AWS WAF web ACL on the edge stage (`wafRateLimitPer5Min`): absent by default; when set, one
 * REGIONAL web ACL with a per-IP rate-based rule answering 429, associated with the edge API's stage.
 */
import { App, Stack } from 'aws-cdk-lib';
import { LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { EdgeWaf } from '../../lib/edge-waf';
import { only } from '../support/only';
import { synthPlusgate } from './plusgate-fixture';

type Resources = Record<string, { Type: string; Properties: any }>;
const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('edge WAF', () => {
  test('there is no web ACL unless wafRateLimitPer5Min is set (or it is 0)', () => {
    for (const overrides of [{}, { wafRateLimitPer5Min: 0 }]) {
      const { template } = synthPlusgate(overrides);
      template.resourceCountIs('AWS::WAFv2::WebACL', 0);
      template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    }
  });

  describe('with wafRateLimitPer5Min', () => {
    const { template } = synthPlusgate({ wafRateLimitPer5Min: '500' });
    const resources = template.toJSON().Resources as Resources;
    const [aclId, acl] = only(ofType(resources, 'AWS::WAFv2::WebACL'), 'web ACL');

    test('one REGIONAL web ACL that allows by default and blocks per source IP above the limit over 5 minutes', () => {
      expect(acl.Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
      const [rule] = acl.Properties.Rules;
      expect(acl.Properties.Rules).toHaveLength(1);
      expect(rule.Statement).toEqual({
        RateBasedStatement: { Limit: 500, AggregateKeyType: 'IP', EvaluationWindowSec: 300 },
      });
    });

    test('a blocked request is answered 429 with Retry-After and a short text body', () => {
      const [rule] = acl.Properties.Rules;
      const response = rule.Action.Block.CustomResponse;
      expect(response).toMatchObject({
        ResponseCode: 429,
        ResponseHeaders: [{ Name: 'Retry-After', Value: '300' }],
      });
      expect(acl.Properties.CustomResponseBodies[response.CustomResponseBodyKey]).toMatchObject({
        ContentType: 'TEXT_PLAIN',
        Content: expect.stringMatching(/Too many requests/),
      });
    });

    test('the web ACL and its rule publish CloudWatch metrics and keep sampled requests', () => {
      const [rule] = acl.Properties.Rules;
      for (const visibility of [acl.Properties.VisibilityConfig, rule.VisibilityConfig]) {
        expect(visibility).toEqual({
          CloudWatchMetricsEnabled: true,
          SampledRequestsEnabled: true,
          MetricName: expect.stringMatching(/^Plusgate-Edge/),
        });
      }
    });

    test("it is associated with the edge API's stage (the one its custom domain maps), not the service API's", () => {
      const [, association] = only(ofType(resources, 'AWS::WAFv2::WebACLAssociation'), 'web ACL association');
      const [edgeApiId] = only(
        ofType(resources, 'AWS::ApiGateway::RestApi').filter(([id]) => id.startsWith('EdgeApi')),
        'edge RestApi',
      );
      const [edgeStageId] = only(
        ofType(resources, 'AWS::ApiGateway::Stage').filter(([id]) => id.startsWith('EdgeApi')),
        'edge Stage',
      );
      expect(association.Properties).toEqual({
        WebACLArn: { 'Fn::GetAtt': [aclId, 'Arn'] },
        ResourceArn: {
          'Fn::Join': [
            '',
            ['arn:aws:apigateway:eu-west-1::/restapis/', { Ref: edgeApiId }, '/stages/', { Ref: edgeStageId }],
          ],
        },
      });
    });
  });

  test('the construct refuses a limit AWS WAF would refuse at deploy time', () => {
    const stack = new Stack(new App(), 'Probe');
    const api = new RestApi(stack, 'Api');
    const fn = new LambdaFunction(stack, 'Fn', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler=async()=>({statusCode:200})'),
    });
    api.root.addMethod('GET', new LambdaIntegration(fn));
    for (const limit of [9, 2_000_000_001, 50.5]) {
      expect(() => new EdgeWaf(stack, `Waf${limit}`, { stage: api.deploymentStage, rateLimitPer5Min: limit })).toThrow(
        /rateLimitPer5Min: got .*; expected a whole number from 10 to 2000000000/,
      );
    }
  });
});
