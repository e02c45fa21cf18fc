/**
 * The plusgate Lambda REQUEST authorizer, for other mutual-TLS REST APIs: the same decision, cache and
 * billing records as the edge flow. The plusgate stack deploys the function and outputs its ARN; another
 * stack in the same account and region attaches it with `new PlusgateAuthorizer(this, id, { functionArn })`
 * (see README, "Guard another API"). Depends on aws-cdk-lib only: copy this file into that CDK app.
 */
import { Duration } from 'aws-cdk-lib';
import { RequestAuthorizer } from 'aws-cdk-lib/aws-apigateway';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** Props of {@link PlusgateAuthorizer}. */
export interface PlusgateAuthorizerProps {
  /** ARN of the plusgate authorizer function (stack output `AuthorizerFunctionArn`). */
  readonly functionArn: string;
  /** Name shown in the API Gateway console. @default 'plusgate' */
  readonly authorizerName?: string;
}

/** A REQUEST authorizer backed by the plusgate authorizer function. */
export class PlusgateAuthorizer extends Construct {
  /** Pass to `addMethod(..., { authorizer })`. */
  public readonly authorizer: RequestAuthorizer;

  constructor(scope: Construct, id: string, props: PlusgateAuthorizerProps) {
    super(scope, id);
    // sameEnvironment: lets API Gateway's invoke permission be added to the imported function.
    const handler = LambdaFunction.fromFunctionAttributes(this, 'Function', {
      functionArn: props.functionArn,
      sameEnvironment: true,
    });
    this.authorizer = new RequestAuthorizer(this, 'Authorizer', {
      handler,
      authorizerName: props.authorizerName ?? 'plusgate',
      // API Gateway cannot key its cache on the client certificate: any cached Allow would be served to
      // every certificate with the same identity sources. plusgate caches per serial itself.
      identitySources: [],
      resultsCacheTtl: Duration.seconds(0),
    });
  }
}
