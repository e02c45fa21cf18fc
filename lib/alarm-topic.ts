/** The SNS topic plusgate's alarms notify, when the deployment does not bring its own (alarmTopicArn). */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/**
 * The alarm topic, made in `scope` (IDs `TopicKey` and `Topic`): encrypted with a key CloudWatch may use,
 * TLS only, publishable by this account's alarms.
 */
export function createAlarmTopic(scope: Construct): { topic: Topic; key: Key } {
  const stack = Stack.of(scope);
  // Not the AWS-managed aws/sns key: its policy cannot let CloudWatch encrypt, so alarms could not publish.
  const key = new Key(scope, 'TopicKey', {
    description: 'plusgate: encrypts the alarm topic',
    enableKeyRotation: true,
    // It protects notifications in transit only: nothing is left to decrypt once the stack is gone.
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  });
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: 'CloudWatchAlarmsPublishToTheTopic',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }),
  );
  const topic = new Topic(scope, 'Topic', {
    displayName: 'plusgate alarms',
    masterKey: key,
    enforceSSL: true,
  });
  // A topic policy replaces SNS's default one: say that this account's alarms may publish.
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: 'CloudWatchAlarmsOfThisAccount',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
      },
    }),
  );
  return { topic, key };
}
