/**
 * The mutual TLS truststore in S3, where API Gateway reads it. The object key carries the SHA-256 of the
 * PEM (`truststore/<sha256>.pem`), so a changed truststore is a new key and CloudFormation updates the
 * domain; the domain also pins the object *version* written by this deployment, so overwriting the key
 * later can't change which CAs are trusted. Old truststores are kept, so a rollback still finds its own.
 *
 * The PEM (public CA certificates only; checked at synth) is written by one S3 PutObject call from a
 * CloudFormation custom resource: that answers the version id the domain needs, with nothing to bundle
 * and no asset upload, so the template synthesizes offline.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsCustomResource, type AwsSdkCall, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { TruststorePem } from './truststore-pem';
import { privateBucket } from './private-bucket';

/** Props of {@link MtlsTruststore}. */
export interface MtlsTruststoreProps {
  /** The checked truststore (see `readTruststore`). */
  readonly truststore: TruststorePem;
}

/** A versioned, encrypted, private, TLS-only bucket holding the truststore under a content-hashed key. */
export class MtlsTruststore extends Construct {
  public readonly bucket: Bucket;
  /** `truststore/<sha256>.pem` */
  public readonly key: string;
  /** S3 version id of the object this deployment wrote (a deploy-time token). */
  public readonly version: string;

  constructor(scope: Construct, id: string, props: MtlsTruststoreProps) {
    super(scope, id);
    this.key = `truststore/${props.truststore.sha256}.pem`;

    // The live domain reads from it: retained, versioned (privateBucket).
    this.bucket = privateBucket(this, 'Bucket', {
      noAccessLogsReason:
        'Holds only public CA certificates, written once per deployment by CloudFormation and read by API Gateway when the domain changes; a second bucket for access logs (itself unlogged) would add cost and no audit value.',
    });

    // The custom resource's function gets its own role and log group (one PutObject per truststore key, and
    // logs with a retention) instead of the default role with the managed AWSLambdaBasicExecutionRole.
    // AwsCustomResource runs every instance of a stack on one singleton function with the role of the first
    // instance, so the role and log group are made once per stack and every truststore adds its object.
    const { role, logGroup } = uploader(this);
    const put: AwsSdkCall = {
      service: 'S3',
      action: 'PutObject',
      parameters: {
        Bucket: this.bucket.bucketName,
        Key: this.key,
        Body: props.truststore.pem,
        ContentType: 'application/x-pem-file',
      },
      physicalResourceId: PhysicalResourceId.of(this.key),
      outputPaths: ['VersionId'],
    };
    // No onDelete: a replaced truststore stays in the bucket, so a rollback can still point at it.
    const upload = new AwsCustomResource(this, 'Upload', {
      resourceType: 'Custom::PlusgateTruststore',
      onCreate: put,
      onUpdate: put,
      role,
      logGroup,
      installLatestAwsSdk: false,
    });
    // Granted to the role the singleton function really runs with (the same shared role).
    upload.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(this.key)] }),
    );
    this.version = upload.getResponseField('VersionId');
  }
}

/** The stack's one truststore-upload role and log group, made by the first truststore that needs them. */
function uploader(scope: Construct): { role: Role; logGroup: LogGroup } {
  const stack = Stack.of(scope);
  const id = 'PlusgateTruststoreUploader';
  const existing = stack.node.tryFindChild(id) as Construct | undefined;
  if (existing) {
    return { role: existing.node.findChild('Role') as Role, logGroup: existing.node.findChild('Logs') as LogGroup };
  }
  const holder = new Construct(stack, id);
  const role = new Role(holder, 'Role', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: 'plusgate: writes the mTLS truststore objects',
  });
  const logGroup = new LogGroup(holder, 'Logs', {
    retention: RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  logGroup.grantWrite(role);
  return { role, logGroup };
}
