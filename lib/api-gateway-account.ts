/**
 * API Gateway's account-level CloudWatch role, which stage execution logging needs (one per account and
 * region). The API Gateway edge creates it (`cloudWatchRole: true` on its RestApi); without that edge (the
 * CloudFront edge) the service API and the door still log, so the stack creates the same two resources
 * itself, retained on delete like RestApi's, as other APIs in the account may rely on them.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The account-level CloudWatch role of API Gateway and the account setting that names it. */
export class ApiGatewayAccount extends Construct {
  public readonly role: Role;
  /** Add a dependency on it to every stage that logs. */
  public readonly account: CfnAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.role = new Role(this, 'CloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    this.role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.account = new CfnAccount(this, 'Account', { cloudWatchRoleArn: this.role.roleArn });
    this.account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "API Gateway's account-level logging role: AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy for it, and API Gateway names its execution log groups at run time, so it cannot be scoped to one log group.",
    });
  }
}
